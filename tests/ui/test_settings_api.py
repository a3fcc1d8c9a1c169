"""The settings API (``/api/settings*``): what a supervisor sees and may change, also on an
install without the ``printers`` extra (:mod:`tests.without_printers.sitecustomize`)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import SUPERVISOR, Api
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


def test_settings_with_the_printer_drivers_miss_nothing(api: Api) -> None:
    body = api.call("GET", "/api/settings", headers=_unlocked(api)).json()
    assert body["missing"] == []
