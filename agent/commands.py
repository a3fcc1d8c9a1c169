"""The ``cedoka`` commands that work on a kiosk home: enroll, status, release, printers,
operator (``run`` and ``kiosk`` are the top layer's: :mod:`ui.cli`, which also serves the
kiosk's local API and opens its window).

Output: a short text for people, or stable JSON with ``--json``. Errors go to stderr with
the exit status of :mod:`agent.cli`; messages for staff come in Bahasa Indonesia and
English. Never a resident's name: jobs are shown by id and masked name only on the screen.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from agent.home import HomeLayout
from kiosk.config import office_utc_offset_s
from kiosk.doctor import duration, when
from kiosk.errors import (
    CedokaError,
    ClaimError,
    ClaimLockedError,
    ConfigError,
    OperatorError,
    Reason,
    RejectedError,
    TransitionError,
    TransportError,
)
from kiosk.keys import fingerprint_code
from kiosk.messages import busy_text, printer_text
from kiosk.messages import text as reason_text
from kiosk.verify import TrustState

PROG = "cedoka"
EXIT_OK, EXIT_FAILED, EXIT_REVOKED = 0, 1, 3
EXIT_PRINTER_WAIT = 5  # release: released, not printed yet: the printer is busy or not ready

# A printed job the district cancelled (protocol §13): never handed over.
CANCELLED_ID = "Dibatalkan oleh Disdukcapil — jangan diserahkan; hancurkan lembarnya."
CANCELLED_EN = "Cancelled by Disdukcapil — do not hand it over; destroy the sheets."
EXIT_NOT_INSTALLED = 4  # a configured printer's driver is missing (the printers extra)
MISSING_DRIVER = ("cups_missing", "escpos_missing")
INSTALL_PRINTERS = ("install the printers extra: sudo ./install.sh, or in a development tree "
                    ".venv/bin/pip install -e '.[printers]'")  # fmt: skip


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def verify_of(home: Path) -> str | bool:
    ca = HomeLayout(home).server_ca
    return str(ca) if ca.exists() else True


def run_command(command: str, args: argparse.Namespace) -> int:
    home: Path = args.home
    try:
        if command == "enroll":
            return _enroll(args, home)
        if command == "status":
            return _status(args, home)
        if command == "release":
            return _release(args, home)
        if command == "printers":
            return _printers(args, home)
        if command == "operator":
            return _operator(args, home)
    except ConfigError as error:
        return _fail(f"configuration: {error}")
    except OperatorError as error:
        return _fail(str(error))
    except RejectedError as error:
        revoked = error.reason in {Reason.DEVICE_REVOKED, Reason.UNKNOWN_DEVICE}
        return _fail(f"{error.reason.value}: {reason_text(error.reason, 'en')}",
                     EXIT_REVOKED if revoked else EXIT_FAILED)  # fmt: skip
    except TransportError as error:
        return _fail(f"cannot reach the district server ({error}); try again later")
    if command in {"run", "kiosk"}:  # reached only through agent.cli directly
        return _fail(f"'{command}' starts through the cedoka entry point (ui.cli)", 2)
    raise AssertionError(command)


def _read_pin(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        raise OperatorError("no terminal to ask for the PIN: use --pin-stdin")
    import getpass

    first = getpass.getpass("PIN (4-8 digits): ")
    if getpass.getpass("the same PIN again: ") != first:
        raise OperatorError("the two PINs differ; nothing changed")
    return first


def _operator(args: argparse.Namespace, home: Path) -> int:
    """``cedoka operator …``: a local change, written to the audit trail too (the district
    learns of local staff from it: ADR 0034); an operator from the district is disabled or
    reset there, not removed here."""
    from agent.operator_home import operator_book, staff_audit
    from agent.operators import StaffError
    from agent.settings import load_config

    load_config(home)  # an enrolled kiosk only
    with operator_book(home) as book:
        audit = staff_audit(home, book)
        try:
            if args.action == "list":
                listed = book.list()
                if args.json:
                    _print_json([{"id": o.operator_id, "name": o.name, "role": o.role}
                                 for o in listed])  # fmt: skip
                else:
                    for o in listed:
                        print(f"{o.operator_id}\t{o.role}\t{o.name}")
                    if not listed:
                        print("no operators yet: add one with "
                              "'cedoka operator add ID --name NAME --supervisor'")  # fmt: skip
            elif args.action == "add":
                role = "supervisor" if args.supervisor else "staff"
                added = book.add(args.operator_id, name=args.name, role=role,
                                 pin=_read_pin(args.pin_stdin))  # fmt: skip
                audit.record("operator_add", operator=added.operator_id, reason=added.role)
                print(f"operator {added.operator_id} ({added.role}) added")
            elif args.action == "set-pin":
                book.set_pin(args.operator_id, _read_pin(args.pin_stdin))
                audit.record("pin_change", operator=args.operator_id)
                print(f"operator {args.operator_id}: new PIN set (any lock is lifted)")
            else:
                found = book.get(args.operator_id)
                if found is not None and found.origin == "central":
                    return _fail(f"operator_central: {args.operator_id} is managed by the "
                                 "district: 'cedoka-district operators disable' there")  # fmt: skip
                book.remove(args.operator_id)
                audit.record("operator_remove", operator=args.operator_id)
                print(f"operator {args.operator_id} removed (a kiosk screen signed in as them "
                      "is signed out at its next step)")  # fmt: skip
        except StaffError as error:
            return _fail(f"{error.code}: {error}")
    return EXIT_OK


def _enroll(args: argparse.Namespace, home: Path) -> int:
    from agent.app import agent_version
    from agent.enrolment import enroll

    printers: dict[str, str] = {}
    for item in args.printer:
        role, sep, uri = item.partition("=")
        if not sep or role not in {"a4", "receipt"} or role in printers:
            return _fail(f"--printer {item!r}: give ROLE=URI once per role (a4, receipt)", 2)
        printers[role] = uri
    verify: str | bool = True
    if args.ca:
        ca = Path(args.ca).read_bytes()
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        from agent.files import write_atomic

        write_atomic(HomeLayout(home).server_ca, ca)
        verify = str(HomeLayout(home).server_ca)
    done = enroll(home, server_url=args.server, code=args.code, printers=printers,
                  agent=agent_version(), verify=verify)  # fmt: skip
    print(f"enrolled as {done.device_id} for {done.office_code} ({done.office_name}), "
          f"district {done.district_code}; next: {PROG} --home {home} run")  # fmt: skip
    return EXIT_OK


def _status(args: argparse.Namespace, home: Path) -> int:
    from agent import trust as trust_store
    from agent.settings import load_config
    from agent.spool import Spool

    config = load_config(home)
    spool = Spool(HomeLayout(home).spool)
    try:
        trust = trust_store.load(spool)
        from printers.factory import open_any

        printers = []
        for target in config.printers:
            entry: dict[str, Any] = {"role": target.role.value, "uri": target.uri,
                                     "backend": target.backend}  # fmt: skip
            try:
                health = open_any(target).health()
                entry.update(state=health.state, accepting=health.accepting,
                             reasons=list(health.reasons))  # fmt: skip
            except CedokaError:
                entry.update(state="unknown", accepting=False, reasons=[])
            printers.append(entry)
        link_ok = spool.get_meta("link_ok_s")
        spool_counts = spool.counts()
        seen = trust_store.freshness(spool, trust, local_now_s=int(time.time()))
        value: dict[str, Any] = {
            "device_id": config.device_id, "office_code": config.office_code,
            "server_url": config.server_url, "jobs": spool_counts,
            "outbox_pending": spool.outbox_depth(), "printers": printers,
            # error: the link's last failure, else why the newest head was refused.
            "link": {"last_ok_s": int(link_ok) if link_ok else None,
                     "error": (spool.get_meta("link_error") or b"").decode() or seen.refused,
                     "head_refused": seen.refused, "frozen": seen.frozen,
                     "confirmed_s": seen.confirmed_s,
                     "confirmed_until_s": seen.confirmed_until_s},
            "trust": {"keyring_version": trust.keyring.version,
                      # the pinned district root; its version once a rotation moved it
                      "root_fingerprint": fingerprint_code(trust.root_key),
                      "root_version": trust_store.root_version(spool),
                      "head_seq": trust.head.seq if trust.head else None,
                      "head_expires_s": trust.head.expires_at_s if trust.head else None,
                      "time_floor_s": trust.time_floor_s},
            "seal": _seal_status(home, spool),
        }  # fmt: skip
    finally:
        spool.close()
    if args.json:
        _print_json(value)
        return EXIT_OK
    offset, now_s = office_utc_offset_s(config), int(time.time())
    print(f"device {value['device_id']}  office {value['office_code']}  {value['server_url']}")
    counts = spool_counts
    jobs = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    print(f"jobs: {jobs}; events waiting to be sent: {value['outbox_pending']}")
    for p in printers:
        print(f"printer {p['role']}: {p['uri']} {p.get('state', '')}".rstrip())
    link = value["link"]
    if link["error"] in {"device_revoked", "unknown_device"}:
        print("link: this kiosk was revoked by the district: re-enrol needed "
              "(perangkat dicabut: daftarkan ulang)")  # fmt: skip
    elif link["error"] and link["error"] != seen.refused:
        print(f"link: down ({link['error']}); last contact {_at(link['last_ok_s'], offset, now_s)}")
    else:
        print(f"link: ok, last contact {_at(link['last_ok_s'], offset, now_s)}")
    print(_trust_line(trust, offset, now_s))
    if (seal := value["seal"]) is not None:
        print(_seal_line(seal, now_s))
    if link["frozen"]:
        since = when(seen.confirmed_s, offset) if seen.confirmed_s else "enrolment"
        since_id = when(seen.confirmed_s, offset) if seen.confirmed_s else "pendaftaran"
        why = f" (head refused: {seen.refused})" if seen.refused else ""
        print(f"feed: frozen — no confirmation from the district since {since}{why}; only "
              f"documents received before can print (belum ada konfirmasi dari kabupaten "
              f"sejak {since_id})")  # fmt: skip
    return EXIT_OK


def _seal_line(seal: dict[str, Any], now_s: int) -> str:
    age = (
        "" if seal["created_s"] is None else f", {max(0, now_s - seal['created_s']) // 86400} d old"
    )
    return (f"sealing key {seal['kid'][:10]}…{age}"
            + (f"; former keys kept: {len(seal['retired'])}" if seal["retired"] else "")
            + ("; rotation pending" if seal["pending"] else ""))  # fmt: skip


def _seal_status(home: Path, spool: Any) -> dict[str, Any] | None:
    """The sealing keys (protocol 14.2): the current kid and when it was made, former keys
    still held, a rotation not yet confirmed, keys destroyed lately; None when the keys do
    not load (``cedoka doctor`` says why)."""
    from agent.keys import DeviceKeys
    from agent.sealing import status

    try:
        seal = status(HomeLayout(home), DeviceKeys.load(home), spool)
    except (CedokaError, OSError, ValueError):
        return None
    return {"kid": seal.kid, "created_s": seal.created_s, "pending": seal.pending,
            "retired": list(seal.retired),
            "shredded": [{"kid": kid, "at_s": at} for kid, at in seal.shredded]}  # fmt: skip


def _at(at_s: int | None, offset: int, now_s: int) -> str:
    """A time on the office's clock and how long ago it was (``never`` for None)."""
    if at_s is None:
        return "never"
    if at_s > now_s:
        return when(at_s, offset)
    return f"{when(at_s, offset)} ({duration(now_s - at_s)[1]} ago)"


