"""The ``cedoka-district`` command line: district IT's tool and the reference server.

Every command but ``selftest`` and ``samples`` works on a district home (``--home DIR``, else
$CEDOKA_DISTRICT_HOME), whose data is in SQLite there or, with ``--db postgresql://…`` (else
$CEDOKA_DISTRICT_DB), in PostgreSQL. The operations are in :mod:`district.admin`; this module parses
arguments, reads the PDFs and prints. It never prints a resident's name.

Exit status: 0 success; 1 refused (one line ``cedoka-district: error: …`` on stderr) or a
self-test check failed; 2 usage error; 3 ``cancel`` of a job past printing (the kiosk has
reported it printing, printed or handed over). With ``--json`` only JSON goes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cedoka_io.version import package_version
from district import cli_identity, cli_operators, cli_release, cli_root
from district.admin import (
    CANCEL_REASONS,
    MAX_CODE_VALID_S,
    MIN_CODE_VALID_S,
    MIN_JOB_LIFETIME_S,
    DistrictAdmin,
    PastPrintingError,
)
from district.identity import CLI as CLI_ACTOR
from district.identity import Identity
from district.keyring import Keys
from district.keystore import read_public_key
from district.reach import LOOPBACK, PublicUrl, parse_public_url, parse_trusted_proxy
from district.remote import TOKEN_ENV, RemoteDistrict, check_server_url
from district.samples import SampleJob, sample_jobs
from district.views import audit_device, audit_report, device_json, job_json
from kiosk.claim import format_claim_code
from kiosk.doctypes import DOCUMENT_NAMES, DOCUMENT_TYPES_PRINTABLE
from kiosk.errors import CedokaError, OperatorError
from kiosk.limits import MAX_JOB_LIFETIME_S
from kiosk.model import ReleaseMode

if TYPE_CHECKING:  # imported when serving only: uvicorn is slow to import
    from district.connections import ConnectionLimits

PROG = "cedoka-district"
HOME_ENV = "CEDOKA_DISTRICT_HOME"
DB_ENV = "CEDOKA_DISTRICT_DB"  # a postgresql:// URL: the store on PostgreSQL (ADR 0026)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PAST_PRINTING = 0, 1, 2, 3

_DURATION = re.compile(r"([0-9]{1,6})([mhd])")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}
_PORT = re.compile(r"[0-9]{1,5}")
_SECONDS = re.compile(r"[0-9]{1,4}(\.[0-9]{1,3})?")
_COUNT = re.compile(r"[0-9]{1,7}")
_MAX_PORT = 65535
_A4 = "iso_a4_210x297mm"
_LEVELS = {-1: "n/a", -2: "unknown", -3: "some left"}  # IPP marker-levels below 0
_LIFETIME_S = 72 * 3600  # a job's default lifetime
MAX_WORKERS = 64  # serve --workers
TABLE_COLUMNS = 100  # ``jobs`` and ``audit`` tables fit this width; ``--wide`` does not cut


class UsageError(CedokaError, argparse.ArgumentTypeError, ValueError):
    """A command line that cannot be run as given (exit status 2); raised by a type
    converter, argparse shows the message."""


def parse_duration(text: str) -> int:
    """``90m``, ``72h``, ``3d`` (``0h`` too) → seconds; else :class:`UsageError`."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"{text!r} is not a duration: write e.g. 90m, 72h or 3d")
    return int(match[1]) * _UNIT_S[match[2]]


def duration_between(low_s: int, high_s: int) -> Callable[[str], int]:
    """A converter for a duration from ``low_s`` to ``high_s``: a duration outside says
    "out of range" with the range (:class:`UsageError`)."""

    def parse(text: str) -> int:
        seconds = parse_duration(text)
        if not low_s <= seconds <= high_s:
            raise UsageError(
                f"{text!r} is out of range: give {format_duration(low_s)} to "
                f"{format_duration(high_s)}"
            )
        return seconds

    return parse


def format_duration(seconds: int) -> str:
    """Seconds in the largest whole unit: ``3600`` → ``1h``, ``1209600`` → ``14d``."""
    for unit in "dhm":
        if seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    return f"{seconds}s"


def _server_url(text: str) -> str:
    try:
        return check_server_url(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets: ``[::1]:8700``) → (host, port); else UsageError."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise UsageError(f"{text!r}: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise UsageError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:8700")
    if not sep or not host or not _PORT.fullmatch(port) or not 1 <= int(port) <= _MAX_PORT:
        raise UsageError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8700)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1: the only hosts served without TLS."""
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_timeout_s(text: str) -> float:
    """``20`` or ``2.5`` → seconds, within the connection guard's range; else UsageError."""
    from district.connections import MAX_TIMEOUT_S, MIN_TIMEOUT_S

    if not _SECONDS.fullmatch(text) or not MIN_TIMEOUT_S <= float(text) <= MAX_TIMEOUT_S:
        raise UsageError(f"{text!r}: write seconds from {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S:.0f}")
    return float(text)


