"""The settings API (``/api/settings*``): what a supervisor sees and may change, also on an
install without the ``printers`` extra (:mod:`tests.without_printers.sitecustomize`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.operators import PIN_POLICY
from printers import detect
from tests.printers.fake_sysfs import fake_sysfs
from tests.ui.conftest import STAFF, SUPERVISOR, Api
from tests.without_printers.sitecustomize import refuse_printer_drivers


def _unlocked(api: Api) -> dict[str, str]:
    api.login(SUPERVISOR[0], SUPERVISOR[2])
    ticket = api.call("POST", "/api/settings/unlock", json={"pin": SUPERVISOR[2]})
    assert ticket.status_code == 200, ticket.text
    return {"x-cedoka-settings": ticket.json()["settings_ticket"]}


def test_settings_without_the_printer_drivers_say_so_and_keep_working(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default demo (no pycups, no python-escpos) answered the settings with HTTP 500."""
    refuse_printer_drivers(monkeypatch)
    headers = _unlocked(api)
    current = api.call("GET", "/api/settings", headers=headers)
    assert current.status_code == 200, current.text
    body = current.json()
    assert body["queues"] == []
    missing = {m["code"]: m for m in body["missing"]}
    assert set(missing) == {"cups_missing", "escpos_missing"}
    assert missing["cups_missing"]["message_id"].startswith("CUPS tidak terpasang")
    assert missing["cups_missing"]["message_en"].startswith("CUPS is not installed")
    changed = api.call("POST", "/api/settings", headers=headers, json={"language": "en"})
    assert changed.status_code == 200 and changed.json()["language"] == "en"
    page = api.call("POST", "/api/settings/test-page", headers=headers, json={"role": "a4"})
    assert page.json() == {"role": "a4", "state": "submitted"}  # the virtual printer
    to_cups = api.call("POST", "/api/settings", headers=headers,
                       json={"printers": {"a4": "cups:Kantor_A4"}})  # fmt: skip
    assert to_cups.status_code == 200 and to_cups.json()["printers"]["a4"] == "cups:Kantor_A4"
    refused = api.call("POST", "/api/settings/test-page", headers=headers, json={"role": "a4"})
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "cups_missing"
    assert refused.json()["error"]["message_id"].startswith("CUPS tidak terpasang")
    state = api.call("GET", "/api/state").json()
    [a4] = [p for p in state["printers"] if p["role"] == "a4"]
    assert a4["state"] == "unknown" and a4["reasons"] == ["cups-not-installed"]
    enable = api.call("POST", "/api/printers/a4/enable", json={})
    assert enable.status_code == 409 and enable.json()["error"]["code"] == "cups_missing"


def test_settings_with_the_printer_drivers_miss_nothing(api: Api) -> None:
    body = api.call("GET", "/api/settings", headers=_unlocked(api)).json()
    assert body["missing"] == []


def test_a_supervisor_opens_the_settings_on_a_staff_session(api: Api) -> None:
    """Issue 16: on a staff member's session the supervisor's correct PIN was refused and
    counted against the staff member. Now the supervisor names themself; their PIN is
    checked and counted as theirs, and the changes are recorded under them."""
    assert api.token is not None  # STAFF is signed in
    not_one = api.call(
        "POST", "/api/settings/unlock", json={"pin": STAFF[2], "supervisor": STAFF[0]}
    )
    assert not_one.status_code == 403 and not_one.json()["error"]["code"] == "not_supervisor"
    assert not_one.json()["error"]["message_id"] == "Hanya penyelia yang boleh mengubah pengaturan."
    for _ in range(PIN_POLICY.max_failures):
        wrong = api.call("POST", "/api/settings/unlock",
                         json={"pin": "9999", "supervisor": SUPERVISOR[0]})  # fmt: skip
        assert wrong.json()["error"]["code"] in {"pin_wrong", "operator_locked"}
    locked = api.call("POST", "/api/settings/unlock",
                      json={"pin": SUPERVISOR[2], "supervisor": SUPERVISOR[0]})  # fmt: skip
    assert locked.json()["error"]["code"] == "operator_locked"  # the supervisor's count
    api.agent.operators.set_pin(SUPERVISOR[0], SUPERVISOR[2])  # lifts the lock
    staff_pin = api.call("POST", "/api/login", json={"operator": STAFF[0], "pin": STAFF[2]})
    assert staff_pin.status_code == 200  # the staff member was never counted

    opened = api.call("POST", "/api/settings/unlock",
                      json={"pin": SUPERVISOR[2], "supervisor": SUPERVISOR[0]})  # fmt: skip
    assert opened.status_code == 200, opened.text
    assert opened.json()["supervisor"] == {"id": SUPERVISOR[0], "name": SUPERVISOR[1],
                                           "role": "supervisor"}  # fmt: skip
    headers = {"x-cedoka-settings": opened.json()["settings_ticket"]}
    assert api.call("POST", "/api/settings", headers=headers, json={"language": "en"}).ok
    [change] = [e for e in api.call("GET", "/api/history").json()["entries"]
                if e["action"] == "settings" and e["outcome"] == "ok"]  # fmt: skip
    assert change["operator"] == SUPERVISOR[0]
    refused = [e for e in api.call("GET", "/api/history").json()["entries"]
               if e["action"] == "settings" and e["outcome"] == "refused"]  # fmt: skip
    assert refused and {e["operator"] for e in refused} == {STAFF[0], SUPERVISOR[0]}
    assert all(e["reason"] != "pin_wrong" or e["operator"] == SUPERVISOR[0] for e in refused)

    api.agent.operators.remove(SUPERVISOR[0])  # the grant ends with its supervisor
    gone = api.call("GET", "/api/settings", headers=headers)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "settings_locked"
    assert gone.json()["error"]["message_id"] == "Masukkan PIN penyelia."


def test_the_test_receipt_is_marked_test(api: Api) -> None:
    """Issue 16: the settings' test receipt looked like a real hand-over receipt."""
    headers = _unlocked(api)
    slip = api.call("POST", "/api/settings/test-page", headers=headers, json={"role": "receipt"})
    assert slip.json() == {"role": "receipt", "state": "submitted"}
    [printed] = api.receipts.glob("receipt-TEST-*.txt")
    lines = printed.read_text().splitlines()
    assert "STRUK UJI / TEST" in lines[0] and "STRUK UJI / TEST" in lines[-2]  # [-1]: the QR
    assert "TANDA TERIMA DOKUMEN" not in printed.read_text()


def test_the_settings_offer_the_receipt_printers_found(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 16: the receipt printer was free text on a touch screen with no keyboard."""
    monkeypatch.setattr(detect, "SYSFS_USB", fake_sysfs(tmp_path / "sys"))
    headers = _unlocked(api)
    body = api.call("GET", "/api/settings", headers=headers).json()
    assert body["receipt_choices"][:2] == [
        {"uri": "escpos:usb:04b8:0e15", "label": "EPSON TM-T82", "source": "usb"},
        {"uri": "escpos:usb:0416:5011", "label": "USB 0416:5011", "source": "usb"},
    ]
    picked = api.call("POST", "/api/settings", headers=headers,
                      json={"printers": {"receipt": "escpos:usb:04b8:0e15"}})  # fmt: skip
    assert picked.json()["printers"]["receipt"] == "escpos:usb:04b8:0e15"