def _trust_line(trust: TrustState, offset: int, now_s: int) -> str:
    """What this kiosk trusts: the district's signing keys, the last verified feed head
    (how long it confirms the feed) and the trusted clock's floor."""
    if trust.head is None:
        feed = "no feed head verified yet (it comes with the first contact after enrolment)"
    else:
        feed = (f"feed head #{trust.head.seq} signed {_at(trust.head.issued_at_s, offset, now_s)}"
                f", confirms until {when(trust.head.expires_at_s, offset)}")  # fmt: skip
    floor = when(trust.time_floor_s, offset) if trust.time_floor_s else "none yet"
    return (f"trust: district {trust.district_code}, signing keys version "
            f"{trust.keyring.version}; {feed}; trusted clock not before {floor}")  # fmt: skip


def _release(args: argparse.Namespace, home: Path) -> int:
    from agent.app import Agent
    from agent.dispatch import NoPrinterError, PrinterBusyError
    from printers.base import PrinterNotReadyError

    agent = Agent(home, verify=verify_of(home))
    result: dict[str, Any] = {"released": [], "jobs": [], "error": None}
    failed = waiting = False  # a job failed / a job waits for the printer (released)
    try:
        try:
            released = agent.releaser.by_claim(args.claim, operator=args.operator)
        except ClaimLockedError as error:
            result["error"] = _error(error.reason, f"retry after {error.retry_after_s} s")
            result["error"]["retry_after_s"] = error.retry_after_s
            return _answer(args, result, EXIT_FAILED)
        except ClaimError as error:
            result["error"] = _error(error.reason)
            return _answer(args, result, EXIT_FAILED)
        result["released"] = released
        for job_id in released:
            try:
                state = agent.dispatcher.print_job(job_id)
            except PrinterBusyError as error:  # answered at once: the job stays released
                result["error"] = {"code": error.reason, "printing": error.printing,
                                   "message_id": busy_text(error.reason, "id"),
                                   "message_en": busy_text(error.reason, "en"),
                                   "detail": str(error)}  # fmt: skip
                state = agent.spool.job(job_id).status.state  # type: ignore[union-attr]
                waiting = True
            except (NoPrinterError, PrinterNotReadyError) as error:
                reason = error.reason if isinstance(error, PrinterNotReadyError) else "no_printer"
                result["error"] = {"code": reason, "message_id": printer_text(reason, "id"),
                                   "message_en": printer_text(reason, "en"),
                                   "detail": str(error)}  # fmt: skip
                state = agent.spool.job(job_id).status.state  # type: ignore[union-attr]
                failed |= isinstance(error, NoPrinterError)
                waiting |= not isinstance(error, NoPrinterError)
            if state.value == "printed" and args.handed_over:
                try:
                    state = agent.dispatcher.hand_over(job_id, args.operator)
                except TransitionError:  # the district cancelled it: never handed over
                    result["error"] = {"code": "job_cancelled", "message_id": CANCELLED_ID,
                                       "message_en": CANCELLED_EN}  # fmt: skip
                    failed = True
            result["jobs"].append({"job_id": job_id, "state": state.value})
            waiting |= state.value == "printing"  # the service took it meanwhile: it prints it
            left_waiting = waiting and state.value in {"released", "printing"}
            failed |= state.value not in {"printed", "purged"} and not left_waiting
        with contextlib.suppress(CedokaError):  # else the running service delivers it later
            agent.reporter.deliver()
    finally:
        agent.close()
    code = EXIT_FAILED if failed else EXIT_PRINTER_WAIT if waiting else EXIT_OK
    if result["error"] and result["error"]["code"] in MISSING_DRIVER:
        code = EXIT_NOT_INSTALLED  # released; it prints once the driver is installed
    return _answer(args, result, code)


