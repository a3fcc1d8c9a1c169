"""The ``cedoka`` command line: the village agent's entry point.

``selftest``, ``enroll``, ``run``, ``kiosk``, ``status``, ``release``, ``printers`` and
``operator`` work; ``doctor`` and ``demo`` arrive with their issues (each says so and exits
with status 2).
The work is done by :mod:`agent.enrolment` and :class:`agent.app.Agent`; this module parses
arguments and prints. It never prints a resident's name.

Exit status: 0 success, 1 refused or failed (the message says why), 2 usage error or
command not available yet, 3 this kiosk was revoked (re-enrol needed).
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
    "doctor": "check this installation and explain what is wrong",
    "demo": "run a district server, an agent and the kiosk with sample documents",
}
# The component that brings each of them.
LATER_FROM: dict[str, str] = {
    "doctor": "install and operate", "demo": "install and operate",
}  # fmt: skip


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
    enroll = commands.add_parser("enroll", help="enrol this PC with the district (one-time code)")
    enroll.add_argument("--server", required=True, metavar="URL", help="district server URL")
    enroll.add_argument("--code", required=True, help="the one-time enrolment code")
    enroll.add_argument(
        "--printer", action="append", default=[], metavar="ROLE=URI",
        help="a4=cups:QUEUE | a4=virtual:/dir | receipt=escpos:tcp://HOST:PORT … (repeatable)",
    )  # fmt: skip
    enroll.add_argument("--ca", metavar="FILE", help="CA bundle for the server's TLS certificate")
    commands.add_parser("run", help="run the agent service: fetch, verify, spool and print jobs")
    status = commands.add_parser("status", help="jobs by state, printers, link and trust state")
    status.add_argument("--json", action="store_true")
    printers = commands.add_parser("printers", help="the printer roles, backends and health")
    printers.add_argument("--json", action="store_true")
    release = commands.add_parser("release", help="release and print the job(s) of a claim code")
    release.add_argument("--claim", required=True, metavar="CODE")
    release.add_argument(
        "--operator",
        default="cli",
        metavar="NAME",
        help="staff id recorded in the events (letters, digits, . _ -)",
    )
    release.add_argument(
        "--handed-over", action="store_true",
        help="staff checked the paper and gave it to the resident: record the hand-over and "
        "delete the documents (without it the job stays 'printed' for the kiosk screen)",
    )  # fmt: skip
    release.add_argument("--json", action="store_true")
    kiosk = commands.add_parser("kiosk", help="open the touch kiosk window on `run`'s screens")
    kiosk.add_argument(
        "--wait", type=float, default=60.0, metavar="S",
        help="wait up to S seconds for `run` to write the window's URL (default 60)",
    )  # fmt: skip
    kiosk_mode = kiosk.add_mutually_exclusive_group()
    kiosk_mode.add_argument(
        "--windowed", action="store_true", help="a 1280x800 window, not fullscreen (development)"
    )
    kiosk_mode.add_argument(
        "--browser", action="store_true",
        help="open no window: print the URL (with its secret) for a browser, and exit",
    )  # fmt: skip
    operator = commands.add_parser("operator", help="the village staff who may use the kiosk")
    operator_commands = operator.add_subparsers(dest="action", metavar="ACTION", required=True)
    op_add = operator_commands.add_parser("add", help="add an operator (asks for the PIN)")
    op_add.add_argument("operator_id", help="a short id: a-z 0-9 . _ - (e.g. siti)")
    op_add.add_argument("--name", required=True, help='the name on the screen, e.g. "Siti Aminah"')
    op_add.add_argument("--supervisor", action="store_true", help="may change the settings")
    op_pin = operator_commands.add_parser("set-pin", help="give an operator a new PIN")
    op_pin.add_argument("operator_id")
    for with_pin in (op_add, op_pin):
        with_pin.add_argument("--pin-stdin", action="store_true",
                              help="read the PIN from standard input (for scripts)")  # fmt: skip
    operator_commands.add_parser("remove", help="remove an operator").add_argument("operator_id")
    operator_commands.add_parser("list", help="list the operators").add_argument(
        "--json", action="store_true"
    )
    for name, summary in LATER_COMMANDS.items():
        commands.add_parser(name, help=f"(not available yet) {summary}")
    return parser


def run_selftest() -> int:
    """Run ``kiosk.selftest`` and print one line per check; 0 if all passed, else 1."""
    from kiosk.selftest import selftest_report

    lines, ok = selftest_report()
    print(*lines, sep="\n")
    return EXIT_OK if ok else EXIT_FAILED


def not_available_yet(command: str) -> int:
    """Explain on stderr that ``command`` is not part of this release; return 2."""
    print(
        f"{PROG} {command}: not available yet in {package_version()} — "
        f"arrives with {LATER_FROM[command]} (see README, 'Status')",
        file=sys.stderr,
    )
    return EXIT_NOT_AVAILABLE


def main(argv: list[str] | None = None) -> int:
    """Run the ``cedoka`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command == "selftest":
        return run_selftest()
    if command in LATER_COMMANDS:
        return not_available_yet(command)
    from agent.commands import run_command

    return run_command(command, args)


if __name__ == "__main__":
    sys.exit(main())
