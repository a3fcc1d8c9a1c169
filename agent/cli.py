"""The ``cedoka`` command line: the village agent's entry point.

Commands: ``selftest``, ``enroll``, ``run``, ``kiosk``, ``demo``, ``status``, ``release``,
``printers``, ``operator``, ``update`` (:mod:`agent.update_cli`) and ``doctor``. The work is
done by :mod:`agent.commands`
(over :mod:`agent.enrolment` and :class:`agent.app.Agent`) and :mod:`agent.doctor`; ``run``,
``kiosk`` and ``demo`` belong to the top layer (:mod:`ui.cli`). This module parses arguments
and prints. It never prints a resident's name. The command line sits above the agent: it
imports :mod:`agent.app`, never the reverse (``tests/test_architecture.py`` forbids cycles);
the home's layout is :mod:`agent.home`'s.

Every argument is checked while parsing (:mod:`agent.cli_args`), before a command acts.

Exit status: 0 success, 1 refused or failed (the message says why; for ``doctor``: a check
failed), 2 usage error (a bad argument: one line says which and why), 3 this kiosk was
revoked (re-enrol needed), 4 a configured printer's driver is not installed (the printers
extra: ``printers``), 5 (``release``) the job is released but not printed yet: the printer is
on another job or not ready, and the service prints it when the printer can (the message says
which job holds it and why), 6 another ``demo`` is running in the demo's directory, 8
(``update``) a release is ready but waits for the printer (a job is released or printing).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from agent import cli_args, update_cli
from agent.commands import EXIT_FAILED, EXIT_OK, PROG, run_command
from agent.home import DEFAULT_HOME, HOME_ENV
from cedoka_io.version import package_version

__all__ = [
    "DEFAULT_HOME", "EXIT_FAILED", "EXIT_OK", "HOME_ENV", "PROG", "build_parser", "main",
    "package_version",
]  # fmt: skip


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
    enroll.add_argument("--server", required=True, metavar="URL", type=cli_args.server_url,
                        help="district server URL")  # fmt: skip
    enroll.add_argument("--code", required=True, type=cli_args.enrol_code,
                        help="the one-time enrolment code")  # fmt: skip
    enroll.add_argument(
        "--printer", action="append", default=[], metavar="ROLE=URI",
        type=cli_args.printer_choice,
        help="a4=cups:QUEUE | a4=virtual:/dir | receipt=escpos:tcp://HOST:PORT … (repeatable)",
    )  # fmt: skip
    enroll.add_argument("--ca", metavar="FILE", type=cli_args.readable_file,
                        help="CA bundle for the server's TLS certificate")  # fmt: skip
    commands.add_parser("run", help="run the agent service: fetch, verify, spool and print jobs")
    status = commands.add_parser("status", help="jobs by state, printers, link and trust state")
    status.add_argument("--json", action="store_true")
    printers = commands.add_parser("printers", help="the printer roles, backends and health")
    printers.add_argument("--json", action="store_true")
    release = commands.add_parser("release", help="release and print the job(s) of a claim code")
    release.add_argument("--claim", required=True, metavar="CODE", type=cli_args.claim_code)
    release.add_argument(
        "--operator",
        default="cli",
        metavar="ID",
        type=cli_args.event_operator,
        help="staff id recorded in the events (letters, digits, . _ -; an id, not a name)",
    )
    release.add_argument(
        "--handed-over", action="store_true",
        help="staff checked the paper and gave it to the resident: record the hand-over and "
        "delete the documents (without it the job stays 'printed' for the kiosk screen)",
    )  # fmt: skip
    release.add_argument("--json", action="store_true")
    kiosk = commands.add_parser("kiosk", help="open the touch kiosk window on `run`'s screens")
    kiosk.add_argument(
        "--wait", type=cli_args.wait_seconds, default=60.0, metavar="S",
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
    op_add.add_argument("operator_id", type=cli_args.operator_id,
                        help="a short id: a-z 0-9 . _ - (e.g. siti)")  # fmt: skip
    op_add.add_argument("--name", required=True, type=cli_args.display_name,
                        help='the name on the screen, e.g. "Siti Aminah"')  # fmt: skip
    op_add.add_argument("--supervisor", action="store_true", help="may change the settings")
    op_pin = operator_commands.add_parser("set-pin", help="give an operator a new PIN")
    op_pin.add_argument("operator_id", type=cli_args.operator_id)
    for with_pin in (op_add, op_pin):
        with_pin.add_argument("--pin-stdin", action="store_true",
                              help="read the PIN from standard input (for scripts)")  # fmt: skip
    operator_commands.add_parser("remove", help="remove an operator").add_argument(
        "operator_id", type=cli_args.operator_id
    )
    operator_commands.add_parser("list", help="list the operators").add_argument(
        "--json", action="store_true"
    )
    update_cli.add_command(commands)
    doctor = commands.add_parser(
        "doctor", help="check this kiosk (server, clock, keys, trust, disk, printers, CUPS, "
        "permissions) and explain, in Indonesian and English, what is wrong",
    )  # fmt: skip
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument(
        "--cupsd-conf", type=Path, default=Path("/etc/cups/cupsd.conf"), metavar="FILE",
        help="the CUPS server configuration to check (default /etc/cups/cupsd.conf)",
    )  # fmt: skip
    demo = commands.add_parser(
        "demo", help="run a district server, an enrolled agent and the kiosk on this machine, "
        "with sample documents (fake data); Ctrl-C stops everything",
    )  # fmt: skip
    demo.add_argument(
        "--dir", type=Path, metavar="DIR",
        help="where the demo keeps its state, wiped at each start; refused (exit status 6) "
        "while another demo runs in it "
        "(default: $XDG_STATE_HOME/cedoka-demo, else ~/.local/state/cedoka-demo)",
    )  # fmt: skip
    demo.add_argument(
        "--printer", action="append", default=[], metavar="ROLE=URI",
        type=cli_args.printer_choice,
        help="e.g. a4=cups:QUEUE to print on a real CUPS queue (default: virtual printers "
        "that write into DIR/printed)",
    )  # fmt: skip
    demo.add_argument(
        "--no-window", action="store_true",
        help="open no kiosk window: print the screen's URL for a browser",
    )  # fmt: skip
    return parser


def run_selftest() -> int:
    """Run ``kiosk.selftest`` and print one line per check; 0 if all passed, else 1."""
    from kiosk.selftest import selftest_report

    lines, ok = selftest_report()
    print(*lines, sep="\n")
    return EXIT_OK if ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Run the ``cedoka`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command == "selftest":
        return run_selftest()
    if command == "update":
        return update_cli.run_update(args)
    if command == "doctor":
        from agent.doctor import run_doctor

        return run_doctor(args)
    return run_command(command, args)


if __name__ == "__main__":
    sys.exit(main())
