"""GET /admin/v1/devices/{id}/audit: a kiosk's audit trail with its chain checked, as
``cedoka-district audit`` shows it (the console's audit viewer reads it)."""

from __future__ import annotations

import time

from kiosk.audit import AuditEntry, AuditRecord, append, record_bytes
from tests.district.adminlab import Admin

STORES = ("sqlite", "postgresql")  # every test runs on both stores (tests/district/conftest)


def store_records(admin: Admin, records: list[AuditRecord]) -> None:
    device = admin.kiosk.device_id
    for r in records:
        status = admin.keys.store.add_audit(
            device_id=device, seq=r.seq, hash_=r.hash, at_s=r.entry.at_s,
            record=record_bytes(r, device_id=device), token=b"-", received_s=r.entry.at_s,
        )  # fmt: skip
        assert status == "stored"


def chain(admin: Admin, n: int) -> list[AuditRecord]:
    now, records = int(time.time()), []
    prev = None
    for i in range(n):
        action = ("login", "print", "handover")[i % 3]
        prev = append(prev, AuditEntry(now + i, action, "ok", operator="ani"),
                      device_id=admin.kiosk.device_id)  # fmt: skip
        records.append(prev)
    return records


def test_a_kiosks_audit_trail_with_its_chain_checked(admin: Admin) -> None:
    store_records(admin, chain(admin, 3))
    answer = admin.call("GET", f"/devices/{admin.kiosk.device_id}/audit", "viewer")
    assert answer.status_code == 200
    body = answer.json()
    assert body["problems"] == []
    assert [(r["seq"], r["action"], r["operator"]) for r in body["records"]] == [
        (1, "login", "ani"), (2, "print", "ani"), (3, "handover", "ani")]  # fmt: skip


def test_a_gap_in_the_chain_is_reported(admin: Admin) -> None:
    records = chain(admin, 3)
    store_records(admin, [records[0], records[2]])
    body = admin.call("GET", f"/devices/{admin.kiosk.device_id}/audit", "viewer").json()
    assert [r["seq"] for r in body["records"]] == [1, 3]
    assert body["problems"]


def test_unknown_device_and_no_caller_are_refused(admin: Admin) -> None:
    assert admin.call("GET", "/devices/dev_nope/audit", "viewer").status_code == 404
    assert admin.call("GET", f"/devices/{admin.kiosk.device_id}/audit").status_code == 401
