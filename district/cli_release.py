"""``cedoka-district release …``: the agent releases in the district's TUF repository
(:mod:`district.releases`, ADR 0031).

``build`` makes a release archive from this project's source (``pip wheel``) or a wheelhouse,
checked to install on its own (:mod:`district.release_build`); ``archive`` packs a folder of
wheels as a release archive; ``init`` creates the repository
(root signed by the district root key); ``publish`` adds a release archive at stage 0 %;
``promote`` widens who may take it (a percentage of the kiosks, chosen offices); ``list``
shows the releases, their stages and how many kiosks run each; ``refresh`` re-signs the
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
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from district.releases import Release, ReleaseRepo, write_archive
from district.remote import RemoteDistrict
from kiosk.errors import CedokaError, OperatorError
from kiosk.rollout import BUCKETS, Stage, parse_version

WITHOUT_HOME = frozenset({"build", "archive"})  # they only write --out: no district needed
REMOTE = frozenset({"list", "promote"})  # also through the admin API (--server URL)


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
    build = actions.add_parser(
        "build", help="build a release archive from the project's source (pip wheel) or a "
        "wheelhouse, checked to install from its wheels alone",
    )  # fmt: skip
    build.add_argument("--from", dest="source", type=Path, metavar="SRC_DIR",
                       help="the project's source (pip wheel 'SRC_DIR[extras]'; the "
                       "dependencies from pip's index, or from --wheels DIR offline)")  # fmt: skip
    build.add_argument("--wheels", type=Path, metavar="DIR",
                       help="a wheelhouse: with --from, every dependency (offline); alone, "
                       "every wheel of the release, cedoka-V's included")  # fmt: skip
    build.add_argument("--version", type=_version, metavar="V",
                       help="the release version (default: the cedoka wheel's)")  # fmt: skip
    build.add_argument("--extras", default="printers,ui,window", metavar="LIST",
                       help="the extras a kiosk installs (default: those three)")  # fmt: skip
    build.add_argument("--python", type=Path, metavar="PATH",
                       help="the interpreter whose pip builds and checks (default: this one; "
                       "it must be the kiosks' Python for compiled wheels)")  # fmt: skip
    build.add_argument("--out", required=True, type=Path, metavar="FILE")
    archive = actions.add_parser("archive", help="pack a folder of wheels as a release archive")
    archive.add_argument("--version", required=True, type=_version, metavar="V")
    archive.add_argument("--wheels", required=True, type=Path, metavar="DIR",
                         help="every wheel the release needs, cedoka-V's included (e.g. from "
                         "pip wheel '.[printers,ui,window]' -w DIR)")  # fmt: skip
    archive.add_argument("--extras", default="printers,ui,window", metavar="LIST",
                         help="the extras a kiosk installs (default: those three)")  # fmt: skip
    archive.add_argument("--out", required=True, type=Path, metavar="FILE")
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


def _kiosks_by_version(devices: Callable[[], list[dict[str, Any]]]) -> dict[str, int] | None:
    """How many kiosks (not revoked) last reported each agent version (``cedoka/<V>`` in
    their heartbeats); None where there is no district database (a signing machine)."""
    try:
        listed = devices()
    except CedokaError:
        return None
    counts: dict[str, int] = {}
    for device in listed:
        agent = device.get("agent") or ""
        if device.get("revoked_s") is None and agent.startswith("cedoka/"):
            version = agent.removeprefix("cedoka/")
            counts[version] = counts.get(version, 0) + 1
    return counts


def run(args: argparse.Namespace, home: Path,
        devices: Callable[[], list[dict[str, Any]]] = list) -> None:  # fmt: skip
    """Run one ``release`` action on the district home ``home`` (``devices``: the district's
    kiosks, for ``list``)."""
    repo = ReleaseRepo.of_home(home, args.keys)
    now_s = int(time.time())
    action: str = args.action
    if action == "archive":
        _archive(args)
    elif action == "build":
        from district.release_build import build, parse_extras

        built = build(out=args.out, source=args.source, wheels=args.wheels,
                      version=args.version, extras=parse_extras(args.extras),
                      python=args.python)  # fmt: skip
        print(f"{built.out}: release {built.version}, {built.wheels} wheels, extras "
              f"{','.join(built.extras) or '-'}; checked: they install cedoka=={built.version} "
              "on their own. Next: cedoka-district release publish")  # fmt: skip
    elif action == "init":
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
        _list(repo.releases(), args.json, _kiosks_by_version(devices))
    elif action == "refresh":
        signed = repo.refresh(now_s=now_s)
        print("snapshot/timestamp re-signed" if signed else "nothing due")
    else:  # pragma: no cover - argparse allows no other
        raise AssertionError(action)


def run_remote(args: argparse.Namespace, remote: RemoteDistrict) -> None:
    """``release list|promote`` through the admin API (``--server URL``): the same output as
    on the server host; promote signs on the server, so it needs the targets key there."""
    if args.keys is not None:
        raise OperatorError("--keys is for the machine that holds the keys, not with --server")
    if args.action == "promote":
        if args.percent is None and not args.office:
            raise OperatorError("promote: give --percent N and/or --office CODE …")
        done = remote.promote(args.version, percent=args.percent, offices=args.office)
        stage = Stage(done["percent"], tuple(done["offices"]))
        print(f"{done['version']}: stage {stage.describe()}")
        return
    listed = remote.releases()
    releases = [Release(r["version"], Stage(r["percent"], tuple(r["offices"])), r["length"],
                        r["sha256"]) for r in reversed(listed["releases"])]  # fmt: skip
    _list(releases, args.json, {v["version"]: v["kiosks"] for v in listed["versions"]})


def _list(releases: list[Release], as_json: bool, kiosks: dict[str, int] | None) -> None:
    """The releases, their stages, and how many kiosks run each (``-``: not known here)."""
    if as_json:
        print(json.dumps([{"version": r.version, "percent": r.stage.percent,
                           "offices": list(r.stage.offices), "length": r.length,
                           "sha256": r.sha256,
                           "kiosks": None if kiosks is None else kiosks.get(r.version, 0)}
                          for r in releases], indent=2))  # fmt: skip
        return
    if not releases:
        print("(none)")
    for r in releases:
        running = "-" if kiosks is None else str(kiosks.get(r.version, 0))
        print(f"{r.version:<12} {r.stage.describe():<30} kiosks {running:<5} "
              f"{r.length} bytes  sha256 {r.sha256[:16]}…")  # fmt: skip
    if kiosks:
        others = {v: n for v, n in kiosks.items() if v not in {r.version for r in releases}}
        if others:
            print("kiosks on other versions: "
                  + ", ".join(f"{v}: {n}" for v, n in sorted(others.items())))  # fmt: skip


def _archive(args: argparse.Namespace) -> None:
    """``release archive``: ``release.json`` + ``wheels/``, checked to hold cedoka-V."""
    version: str = args.version
    wheels = sorted(args.wheels.glob("*.whl")) if args.wheels.is_dir() else []
    if not any(w.name.startswith(f"cedoka-{version}-") for w in wheels):
        raise OperatorError(f"{args.wheels} holds no cedoka-{version}-*.whl")
    extras = [e for e in args.extras.split(",") if e]
    if not all(re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", e) for e in extras):
        raise OperatorError(f"--extras {args.extras!r}: names such as printers,ui,window")
    if args.out.exists():
        raise OperatorError(f"{args.out} exists already")
    write_archive(args.out, version, wheels, extras)
    print(f"{args.out}: release {version}, {len(wheels)} wheels, extras {','.join(extras)}")
