"""``cedoka update [--check]``: the signed self-update from the command line (ADR 0031).

One line of output, in Bahasa Indonesia and English. Exit status: 0 up to date or updated,
1 refused or failed (TUF refused the metadata, the release failed its checks, the district
cannot be reached, the new release was rolled back), 8 an update is ready but waits for the
printer (a job is released or printing: try again later; nothing was switched).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cedoka_io.version import package_version
from kiosk.errors import CedokaError, TransportError

PROG = "cedoka update"
EXIT_OK, EXIT_FAILED, EXIT_WAITING = 0, 1, 8


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    update = commands.add_parser(
        "update", help="update this kiosk from the district's signed releases (TUF); "
        "never while a job prints",
    )  # fmt: skip
    update.add_argument("--check", action="store_true",
                        help="only say whether a release is waiting for this kiosk")  # fmt: skip
    update.add_argument(
        "--root", type=Path, default=Path("/"), metavar="DIR",
        help="the install prefix: DIR/opt/cedoka (default /); under another DIR the service "
        "is not restarted (tests, a staging copy)",
    )  # fmt: skip


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def run_update(args: argparse.Namespace) -> int:
    """The ``update`` command (python-tuf is imported here, not by every ``cedoka`` run)."""
    try:
        from agent.update import (
            DEFAULT_RESTART,
            Installer,
            Releases,
            ReleaseSource,
            UpdateWaitingError,
            apply,
            restart_command,
        )
    except ImportError as error:  # python-tuf comes with the ui extra
        return _fail(f"error: {error.name or error} is not installed: the self-update needs "
                     "the ui extra (pip install 'cedoka[ui]')")  # fmt: skip

    current = package_version()
    try:
        source = ReleaseSource(args.home)
    except CedokaError as error:
        return _fail(f"error: {error}")
    try:
        found = source.check(current)
        if found.offer is None:
            note = (
                ""
                if found.newest_published in {None, current}
                else (f"; {found.newest_published} is published, not for this kiosk yet")
            )
            print(f"sudah terbaru / up to date: {current}{note}")
            return EXIT_OK
        version = found.offer.version
        if args.check:
            print(f"pembaruan tersedia / update available: {version} (this kiosk: {current})")
            return EXIT_OK
        archive = source.download(found.offer)
        production = args.root == Path("/")
        restart = restart_command(DEFAULT_RESTART) if production else None
        outcome = apply(args.home, archive, version,
                        installer=Installer(Releases(args.root)), restart=restart)  # fmt: skip
    except UpdateWaitingError as error:
        return _fail(f"menunggu printer / waiting for the printer: {error}", EXIT_WAITING)
    except TransportError as error:
        return _fail(f"error: cannot reach the district server ({error}); try again later")
    except CedokaError as error:
        return _fail(f"error: {error}")
    finally:
        source.close()
    if outcome.result == "updated":
        print(f"diperbarui / updated: {current} → {version} ({outcome.release})")
        return EXIT_OK
    if outcome.result == "switched":
        print(f"dipasang / installed: {version} ({outcome.release}) under {args.root}; "
              "service not restarted")  # fmt: skip
        return EXIT_OK
    return _fail(f"dikembalikan / rolled back: {outcome.detail}")