def _printers(args: argparse.Namespace, home: Path) -> int:
    """Each configured role: its backend, health and pre-flight verdict; and the CUPS
    queues this PC has (to choose from when setting up). Exit status 4 when a configured
    role's driver is not installed."""
    from agent.settings import load_config
    from printers.base import PrinterNotReadyError
    from printers.cups import cups_installed, list_queues
    from printers.factory import open_any

    config = load_config(home)
    roles = []
    for target in config.printers:
        entry: dict[str, Any] = {"role": target.role.value, "uri": target.uri,
                                 "backend": target.backend}  # fmt: skip
        try:
            printer = open_any(target)
        except CedokaError as error:
            entry.update(ready=False, problem="not_supported", detail=str(error))
            roles.append(entry)
            continue
        health = printer.health()
        markers = [{"name": m.name, "level": m.level} for m in health.markers]
        entry.update(state=health.state, accepting=health.accepting, media=health.media,
                     reasons=list(health.reasons), markers=markers)  # fmt: skip
        try:
            printer.preflight()
            entry.update(ready=True, problem=None)
        except PrinterNotReadyError as error:
            entry.update(ready=False, problem=error.reason,
                         message_id=printer_text(error.reason, "id"),
                         message_en=printer_text(error.reason, "en"))  # fmt: skip
        roles.append(entry)
    queues, has_cups = list_queues(), cups_installed()
    value = {"roles": roles, "cups_queues": queues, "cups_installed": has_cups}
    if args.json:
        _print_json(value)
    else:
        for entry in roles:
            verdict = "ready" if entry["ready"] else f"NOT READY ({entry['problem']})"
            print(f"{entry['role']:<8} {entry['uri']:<40} {entry.get('state', '?'):<10} {verdict}")
            if entry.get("message_en"):
                print(f"         {entry['message_id']}\n         {entry['message_en']}")
        if has_cups:
            print(f"CUPS queues: {', '.join(queues) or '(none)'}")
        else:
            print("CUPS queues: CUPS tidak terpasang / CUPS is not installed (no pycups)")
    missing = sorted({e["problem"] for e in roles} & set(MISSING_DRIVER))
    if missing:
        return _fail(f"{', '.join(missing)}: a printer's driver is not installed; "
                     f"{INSTALL_PRINTERS}", EXIT_NOT_INSTALLED)  # fmt: skip
    return EXIT_OK if all(e["ready"] for e in roles) else EXIT_FAILED


def _error(reason: Reason, detail: str = "") -> dict[str, Any]:
    return {"code": reason.value, "message_id": reason_text(reason, "id"),
            "message_en": reason_text(reason, "en"), "detail": detail}  # fmt: skip


def _answer(args: argparse.Namespace, result: dict[str, Any], code: int) -> int:
    if args.json:
        _print_json(result)
        return code
    for job in result["jobs"]:
        print(f"job {job['job_id']}: {job['state']}")
    if result["error"]:
        error = result["error"]
        stuck = f" (the printer is on job {error['printing']})" if error.get("printing") else ""
        print(f"{PROG}: {error['code']}{stuck}: {error.get('message_en', '')} / "
              f"{error.get('message_id', '')}".rstrip(" /"), file=sys.stderr)  # fmt: skip
    return code
