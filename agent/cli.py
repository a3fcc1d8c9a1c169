"""The ``cedoka`` command line: the village agent's entry point.

In 0.1.0 only ``selftest`` works. The other commands are listed so that ``--help`` shows
what is coming; each says it is not available yet and exits with status 2.

Exit status: 0 success, 1 a check failed, 2 usage error or command not available yet.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from pathlib import Path

PROG = "cedoka"
HOME_ENV = "CEDOKA_HOME"
DEFAULT_HOME = Path("/var/lib/cedoka")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_AVAILABLE = 2

# Commands that arrive with the village agent; until then they only explain that.
LATER_COMMANDS: dict[str, str] = {
    "enroll": "enrol this office with the district using a one-time enrolment code",
    "run": "run the agent service: fetch, verify, spool and print jobs",
    "status": "show the agent's state and the jobs in the spool",
    "release": "release a held job for printing with the resident's claim code",
    "printers": "list the configured printers and their state",
    "kiosk": "open the touch kiosk window",
    "doctor": "check this installation and explain what is wrong",
    "demo": "run a district server, an agent and the kiosk with sample documents",
}


def package_version() -> str:
    """Return the installed version of the ``cedoka`` distribution."""
    try:
        return metadata.version("cedoka")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; ``--home`` defaults to $CEDOKA_HOME, else /var/lib/cedoka."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Cedoka village agent: fetches, verifies and prints district documents.",
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        type=Path,
        default=Path(os.environ.get(HOME_ENV) or DEFAULT_HOME),
        help=f"state directory (default: ${HOME_ENV}, else {DEFAULT_HOME})",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("selftest", help="run the known-answer tests of the crypto and wire stack")
    for name, summary in LATER_COMMANDS.items():
        commands.add_parser(name, help=f"(not available yet) {summary}")
    return parser


def run_selftest() -> int:
    """Run ``kiosk.selftest`` and print one line per check; 0 if all passed, else 1."""
    from kiosk.errors import SelfTestError
    from kiosk.selftest import run_selftest as run_checks

    try:
        results = list(run_checks())
    except SelfTestError as exc:
        print(f"FAIL selftest: {exc}")
        return EXIT_FAILED
    for name, ok in results:
        print(f"{'ok' if ok else 'FAIL':<4} {name}")
    if not results:
        print("FAIL selftest ran no checks")
        return EXIT_FAILED
    return EXIT_OK if all(ok for _, ok in results) else EXIT_FAILED


def not_available_yet(command: str) -> int:
    """Explain on stderr that ``command`` is not part of this release; return 2."""
    print(
        f"{PROG} {command}: not available yet in {package_version()} — "
        "arrives with the village agent (see README, 'Status')",
        file=sys.stderr,
    )
    return EXIT_NOT_AVAILABLE


def main(argv: list[str] | None = None) -> int:
    """Run the ``cedoka`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command == "selftest":
        return run_selftest()
    return not_available_yet(command)


if __name__ == "__main__":
    sys.exit(main())
