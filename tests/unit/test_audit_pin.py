"""The audit chain (kiosk.audit) and operator PINs (kiosk.pin), pure."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.audit import (
    AuditEntry,
    AuditRecord,
    append,
    check_chain,
    genesis,
    record_bytes,
    record_from_bytes,
    sign_record,
    verify_record,
)
from kiosk.errors import Reason, RejectedError
from kiosk.pin import PinError, check_pin_rules, hash_pin, one_time_pin, pin_matches

DEVICE = "dev_01JD3V6Q8X4M2T7R5W9Y0ZB1CE"
JOB = "job_01JD3V6Q8X4M2T7R5W9Y0ZB1CF"
EVENT = "evt_01JD3V6Q8X4M2T7R5W9Y0ZB1CG"


def _chain(n: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for i in range(n):
        entry = AuditEntry(
            at_s=1_800_000_000 + i,
            action="print",
            outcome="printed",
            operator="siti",
            job_id=JOB,
            doc_types=("KK",),
            printer="a4",
        )
        records.append(append(records[-1] if records else None, entry, device_id=DEVICE))
    return records


def test_an_intact_chain_has_no_problems() -> None:
    chain = _chain(4)
    assert chain[0].prev == genesis(DEVICE) and chain[1].prev == chain[0].hash
    assert check_chain(chain, device_id=DEVICE) == []
    assert check_chain(chain, device_id="dev_01JD3V6Q8X4M2T7R5W9Y0ZB1CH") != []  # per device


def test_deleted_reordered_or_altered_records_are_found() -> None:
    chain = _chain(4)
    assert check_chain([chain[0], chain[2], chain[3]], device_id=DEVICE) == [
        "records 2..2 are missing"
    ]
    assert check_chain(chain[1:], device_id=DEVICE) == ["records 1..1 are missing"]
    altered = dataclasses.replace(
        chain[2], entry=dataclasses.replace(chain[2].entry, outcome="failed")
    )
    assert check_chain([chain[0], chain[1], altered, chain[3]], device_id=DEVICE) == [
        "record 3 was altered"
    ]
    rehashed = append(chain[1], altered.entry, device_id=DEVICE)  # a forger recomputes one hash
    assert check_chain([chain[0], chain[1], rehashed, chain[3]], device_id=DEVICE) == [
        "record 4 does not follow record 3"
    ]


def test_records_round_trip_signed_and_stored() -> None:
    key = Ed25519PrivateKey.generate()
    record = _chain(2)[1]
    token = sign_record(record, event_id=EVENT, device_id=DEVICE, district_code="74.08", key=key)
    assert verify_record(token, device_id=DEVICE, device_key=key.public_key(),
                         district_code="74.08") == (EVENT, record)  # fmt: skip
    with pytest.raises(RejectedError) as other:
        verify_record(token, device_id=DEVICE, device_key=key.public_key(), district_code="74.09")
    assert other.value.reason is Reason.WRONG_AUDIENCE
    data = record_bytes(record, device_id=DEVICE)
    assert record_from_bytes(data, record.hash, device_id=DEVICE) == record
    with pytest.raises(RejectedError):
        record_from_bytes(data.replace(b"printed", b"spoiled"), record.hash, device_id=DEVICE)


@pytest.mark.parametrize(
    "change",
    [{"action": "delete_everything"}, {"outcome": "Siti Nurhaliza"}, {"operator": "SITI X"},
     {"reason": "3201234567890123"}, {"doc_types": ("Akta milik Siti",)}, {"job_id": "job_1"},
     {"printer": "laser"}, {"at_s": -1}, {"old": "cups:Kantor"},
     {"printer": "a4", "new": "Siti Nurhaliza"}, {"printer": "a4", "new": "escpos:tcp://h:9100"},
     {"printer": "receipt", "old": "cups:Kantor"}, {"printer": "a4", "old": "virtual:rel/dir"},
     {"printer": "a4", "new": "cups:" + "x" * 200}],
)  # fmt: skip
def test_no_free_text_can_enter_a_record(change: dict[str, object]) -> None:
    base = {"at_s": 1, "action": "login", "outcome": "ok"}
    with pytest.raises((ValueError, RejectedError)):
        AuditEntry(**{**base, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize("pin", ["1234", "9876", "0000", "123", "123456789", "12a4", "٣٤٥٦",
                                 "8901", "3210"])  # fmt: skip
def test_weak_or_malformed_pins_are_refused(pin: str) -> None:
    with pytest.raises(PinError):
        check_pin_rules(pin)


def test_pins_are_stored_as_salted_scrypt_only() -> None:
    counter = itertools.count()
    stored = hash_pin("2580", random_bytes=lambda n: bytes(next(counter) % 256 for _ in range(n)))
    assert stored.startswith("scrypt$16384$8$1$") and "2580" not in stored
    assert pin_matches("2580", stored) and not pin_matches("2581", stored)
    assert hash_pin("2580", random_bytes=lambda n: b"\x01" * n) != stored  # salted
    for broken in ("", "scrypt$1$8$1$AA$AA", "scrypt$16384$8$1$!!$AA", "md5$x",
                   "scrypt$4194304$8$1$AAAA$AAAA"):  # fmt: skip
        assert not pin_matches("2580", broken)
    assert not pin_matches("٢٥٨٠", stored)


def test_a_printer_change_carries_the_printer_before_and_after() -> None:
    """Issue 14: ``old``/``new`` (printer URIs of the record's role, as the configuration
    writes them) are hashed, signed and read back like every other member."""
    key = Ed25519PrivateKey.generate()
    entry = AuditEntry(at_s=5, action="settings", outcome="ok", operator="budi", printer="a4",
                       reason="printers", old="cups:Kantor", new="virtual:/srv/out")  # fmt: skip
    record = append(None, entry, device_id=DEVICE)
    token = sign_record(record, event_id=EVENT, device_id=DEVICE, district_code="74.08", key=key)
    assert verify_record(token, device_id=DEVICE, device_key=key.public_key(),
                         district_code="74.08") == (EVENT, record)  # fmt: skip
    data = record_bytes(record, device_id=DEVICE)
    assert b'"old":"cups:Kantor"' in data and b'"new":"virtual:/srv/out"' in data
    assert record_from_bytes(data, record.hash, device_id=DEVICE) == record
    with pytest.raises(RejectedError):  # the printer after is part of the hash
        record_from_bytes(data.replace(b"/srv/out", b"/srv/own"), record.hash, device_id=DEVICE)
    removed = AuditEntry(at_s=6, action="settings", outcome="ok", printer="receipt",
                         reason="printers", old="escpos:usb:0416:5011")  # fmt: skip
    assert "new" not in record_bytes(append(record, removed, device_id=DEVICE),
                                     device_id=DEVICE).decode()  # fmt: skip


def test_one_time_pin_meets_the_rules_and_skips_forbidden_draws() -> None:
    import secrets

    for _ in range(200):
        pin = one_time_pin(secrets.randbelow)
        assert len(pin) == 6
        check_pin_rules(pin)
    # A source that first draws a run (123456) and a repeat (000000) is drawn again.
    draws = iter([1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 4, 0, 7, 1, 9, 2])
    assert one_time_pin(lambda _k: next(draws)) == "407192"
    with pytest.raises(PinError):
        one_time_pin(secrets.randbelow, digits=3)