def parse_connection_cap(text: str) -> int:
    """``256`` → a cap on connections per address (0: none); else UsageError."""
    from district.connections import MAX_CONNECTIONS_CAP

    if not _COUNT.fullmatch(text) or int(text) > MAX_CONNECTIONS_CAP:
        raise UsageError(f"{text!r}: write a whole number from 0 (no cap) to {MAX_CONNECTIONS_CAP}")
    return int(text)


def parse_workers(text: str) -> int:
    """``4`` → how many server processes; else UsageError."""
    if not _COUNT.fullmatch(text) or not 1 <= int(text) <= MAX_WORKERS:
        raise UsageError(f"{text!r}: write a whole number from 1 to {MAX_WORKERS}")
    return int(text)


def parse_doc(text: str) -> tuple[str, Path]:
    """``TYPE=FILE`` → (type, path); the type is checked by the push itself."""
    doc_type, sep, file = text.partition("=")
    if not sep or not doc_type.strip() or not file:
        raise UsageError(f"{text!r}: write TYPE=FILE, e.g. KK=kk.pdf")
    return doc_type.strip().upper(), Path(file)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser; ``--home`` defaults to $CEDOKA_DISTRICT_HOME (no other default)."""
    env_home = os.environ.get(HOME_ENV)
    parser = argparse.ArgumentParser(
        prog=PROG, description="Cedoka district server and district IT's command line."
    )
    parser.add_argument(
        "--home", metavar="DIR", type=Path, default=Path(env_home) if env_home else None,
        help=f"the district's state directory (default: ${HOME_ENV})",
    )  # fmt: skip
    parser.add_argument(
        "--db", metavar="URL", default=os.environ.get(DB_ENV) or None,
        help="keep the district's data in this PostgreSQL database, e.g. "
        f"postgresql://cedoka@dbhost/cedoka (default: ${DB_ENV}, else SQLite in --home; "
        "the keys stay in --home)",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    parser.add_argument(
        "--server", metavar="URL", type=_server_url,
        help="work through this district server's admin API (from district IT's own PC) "
        "instead of a local --home; e.g. https://cedoka.example.go.id",
    )  # fmt: skip
    parser.add_argument("--token", metavar="TOKEN",
                        help=f"the API token for --server (default: ${TOKEN_ENV})")  # fmt: skip
    parser.add_argument("--cacert", metavar="FILE",
                        help="a PEM CA to trust for --server (a private CA)")  # fmt: skip
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("selftest", help="run the known-answer tests of the crypto and wire stack")
    init = commands.add_parser("init", help="create the district's keys and state directory")
    init.add_argument("--name", required=True, help='e.g. "Disdukcapil Kolaka Utara"')
    init.add_argument("--code", required=True, help="the regency code, e.g. 74.08")
    init.add_argument("--root-pub", type=Path, metavar="FILE",
                      help="keep the root offline: its public key, from 'root "
                      "init' (ADR 0033)")  # fmt: skip
    _add_serve(commands)
    office = commands.add_parser("office", help="add a village office")
    office_commands = office.add_subparsers(dest="action", metavar="ACTION", required=True)
    office_add = office_commands.add_parser("add", help="add a village/kelurahan office")
    office_add.add_argument("code", help="the office's region code, e.g. 74.08.01.2002")
    office_add.add_argument("--name", required=True, help='e.g. "Desa Pitulua"')
    enroll = commands.add_parser("enroll-code", help="issue a one-time enrolment code")
    enroll.add_argument("office", help="office code")
    enroll.add_argument("--valid", type=duration_between(MIN_CODE_VALID_S, MAX_CODE_VALID_S),
                        default=72 * 3600, metavar="DURATION",
                        help="how long it can be used, 1m to 30d, e.g. 90m, 72h (default), "
                        "3d")  # fmt: skip
    push = _add_push(commands)
    jobs = commands.add_parser("jobs", help="list jobs with their latest reported state")
    jobs.add_argument("--office", help="only this office's jobs")
    devices = commands.add_parser("devices", help="list kiosks and their printers' health")
    device_actions = devices.add_subparsers(dest="action", metavar="ACTION")
    device_actions.add_parser(
        "rotate-seal", help="ask a kiosk to rotate its sealing key (old documents then become "
        "unreadable once printed and purged)",
    ).add_argument("device_id")  # fmt: skip
    audit = commands.add_parser("audit", help="a kiosk's audit trail, with its chain checked")
    audit.add_argument("kiosk", metavar="DEVICE_OR_OFFICE",
                       help="a device id, or an office code (its active kiosk)")  # fmt: skip
    for wide in (jobs, audit):
        wide.add_argument("--wide", action="store_true", help=f"every column, uncut (else "
                          f"cut to {TABLE_COLUMNS} columns)")  # fmt: skip
    samples = commands.add_parser(
        "samples", help="write the demo's specimen PDFs (fictitious data) to a folder"
    )
    samples.add_argument("--out", required=True, type=Path, metavar="DIR",
                         help="the folder to write to (created if missing)")  # fmt: skip
    push_samples = commands.add_parser(
        "push-samples", help="push the demo's specimen bundles (fictitious data) to a kiosk"
    )
    push_samples.add_argument("--office", required=True, help="office code")
    push_samples.add_argument("--release", choices=("claim", "staff", "auto"), default="claim")
    for with_json in (init, push, jobs, devices, audit, samples, push_samples):
        with_json.add_argument("--json", action="store_true", help="print JSON on stdout")
    _add_cancel(commands)
    commands.add_parser("revoke", help="revoke an enrolled kiosk").add_argument("device_id")
    commands.add_parser("rotate-key", help="rotate the job-signing key (with overlap)")
    backup = commands.add_parser(
        "backup", help="copy the database (online, consistent) and the keys into a new "
        "directory district-<time> in DIR, mode 0700",
    )  # fmt: skip
    backup.add_argument("--to", required=True, type=Path, metavar="DIR")
    cli_identity.add_commands(commands, parse_duration)
    cli_release.add_commands(commands)
    cli_root.add_commands(commands)
    cli_operators.add_commands(commands)
    return parser


def _add_serve(commands: Any) -> None:
    """The ``serve`` command's options."""
    serve = commands.add_parser("serve", help="run the district server for village kiosks")
    serve.add_argument("--listen", required=True, type=parse_listen, metavar="HOST:PORT")
    serve.add_argument("--tls-cert", type=Path, metavar="FILE", help="PEM certificate chain")
    serve.add_argument("--tls-key", type=Path, metavar="FILE", help="PEM private key")
    serve.add_argument(
        "--public-url", metavar="URL",
        help="the URL the kiosks use (their server_url), e.g. https://cedoka.example.go.id; "
        "proofs are checked against it (default for a loopback --listen: its own URL)",
    )  # fmt: skip
    serve.add_argument(
        "--trusted-proxy", action="append", metavar="ADDRESS[/BITS]",
        help="a reverse proxy whose X-Forwarded-For names the client (repeatable; "
        "default: the loopback addresses)",
    )  # fmt: skip
    serve.add_argument(
        "--header-timeout-s", type=parse_timeout_s, metavar="SECONDS",
        help="a request head must be whole within this time (default 20)",
    )  # fmt: skip
    serve.add_argument(
        "--body-timeout-s", type=parse_timeout_s, metavar="SECONDS",
        help="longest silence while a request body arrives (default 20)",
    )  # fmt: skip
    serve.add_argument(
        "--max-connections-per-address", type=parse_connection_cap, metavar="N",
        help="connections open at once from one IPv4 address or IPv6 /64, 0 = no cap "
        "(default 256; 0 when --listen is loopback: every connection is then the proxy's)",
    )  # fmt: skip
    serve.add_argument(
        "--workers", type=parse_workers, default=1, metavar="N",
        help=f"server processes on the one --listen address, 1 to {MAX_WORKERS} (default 1; "
        "more than 1 needs the store on PostgreSQL, --db postgresql://…)",
    )  # fmt: skip


