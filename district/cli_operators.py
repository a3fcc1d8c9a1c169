"""``cedoka-district operators add|disable|reset|list --office CODE``: the village staff
that district IT manages for an office (:mod:`district.operators`, ADR 0034).

``add`` and ``reset`` print the one-time PIN once, on stdout (district IT tells it to the
clerk by phone); the clerk chooses their own PIN at the first sign-in on the kiosk. Every
kiosk of the office receives the change with its next feed answer. ``list`` shows the
district's staff and the ones a kiosk's supervisor added there (``local``, reported by the
kiosk, without a name).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Protocol

from district.keyring import Keys
from district.operators import DistrictOperators, operator_json
from district.remote import RemoteDistrict
from kiosk.operator_list import ONE_TIME_PIN_VALID_S

PROG = "cedoka-district"


class _Home(Protocol):
    def keys(self) -> Keys: ...
    def record(self, action: str, *targets: tuple[str, str]) -> None: ...


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = commands.add_parser(
        "operators", help="the village staff of an office, managed from the district",
        description="Add, disable and reset the staff who sign in on an office's kiosk; every\n"
        "kiosk of the office receives the change with its next feed answer. 'add' and\n"
        "'reset' print a one-time PIN (valid 72 h) that the clerk must change at the first\n"
        "sign-in.", formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    actions = staff.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add an operator (or enable one again): a one-time PIN")
    add.add_argument("operator_id", help="1-32 of a-z 0-9 . _ -, e.g. siti")
    add.add_argument("--name", required=True, help='e.g. "Siti Aminah"')
    add.add_argument("--supervisor", action="store_true", help="a supervisor (default: staff)")
    disable = actions.add_parser("disable", help="stop an operator signing in on every kiosk")
    disable.add_argument("operator_id")
    reset = actions.add_parser("reset", help="a new one-time PIN (the old PIN stops working)")
    reset.add_argument("operator_id")
    listing = actions.add_parser("list", help="the office's staff: central and local")
    for parser in (add, disable, reset, listing):
        parser.add_argument("--office", required=True, help="office code, e.g. 74.08.01.2002")
        parser.add_argument("--json", action="store_true", help="print JSON on stdout")


def _iso(at_s: int | None) -> str:
    return "-" if at_s is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_s))


class StaffOps(Protocol):
    """The operations, on the home or through the admin API (``--server``); answers as the
    admin API's JSON."""

    def add(self, office: str, operator_id: str, *, name: str, role: str) -> dict[str, Any]: ...
    def reset(self, office: str, operator_id: str) -> dict[str, Any]: ...
    def disable(self, office: str, operator_id: str) -> dict[str, Any]: ...
    def list(self, office: str) -> dict[str, Any]: ...


class LocalStaff:
    """:class:`StaffOps` on the district's home (each change in its admin audit log)."""

    def __init__(self, home: _Home) -> None:
        self._home, self._staff = home, DistrictOperators(home.keys())

    def _record(self, action: str, office: str, operator_id: str) -> None:
        self._home.record(action, ("office", office), ("operator", f"{office}:{operator_id}"))

    def add(self, office: str, operator_id: str, *, name: str, role: str) -> dict[str, Any]:
        given = self._staff.add(office, operator_id, name=name, role=role)
        self._record("operator.add", office, operator_id)
        return {"id": operator_id, "pin": given.pin, "version": given.version,
                "pin_expires_s": given.operator.pin_expires_s}  # fmt: skip

    def reset(self, office: str, operator_id: str) -> dict[str, Any]:
        given = self._staff.reset(office, operator_id)
        self._record("operator.reset", office, operator_id)
        return {"id": operator_id, "pin": given.pin, "version": given.version,
                "pin_expires_s": given.operator.pin_expires_s}  # fmt: skip

    def disable(self, office: str, operator_id: str) -> dict[str, Any]:
        version = self._staff.disable(office, operator_id)
        self._record("operator.disable", office, operator_id)
        return {"id": operator_id, "state": "disabled", "version": version}

    def list(self, office: str) -> dict[str, Any]:
        version, records = self._staff.list(office)
        return {"office": office, "version": version,
                "operators": [operator_json(r) for r in records],
                "kiosks": self._staff.kiosks(office)}  # fmt: skip


def run(args: argparse.Namespace, home: _Home | RemoteDistrict) -> None:
    staff: StaffOps = home.staff() if isinstance(home, RemoteDistrict) else LocalStaff(home)
    office, action = args.office, args.action
    if action == "list":
        listed = staff.list(office)
        if args.json:
            print(json.dumps(listed, indent=2, ensure_ascii=False))
            return
        if not listed["operators"]:
            print(f"no operators for {office} yet")
            return
        print(f"office {office}, list version {listed['version']}")
        for k in listed.get("kiosks", []):
            held = k["operators_version"]
            print(
                f"kiosk {k['device_id']}: "
                + ("has not reported its list" if held is None else f"holds version {held}")
            )
        for o in listed["operators"]:
            pin = f"one-time PIN until {_iso(o['pin_expires_s'])}" if o["pin_pending"] else "-"
            where = o["origin"] if o["device_id"] is None else f"{o['origin']} ({o['device_id']})"
            print(f"{o['id']}\t{o['role']}\t{o['state']}\t{where}\t{o['name'] or '-'}\t{pin}")
        return
    if action == "disable":
        done = staff.disable(office, args.operator_id)
        if args.json:
            print(json.dumps(done))
        else:
            print(f"operator {args.operator_id} disabled at {office} (list version "
                  f"{done['version']}): the kiosks refuse their sign-in from their next feed "
                  "answer")  # fmt: skip
        return
    if action == "add":
        role = "supervisor" if args.supervisor else "staff"
        given = staff.add(office, args.operator_id, name=args.name, role=role)
    else:
        given = staff.reset(office, args.operator_id)
    if args.json:
        print(json.dumps(given))
        return
    print(given["pin"])
    hours = ONE_TIME_PIN_VALID_S // 3600
    print(f"(the one-time PIN of {args.operator_id} at {office}, shown only now: tell it to "
          f"them; it works once within {hours} h, then they choose their own PIN)",
          file=sys.stderr)  # fmt: skip
