"""``cedoka-district release …``: the agent releases in the district's TUF repository
(:mod:`district.releases`, ADR 0031).

``init`` creates the repository (root signed by the district root key); ``publish`` adds a
release archive at stage 0 %; ``promote`` widens who may take it (a percentage of the kiosks,
chosen offices); ``list`` shows the releases and their stages; ``refresh`` re-signs the
snapshot and timestamp when due (the server does it by itself when kiosks ask).

``--keys DIR`` names a directory that holds the offline keys (``root.pem``,
``tuf-targets.pem``: a USB stick on a signing machine); it is searched before
``<home>/keys``. Where the snapshot and timestamp keys are missing (a signing machine),
``publish``/``promote`` sign the targets only: copy ``<home>/tuf`` to the server (the new
``N.targets.json`` and the archive), where the next ``refresh`` or kiosk check signs the rest.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from district.releases import ReleaseRepo
from kiosk.errors import OperatorError
from kiosk.rollout import BUCKETS, parse_version


def _version(text: str) -> str:
    try:
        parse_version(text)
    except OperatorError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _percent(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= BUCKETS:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole percentage, 0 to {BUCKETS}")
    return int(text)


def add_commands(commands: Any) -> None:
    """Add ``release`` to the ``cedoka-district`` subcommands."""
    release = commands.add_parser("release", help="agent releases for the kiosks' self-update "
                                  "(a TUF repository served at /tuf/)")  # fmt: skip
    release.add_argument(
        "--keys", type=Path, metavar="DIR",
        help="a directory with the offline keys (root.pem, tuf-targets.pem), searched before "
        "<home>/keys",
    )  # fmt: skip
    actions = release.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("init", help="create the repository (root signed by the district root)")
    publish = actions.add_parser("publish", help="add a release archive (stage 0%%: nobody "
                                 "takes it before 'promote')")  # fmt: skip
    publish.add_argument("archive", type=Path, metavar="ARCHIVE",
                         help="cedoka-<V>.tar.gz: release.json and wheels/")  # fmt: skip
    publish.add_argument("--version", required=True, type=_version, metavar="V")
    promote = actions.add_parser("promote", help="let more kiosks take a release")
    promote.add_argument("version", type=_version, metavar="V")
    promote.add_argument("--percent", type=_percent, metavar="N",
                         help="this share of the kiosks (the same first)")  # fmt: skip
    promote.add_argument("--office", nargs="+", default=[], metavar="CODE",
                         help="these offices' kiosks")  # fmt: skip
    listing = actions.add_parser("list", help="the releases and who may take them")
    listing.add_argument("--json", action="store_true", help="print JSON on stdout")
    actions.add_parser("refresh", help="re-sign snapshot and timestamp when due")


def run(args: argparse.Namespace, home: Path) -> None:
    """Run one ``release`` action on the district home ``home``."""
    repo = ReleaseRepo.of_home(home, args.keys)
    now_s = int(time.time())
    action: str = args.action
    if action == "init":
        keyid = repo.init(now_s=now_s)
        print(f"release repository created in {repo.dir} (root key {keyid[:16]}…)")
    elif action == "publish":
        if not repo.exists():
            raise OperatorError("no release repository yet: run 'cedoka-district release init'")
        done = repo.publish(args.archive, args.version, now_s=now_s)
        print(f"published {done.version} ({done.length} bytes), stage {done.stage.describe()}: "
              f"promote it to roll it out")  # fmt: skip
    elif action == "promote":
        if args.percent is None and not args.office:
            raise OperatorError("promote: give --percent N and/or --office CODE …")
        done = repo.promote(args.version, now_s=now_s, percent=args.percent,
                            offices=tuple(args.office))  # fmt: skip
        print(f"{done.version}: stage {done.stage.describe()}")
    elif action == "list":
        releases = repo.releases()
        if args.json:
            print(json.dumps([{"version": r.version, "percent": r.stage.percent,
                               "offices": list(r.stage.offices), "length": r.length,
                               "sha256": r.sha256} for r in releases], indent=2))  # fmt: skip
        elif not releases:
            print("(none)")
        for r in [] if args.json else releases:
            print(f"{r.version:<12} {r.stage.describe():<30} {r.length} bytes  "
                  f"sha256 {r.sha256[:16]}…")  # fmt: skip
    elif action == "refresh":
        signed = repo.refresh(now_s=now_s)
        print("snapshot/timestamp re-signed" if signed else "nothing due")
    else:  # pragma: no cover - argparse allows no other
        raise AssertionError(action)
