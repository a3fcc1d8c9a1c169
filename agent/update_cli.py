"""``cedoka update [--check | --rollback]``: the signed self-update from the command line
(ADR 0031).

One line of output, in Bahasa Indonesia and English. Exit status: 0 up to date, updated or
rolled back as asked, 1 refused or failed (TUF refused the metadata, the release failed its
checks, the district cannot be reached, the new release was rolled back), 8 an update (or a
rollback) is ready but waits for the printer (a job is released or printing: try again
later; nothing was switched), 9 ``--rollback`` with no previous release to go back to.

Every attempt about a release — installed, waiting, failed, rolled back (by itself or by
``--rollback``), its archive refused — is recorded in ``<home>/update/last.json``
(:mod:`agent.update_status`), which the agent's heartbeats carry to the district (protocol
§12, §20.5); ``--check``, an unreachable district and metadata TUF refuses (no release is
named then) are not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cedoka_io.version import package_version
from kiosk.errors import CedokaError, TransportError

if TYPE_CHECKING:
    from agent.update import Releases

PROG = "cedoka update"
EXIT_OK, EXIT_FAILED, EXIT_WAITING, EXIT_NO_PREVIOUS = 0, 1, 8, 9


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    update = commands.add_parser(
        "update", help="update this kiosk from the district's signed releases (TUF); "
        "never while a job prints",
    )  # fmt: skip
    what = update.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true",
                      help="only say whether a release is waiting for this kiosk")  # fmt: skip
    what.add_argument("--rollback", action="store_true",
                      help="switch back to the previous release (as an update: never while a "
                      "job prints; exit 9 when there is none)")  # fmt: skip
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
        from agent import update
    except ImportError as error:  # python-tuf comes with the ui extra
        return _fail(f"error: {error.name or error} is not installed: the self-update needs "
                     "the ui extra (pip install 'cedoka[ui]')")  # fmt: skip
    production = args.root == Path("/")
    restart = update.restart_command(update.DEFAULT_RESTART) if production else None
    if args.rollback:
        return _rollback(args, update.Releases(args.root), restart)

    current = package_version()
    try:
        source = update.ReleaseSource(args.home)
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
        outcome = update.apply(args.home, archive, version,
                               installer=update.Installer(update.Releases(args.root)),
                               restart=restart)  # fmt: skip
    except update.UpdateWaitingError as error:
        return _fail(f"menunggu printer / waiting for the printer: {error}", EXIT_WAITING)
    except TransportError as error:
        return _fail(f"error: cannot reach the district server ({error}); try again later")
    except update.UpdateRefusedError as error:  # an archive refused is recorded already
        return _fail(f"error: {error}")
    except update.ReleaseFailedError as error:
        return _fail(f"gagal / failed: {error}")
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


def _rollback(args: argparse.Namespace, releases: Releases,
              restart: Callable[[], None] | None) -> int:  # fmt: skip
    """``--rollback``: back to ``previous``; recorded as the release left, rolled back by
    the operator."""
    from agent import update

    try:
        outcome = update.roll_back_to_previous(args.home, releases, restart=restart)
    except update.NoPreviousReleaseError as error:
        return _fail(f"tidak ada versi sebelumnya / no previous release: {error}",
                     EXIT_NO_PREVIOUS)  # fmt: skip
    except update.UpdateWaitingError as error:
        return _fail(f"menunggu printer / waiting for the printer: {error}", EXIT_WAITING)
    except CedokaError as error:
        return _fail(f"error: {error}")
    except OSError as error:
        return _fail(f"error: {args.root}: {error}")
    if outcome.result == "unhealthy":
        return _fail(f"gagal / failed: {outcome.detail}")
    where = "" if outcome.result == "rolled_back" else f" under {args.root}; service not restarted"
    print(f"dikembalikan / rolled back: now {outcome.version} ({outcome.release}){where}")
    return EXIT_OK