def _add_push(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    push = commands.add_parser(
        "push", help="seal, sign and queue one job for an office's kiosk",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_document_types_help(),
    )  # fmt: skip
    push.add_argument("--office", required=True, help="office code")
    push.add_argument("--resident", required=True, help="the resident's full name (masked)")
    push.add_argument("--doc", required=True, action="append", type=parse_doc,
                      metavar="TYPE=FILE", help="a document, e.g. KK=kk.pdf (repeat); "
                      "TYPE is one of the document types below")  # fmt: skip
    push.add_argument("--release", choices=("claim", "staff", "auto"), default="claim")
    push.add_argument("--copies", type=int, default=1, help="copies of each document")
    push.add_argument("--expires", type=duration_between(MIN_JOB_LIFETIME_S, MAX_JOB_LIFETIME_S),
                      default=_LIFETIME_S, metavar="DURATION",
                      help="the job's lifetime, 1h to 14d, e.g. 72h (default)")  # fmt: skip
    return push


def _document_types_help() -> str:
    """The ``push --help`` list of document types (code and name)."""
    lines = [f"  {code:<15} {name.id} ({name.en})" for code, name in DOCUMENT_NAMES.items()
             if code in DOCUMENT_TYPES_PRINTABLE]  # fmt: skip
    cards = " and ".join(c for c in DOCUMENT_NAMES if c not in DOCUMENT_TYPES_PRINTABLE)
    return "\n".join(["document types (--doc TYPE=FILE):", *lines,
                      f"  ({cards} are cards: courier or pickup, never pushed)"])  # fmt: skip


def _add_cancel(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cancel = commands.add_parser(
        "cancel", help="withdraw a job the kiosk has not started printing",
        description="Withdraw a job: the kiosk is told with its next feed answer and never\n"
        "prints it. Refused (exit status 3) once the kiosk has reported it printing,\n"
        "printed or handed over: the paper is out or coming out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="reasons (--reason):\n" + "\n".join(
            f"  {code:<17} {meaning}" for code, meaning in CANCEL_REASONS.items()),
    )  # fmt: skip
    cancel.add_argument("job_id")
    cancel.add_argument("--reason", required=True, choices=tuple(CANCEL_REASONS),
                        metavar="CODE", help="why, as a code (listed below)")  # fmt: skip


def run_selftest() -> int:
    """Run ``kiosk.selftest`` and print one line per check; 0 if all passed, else 1."""
    from kiosk.selftest import selftest_report

    lines, ok = selftest_report()
    print(*lines, sep="\n")
    return EXIT_OK if ok else EXIT_FAILED


def _init(args: argparse.Namespace, home: _Home) -> None:
    root_public = None if args.root_pub is None else read_public_key(args.root_pub)
    fingerprint = DistrictAdmin.init(home.path, name=args.name, code=args.code,
                                     db_url=home.db_url, root_public=root_public)  # fmt: skip
    if args.json:
        _print_json({"fingerprint": fingerprint})
    else:
        grouped = f"{fingerprint[:5]}-{fingerprint[5:]}"
        print(f"root key fingerprint: {grouped}  (kiosks check this at enrolment)")
        if root_public is not None:
            print("the root is offline: run 'cedoka-district keyring export', sign "
                  "the request with 'root sign-keyring', then 'keyring import' before "
                  "'serve'")  # fmt: skip


def _serve(args: argparse.Namespace, home: _Home) -> None:
    host, port = args.listen
    cert, key = args.tls_cert, args.tls_key
    if (cert is None) != (key is None):
        raise UsageError("serve: give both --tls-cert and --tls-key, or neither")
    if cert is None and not is_loopback(host):
        raise UsageError(
            f"serve: {host} is not a loopback address and plain HTTP is only for 127.0.0.1, "
            "::1 or localhost: give --tls-cert and --tls-key to serve TLS (HTTPS)"
        )
    public_url = _public_url(args.public_url, host=host, port=port, tls=cert is not None)
    trusted = LOOPBACK
    if args.trusted_proxy:
        try:
            trusted = tuple(parse_trusted_proxy(text) for text in args.trusted_proxy)
        except ValueError as error:
            raise UsageError(f"serve: --trusted-proxy: {error}") from None
    if args.workers > 1 and home.db_url is None:
        raise UsageError(
            "serve: --workers above 1 needs the store on PostgreSQL (--db postgresql://… or "
            f"${DB_ENV}): SQLite serves one process"
        )
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path is not None and not path.is_file():
            raise OperatorError(f"{flag} {path}: no such file")
    from district.http import run_server

    with contextlib.suppress(KeyboardInterrupt):
        if home.keys().store.get_meta("keyring_token") is None:  # an offline root's first
            raise OperatorError("no keyring signed by the district root yet: run 'keyring "
                                "export', sign it offline, 'keyring import' it")  # fmt: skip
        home.close()  # the server opens the store itself, and closes it at a clean stop
        limits = _connection_limits(args, host)
        if args.workers == 1:
            run_server(home.path, host=host, port=port, tls_cert=cert, tls_key=key,
                       public_url=public_url, trusted_proxies=trusted,
                       connection_limits=limits, db_url=home.db_url)  # fmt: skip
            return
        _serve_workers(args.workers, {
            "home": home.path, "host": host, "port": port, "tls_cert": cert, "tls_key": key,
            "public_url": public_url, "trusted_proxies": trusted,
            "connection_limits": limits, "db_url": home.db_url,
        })  # fmt: skip


def _serve_workers(workers: int, kwargs: dict[str, Any]) -> None:
    """``serve --workers N``: bind once, then N supervised server processes (ADR 0027)."""
    from district.http import run_server
    from district.logs import configure_logging
    from district.workers import bind, supervise

    configure_logging()
    sock = bind(kwargs["host"], kwargs["port"])  # OSError (in use): one line, exit status 1
    if supervise(workers, sock, run_server, kwargs) != 0:
        raise OperatorError("serve: the server processes keep ending at start: see the log")


def _connection_limits(args: argparse.Namespace, host: str) -> ConnectionLimits:
    """The serve options of the connection guard, defaults filled in (no cap per address
    on a loopback listen: a reverse proxy in front is then the only peer)."""
    from district.connections import ConnectionLimits

    defaults = ConnectionLimits()
    cap = args.max_connections_per_address
    if cap is None:
        cap = 0 if is_loopback(host) else defaults.max_connections_per_address
    return ConnectionLimits(
        header_timeout_s=args.header_timeout_s or defaults.header_timeout_s,
        body_timeout_s=args.body_timeout_s or defaults.body_timeout_s,
        max_connections_per_address=cap,
    )


def _public_url(text: str | None, *, host: str, port: int, tls: bool) -> PublicUrl:
    """``--public-url`` checked, or the listen address's own URL for a loopback listen.

    Raises:
        UsageError: a bad URL, or none for a listen address beyond loopback.
    """
    if text is None:
        if not is_loopback(host):
            raise UsageError(
                f"serve: {host} is not a loopback address: give --public-url with the URL "
                "the kiosks use (their server_url), e.g. --public-url https://cedoka.example.go.id"
            )
        text = f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        return parse_public_url(text)
    except ValueError as error:
        raise UsageError(f"serve: --public-url {text}: {error}") from None


def _office(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    home.admin().add_office(args.code, args.name)
    home.record("office.add", ("office", args.code))
    print(f"office {args.code} added; next: {PROG} enroll-code {args.code}")


def _enroll_code(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    code = home.admin().new_enroll_code(args.office, valid_s=args.valid)
    home.record("office.enroll_code", ("office", args.office))
    print(code)
    print(f"(a one-time code for the kiosk of {args.office})", file=sys.stderr)


def _push(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    documents = []
    for doc_type, path in args.doc:
        try:
            documents.append((doc_type, path.read_bytes()))
        except OSError as error:
            raise OperatorError(f"--doc {doc_type}={path}: {error.strerror}") from None
    result = home.admin().push(
        office_code=args.office, resident=args.resident, documents=documents,
        release=ReleaseMode(args.release), copies=args.copies, lifetime_s=args.expires,
    )  # fmt: skip
    home.record("job.push", ("job", result.job_id), ("device", result.device_id))
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    if args.json:
        _print_json({
            "job_id": result.job_id, "claim_code": result.claim_code,
            "device_id": result.device_id, "warnings": list(result.warnings),
        })  # fmt: skip
        return
    print(f"job {result.job_id} queued for kiosk {result.device_id}")
    if result.claim_code is not None:
        print(f"claim code: {format_claim_code(result.claim_code)}  (send it to the resident)")


def _jobs(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    rows = home.jobs(args.office)
    if args.json:
        _print_json(rows)
        return
    if args.wide:
        _print_table(
            ("JOB", "OFFICE", "DEVICE", "SEQ", "RELEASE", "CREATED", "EXPIRES", "CANCELLED",
             "CANCEL REASON", "STATE", "SINCE"),
            [(j["job_id"], j["office_code"], j["device_id"], str(j["seq"]), j["release"],
              _iso(j["created_s"]), _iso(j["expires_s"]), _iso(j["cancelled_s"]),
              j["cancel_reason"] or "-",
              "-" if j["state"] is None else j["state"] + (f" ({j['reason']})" if j["reason"]
                                                           else ""),
              _iso(j["state_s"])) for j in rows],
        )  # fmt: skip
        return
    now = int(time.time())
    _print_table(
        ("JOB", "OFFICE", "CREATED UTC", "EXPIRES", "STATE"),
        [(j["job_id"], j["office_code"], _short(j["created_s"]), _left(j["expires_s"], now),
          _job_state(j)) for j in rows],
        keep=(0,),
    )  # fmt: skip


def _job_state(job: dict[str, Any]) -> str:
    """What the kiosk last reported (``-``: nothing yet), and a cancel not confirmed yet."""
    reported = job["state"]
    reason = f" ({job['reason']})" if job["reason"] else ""
    state = "-" if reported is None else reported + reason
    if job["cancelled_s"] is not None and reported not in {"cancelled", "purged"}:
        return "cancel sent" if reported is None else f"cancel sent; {state}"
    return state


def _left(until_s: int, now_s: int) -> str:
    """Time left, in the largest unit that is at least 2: ``in 3d``, ``in 47h``, ``in 20m``;
    ``expired`` once it has passed."""
    left_s = until_s - now_s
    if left_s <= 0:
        return "expired"
    for unit, size in (("d", 86400), ("h", 3600)):
        if left_s >= 2 * size:
            return f"in {left_s // size}{unit}"
    return f"in {max(1, left_s // 60)}m"


def _devices(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    if getattr(args, "action", None) == "rotate-seal":
        _rotate_seal(args, home)
        return
    now = int(time.time())
    listing = home.devices()
    if args.json:
        _print_json([{**d, "printers": d["printers"] or []} for d in listing])
        return
    _print_table(
        ("DEVICE", "OFFICE", "ENROLLED", "REVOKED", "LAST SEEN", "AGENT", "PRINTERS"),
        [(d["device_id"], d["office_code"], _iso(d["enrolled_s"]), _iso(d["revoked_s"]),
          _seen(d["last_seen_s"], now), (d["agent"] or "-") + _update_text(d.get("update")),
          "heartbeat unreadable" if d["printers"] is None
          else "; ".join(_printer_text(p) for p in d["printers"]) or "-")
         for d in listing],
    )  # fmt: skip


def _update_text(update: dict[str, Any] | None) -> str:
    """The kiosk's last self-update attempt when it did not end well (``updated``: nothing)."""
    if not update or update.get("result") == "updated":
        return ""
    reason = f" {update['reason']}" if update.get("reason") else ""
    return f" ({update['version']} {update['result']}{reason})"


def _audit(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    report, note = home.audit(args.kiosk)
    if note is not None:
        print(f"({note})", file=sys.stderr)
    problems: list[str] = report["problems"]
    if args.json:
        _print_json(report)
    else:
        _audit_table(report["records"], wide=args.wide)
        print(f"chain: {'; '.join(problems) if problems else 'intact'}", file=sys.stderr)
    if problems:
        raise SystemExit(1)


def _audit_table(records: Sequence[dict[str, Any]], *, wide: bool) -> None:
    if wide:
        _print_table(
            ("SEQ", "AT", "OPERATOR", "ACTION", "OUTCOME", "JOB", "DOCUMENTS", "PRINTER", "REASON",
             "CHANGE"),
            [(str(r["seq"]), _iso(r["at_s"]), r["operator"] or "-", r["action"], r["outcome"],
              r["job_id"] or "-", ",".join(r["doc_types"]) or "-", r["printer"] or "-",
              r["reason"] or "-", _change(r["old"], r["new"]))
             for r in records],
        )  # fmt: skip
        return
    # The job as its last 8 characters (the reference on the kiosk's receipt); the outcome
    # with the action unless it is "ok".
    _print_table(
        ("SEQ", "AT UTC", "OPERATOR", "ACTION", "JOB", "DOCUMENTS", "DETAIL"),
        [(str(r["seq"]), _short(r["at_s"]), r["operator"] or "-",
          r["action"] + ("" if r["outcome"] == "ok" else f" {r['outcome']}"),
          f"…{r['job_id'][-8:]}" if r["job_id"] else "-",
          ",".join(r["doc_types"]) or "-", _detail(r))
         for r in records],
        keep=(0, 1, 3, 4),
    )  # fmt: skip


def _detail(record: dict[str, Any]) -> str:
    """A record's reason, printer and printer change in one column (``-``: none)."""
    change = _change(record["old"], record["new"])
    parts = [record["reason"], record["printer"], None if change == "-" else change]
    return " ".join(p for p in parts if p) or "-"


def _change(old: str | None, new: str | None) -> str:
    """A settings record's printer change, as ``before -> after`` (``-`` for none)."""
    return "-" if old is None and new is None else f"{old or '(none)'} -> {new or '(none)'}"


def _cancel(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    result = home.admin().cancel(args.job_id, reason=args.reason)
    home.record("job.cancel", ("job", result.job_id))
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    print(f"job {result.job_id} cancelled ({args.reason}): the kiosk is told with its next "
          "feed answer and will not print it ('jobs' shows what it reports)")  # fmt: skip


def _revoke(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    home.admin().revoke(args.device_id)
    home.record("device.revoke", ("device", args.device_id))
    print(f"device {args.device_id} revoked: its requests are refused from now on")


def _rotate_seal(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    at_s = home.admin().rotate_seal(args.device_id)
    home.record("device.rotate_seal", ("device", args.device_id))
    print(
        f"device {args.device_id}: sealing-key rotation requested at {_iso(at_s)}; the kiosk "
        "rotates with its next feed answer ('devices' shows its sealing key's kid)"
    )


def _rotate_key(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    kid = home.admin().rotate_key()
    home.record("key.rotate", ("key", kid))
    print(kid)
    print("(the new job-signing key is active; the old one stays for the overlap)", file=sys.stderr)


def _samples(args: argparse.Namespace) -> None:
    """Write each sample job's PDFs as ``<n>-<title>-<TYPE>.pdf``; needs no district home."""
    out: Path = args.out
    jobs = sample_jobs(datetime.date.today())
    out.mkdir(parents=True, exist_ok=True)
    listing = []
    for number, job in enumerate(jobs, 1):
        files = []
        for doc_type, pdf in job.documents:
            path = out / f"{number}-{_slug(job.title)}-{doc_type}.pdf"
            path.write_bytes(pdf)
            files.append(path)
        listing.append((job, files))
    if args.json:
        _print_json([{
            "title": job.title, "files": [str(f) for f in files],
            "documents": [t for t, _ in job.documents], "cards": list(job.cards),
        } for job, files in listing])  # fmt: skip
        return
    for job, files in listing:
        print(f"{job.title}:")
        print(*(f"  {f}" for f in files), sep="\n")
        if job.cards:
            print(f"  {_cards_note(job)}")
    print("(specimens with fictitious data: every page is marked CONTOH / SPECIMEN)",
          file=sys.stderr)  # fmt: skip


def _push_samples(args: argparse.Namespace, home: _Home) -> None:
    """Push each sample job as its own job. A refusal stops at that job: the jobs before it
    stay queued (text output has listed them; ``jobs`` shows them)."""
    jobs = sample_jobs(datetime.date.today())  # first: refuses before any push without ReportLab
    admin = home.admin()
    pushed = []
    for job in jobs:
        result = admin.push(
            office_code=args.office, resident=job.resident, documents=job.documents,
            release=ReleaseMode(args.release), copies=1, lifetime_s=_LIFETIME_S,
        )  # fmt: skip
        for warning in result.warnings:
            print(f"{PROG}: warning: {job.title}: {warning}", file=sys.stderr)
        claim = None if result.claim_code is None else format_claim_code(result.claim_code)
        pushed.append((job, result, claim))
        if not args.json:
            print(f"{job.title}: job {result.job_id} queued for kiosk {result.device_id}")
            print(f"  documents: {', '.join(t for t, _ in job.documents)}")
            if job.cards:
                print(f"  {_cards_note(job)}")
            if claim is not None:
                print(f"  claim code: {claim}  (send it to the resident)")
    if args.json:
        _print_json([{
            "title": job.title, "job_id": result.job_id, "device_id": result.device_id,
            "claim_code": claim, "documents": [t for t, _ in job.documents],
            "cards": list(job.cards), "warnings": list(result.warnings),
        } for job, result, claim in pushed])  # fmt: skip


def _backup(args: argparse.Namespace, home: _Home) -> None:
    from district.backup import backup_home

    if home.db_url is not None:
        raise OperatorError("backup copies a SQLite home only: with --db, back up the "
                            "database with pg_dump, and the home's keys folder")  # fmt: skip
    copy = backup_home(home.path, args.to)
    held = "the signing keys" if home.keys().root_offline else "the root key"
    print(f"backed up to {copy}  (it holds {held}: keep it as safe as the server)")


# Commands that work on a local home and, with --server, through the admin API.
BOTH: dict[str, Callable[[argparse.Namespace, _Home | RemoteDistrict], None]] = {
    "office": _office, "enroll-code": _enroll_code, "push": _push, "jobs": _jobs,
    "devices": _devices, "audit": _audit, "cancel": _cancel, "revoke": _revoke,
    "rotate-key": _rotate_key, "operators": cli_operators.run,
}  # fmt: skip
# Commands on the server host only (its keys, its database, its processes).
LOCAL: dict[str, Callable[[argparse.Namespace, _Home], None]] = {
    "init": _init, "serve": _serve, "push-samples": _push_samples, "backup": _backup,
    "user": lambda args, home: cli_identity.run_user(args, home.identity()),
    "token": lambda args, home: cli_identity.run_token(args, home.identity()),
    "release": lambda args, home: cli_release.run(args, home.home_path(), home.devices),
    "keyring": lambda args, home: cli_root.run_keyring(args, home.keys()),
    "rotate-root": lambda args, home: cli_root.run_rotate_root(
        args, home.keys(), home.home_path(), now_s=int(time.time())
    ),
}  # fmt: skip


class _Home:
    """The district home of this run: opened on first use, closed by ``main``."""

    def __init__(self, path: Path, db_url: str | None = None) -> None:
        self.path, self.db_url = path, db_url
        self._keys: Keys | None = None
        self._identity: Identity | None = None

    def home_path(self) -> Path:
        return self.path

    def keys(self) -> Keys:
        if self._keys is None:
            self._keys = Keys.open(self.path, self.db_url)
        return self._keys

    def admin(self) -> DistrictAdmin:
        return DistrictAdmin(self.keys())

    def record(self, action: str, *targets: tuple[str, str]) -> None:
        """Append a change made on the server host to the admin audit log (actor ``cli``)."""
        self.identity().record(CLI_ACTOR.actor, action, "ok", targets=targets)

    def jobs(self, office: str | None) -> list[dict[str, Any]]:
        store = self.keys().store
        if office is not None and store.office(office) is None:
            raise OperatorError(f"unknown office {office}")
        return [job_json(j) for j in store.jobs(office_code=office)]

    def devices(self) -> list[dict[str, Any]]:
        return [device_json(d) for d in self.keys().store.devices()]

    def audit(self, kiosk: str) -> tuple[dict[str, Any], str | None]:
        store = self.keys().store
        device, note = audit_device(store, kiosk)
        return audit_report(store, device), note

    def identity(self) -> Identity:
        if self._identity is None:
            keys = self.keys()
            self._identity = Identity(keys.store.identity, district_code=keys.district_code,
                                      district_name=keys.district_name)  # fmt: skip
        return self._identity

    def close(self) -> None:
        if self._keys is not None:
            self._keys.store.close()


def _printer_text(p: dict[str, Any]) -> str:
    """E.g. ``a4: stopped media-empty-error, Black 7%``."""
    head = " ".join([f"{p['role']}: {p['state']}", *(r for r in p["reasons"] if r != "none")])
    parts = [head]
    if not p["accepting"]:
        parts.append("not accepting jobs")
    if p["media"] is not None and p["media"] != _A4:
        parts.append(f"media {p['media']}")
    for marker in p["markers"]:
        level = marker["level"]
        parts.append(f"{marker['name']} {_LEVELS.get(level, f'{level}%')}")
    return ", ".join(parts)


def _slug(title: str) -> str:
    """``"KK update"`` → ``"kk-update"`` (for file names)."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _cards_note(job: SampleJob) -> str:
    return f"cards, not printed at the village (courier or pickup): {', '.join(job.cards)}"


def _iso(at_s: int | None) -> str:
    return "-" if at_s is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_s))


def _seen(at_s: int | None, now_s: int) -> str:
    if at_s is None:
        return "never"
    minutes = max(0, now_s - at_s) // 60
    for size, unit in ((1440, "d"), (60, "h")):
        if minutes >= 2 * size:
            return f"{_iso(at_s)} ({minutes // size} {unit} ago)"
    return f"{_iso(at_s)} ({minutes} min ago)"


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _short(at_s: int | None) -> str:
    """``12-05 14:03`` (UTC, to the minute): a narrow table's time."""
    return "-" if at_s is None else time.strftime("%m-%d %H:%M", time.gmtime(at_s))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                 keep: Sequence[int] | None = None) -> None:  # fmt: skip
    """Print a table; with ``keep`` (the columns never cut) it fits ``TABLE_COLUMNS``: the
    widest other column is narrowed (cells cut with ``…``) until the lines fit, and a note
    on stderr says ``--wide`` shows everything."""
    if not rows:
        print("(none)")
        return
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    cut = False
    if keep is not None:
        cuttable = [i for i in range(len(widths)) if i not in keep]
        while sum(widths) + 2 * (len(widths) - 1) > TABLE_COLUMNS:
            widest = max(cuttable, key=lambda i: widths[i], default=None)
            if widest is None or widths[widest] <= max(len(headers[widest]), 4):
                break  # nothing more to narrow: as narrow as it gets
            widths[widest] -= 1
            cut = True
    for row in (headers, *rows):
        cells = (c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths, strict=True))
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if cut:
        print(f"(cut to {TABLE_COLUMNS} columns: --wide shows every column uncut)",
              file=sys.stderr)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the ``cedoka-district`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    args = build_parser().parse_args(argv)
    command: str = args.command
    if command == "selftest":
        return run_selftest()
    if command == "samples":  # only writes PDFs to --out: needs no district home
        return _exit_status(lambda: _samples(args))
    if command == "release" and args.action in cli_release.WITHOUT_HOME and args.home is None:
        return _exit_status(lambda: cli_release.run(args, Path.cwd()))  # a build machine
    if command == "root":  # the signing machine's commands (ADR 0033): no district home
        umask = os.umask(0o077)
        try:
            return _exit_status(lambda: cli_root.run_root(args))
        finally:
            os.umask(umask)
    if args.server is not None:
        return _run_remote(args, command)
    if args.home is None:
        print(f"{PROG}: error: give --home DIR or set ${HOME_ENV}", file=sys.stderr)
        return EXIT_USAGE
    home = _Home(args.home, args.db)
    umask = os.umask(0o077)  # what the district writes (database, keys, backups) is private
    run = BOTH.get(command) or LOCAL[command]
    try:
        return _exit_status(lambda: run(args, home))
    finally:
        os.umask(umask)
        home.close()


def _run_remote(args: argparse.Namespace, command: str) -> int:
    """A command through the admin API of ``--server`` (issue 17 item 3)."""
    release = command == "release" and args.action in cli_release.REMOTE
    if command not in BOTH and not release:
        print(f"{PROG}: error: {command} works on the server host only (without --server); "
              f"with --server: {', '.join(sorted(BOTH))}, release list|promote",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        print(f"{PROG}: error: --server needs an API token: --token or ${TOKEN_ENV} "
              f"(made by '{PROG} token create' on the server)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    remote = RemoteDistrict(args.server, token, cacert=args.cacert)
    try:
        if release:
            return _exit_status(lambda: cli_release.run_remote(args, remote))
        return _exit_status(lambda: BOTH[command](args, remote))
    finally:
        remote.close()


def _exit_status(run: Callable[[], None]) -> int:
    """Run a command; a refusal is printed as one line on stderr."""
    try:
        run()
        return EXIT_OK
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except PastPrintingError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_PAST_PRINTING
    except CedokaError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
    except OSError as error:  # e.g. a home or an --out folder that cannot be written
        print(f"{PROG}: error: {error.filename or PROG}: {error.strerror}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
