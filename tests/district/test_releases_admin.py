"""Agent releases in the admin API (issue 19 item 1, ADR 0031) over real HTTP on loopback:
``GET /admin/v1/releases`` (each release's stage, the kiosks running it, the kiosks that
report a failed update to it) and ``POST /admin/v1/releases/{V}/promote`` (admin only;
refused with the command to run elsewhere when the targets key is kept off the server), on
both stores; and what ``cedoka-district devices`` shows of a kiosk's failed update."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from district import cli as district_cli
from district.releases import write_archive
from kiosk.report import Heartbeat, UpdateReport, heartbeat_body
from tests.district.adminlab import OFFICE, Admin, admin_server

STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


@pytest.fixture
def admin(tmp_path: Path, db_url: str | None) -> Iterator[Admin]:
    with admin_server(tmp_path, db_url) as server:
        yield server


def district(admin: Admin, *argv: str) -> int:
    return district_cli.main(["--home", str(admin.home), *argv])


def publish(admin: Admin, version: str, work: Path) -> None:
    archive = work / f"cedoka-{version}.tar.gz"
    write_archive(archive, version, [], [])
    assert district(admin, "release", "publish", str(archive), "--version", version) == 0


def beat(admin: Admin, agent: str, update: UpdateReport | None) -> None:
    body = heartbeat_body(Heartbeat(agent, int(time.time()), 0, 1, 1, {}, (), None, (),
                                    update=update))  # fmt: skip
    answer = admin.kiosk.call("POST", "/v1/heartbeat", body)
    assert answer.status_code == 200, answer.text


def test_releases_and_the_kiosks_running_them(admin: Admin, tmp_path: Path) -> None:
    empty = admin.call("GET", "/releases", "viewer").json()
    assert empty["repository"] is False and empty["releases"] == []
    assert empty["unknown_version"] == 0  # the enrolled kiosk said cedoka/0.1.0 at enrolment
    assert empty["versions"] == [{"version": "0.1.0", "kiosks": 1}]
    assert district(admin, "release", "init") == 0
    publish(admin, "0.2.0", tmp_path)
    publish(admin, "0.3.0", tmp_path)
    beat(admin, "cedoka/0.2.0", UpdateReport(int(time.time()), "rolled_back", "0.3.0",
                                             "unhealthy"))  # fmt: skip
    listed = admin.call("GET", "/releases", "viewer").json()
    assert listed["repository"] is True and listed["promote_online"] is True
    assert [r["version"] for r in listed["releases"]] == ["0.3.0", "0.2.0"]  # newest first
    new, old = listed["releases"]
    assert (new["percent"], new["offices"], new["kiosks"], new["failed"]) == (0, [], 0, 1)
    assert (old["kiosks"], old["failed"], old["waiting"]) == (1, 0, 0)
    assert len(old["sha256"]) == 64 and old["length"] > 0
    assert listed["versions"] == [{"version": "0.2.0", "kiosks": 1}]
    (device,) = admin.call("GET", "/devices", "viewer").json()["devices"]
    assert device["update"] == {"at": device["update"]["at"], "result": "rolled_back",
                                "version": "0.3.0", "reason": "unhealthy"}  # fmt: skip


def test_promote_from_the_admin_api(admin: Admin, tmp_path: Path) -> None:
    path = "/releases/0.2.0/promote"
    missing = admin.call("POST", path, "admin", json={"percent": 10})
    assert missing.status_code == 404 and "release init" in missing.json()["error"]["message"]
    assert district(admin, "release", "init") == 0
    publish(admin, "0.2.0", tmp_path)
    for role in ("viewer", "operator"):  # widening a roll-out is district IT's admin's
        refused = admin.call("POST", path, role, json={"percent": 10})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert admin.call("POST", path, json={"percent": 10}).status_code == 401
    done = admin.call("POST", path, "admin", json={"percent": 10, "offices": [OFFICE]})
    assert done.status_code == 200, done.text
    assert done.json() == {"version": "0.2.0", "percent": 10, "offices": [OFFICE]}
    assert district(admin, "release", "list", "--json") == 0  # the signed metadata says so
    for body, status, text in (
        ({"percent": 5}, 400, "only widens"),
        ({}, 400, "percent and/or offices"),
        ({"offices": ["74.08.09.9999"]}, 400, "unknown office"),
        ({"percent": 101}, 400, "does not parse"),
        ({"percent": "ten"}, 400, "does not parse"),
        ({"offices": ["74.08\u0000"]}, 400, "does not parse"),  # no NUL reaches PostgreSQL
        ({"offices": ["x" * 33]}, 400, "does not parse"),
    ):
        answer = admin.call("POST", path, "admin", json=body)
        assert answer.status_code == status and text in answer.text, (body, answer.text)
    unknown = admin.call("POST", "/releases/0.9.0/promote", "admin", json={"percent": 5})
    assert unknown.status_code == 404 and "not published" in unknown.text
    bad = admin.call("POST", "/releases/v1/promote", "admin", json={"percent": 5})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "refused"
    records = admin.call("GET", "/audit", "admin").json()["records"]
    promoted = [r for r in records if r["action"] == "release.promote"]
    assert [r["targets"] for r in promoted] == [[["release", "0.2.0"]]]
    assert promoted[0]["actor"].startswith("token:")  # the admin's API token


def test_promote_with_the_targets_key_offline_names_the_command(
    admin: Admin, tmp_path: Path
) -> None:
    assert district(admin, "release", "init") == 0
    publish(admin, "0.2.0", tmp_path)
    usb = tmp_path / "usb"
    usb.mkdir(mode=0o700)
    (admin.home / "keys" / "tuf-targets.pem").rename(usb / "tuf-targets.pem")
    listed = admin.call("GET", "/releases", "viewer").json()
    assert listed["promote_online"] is False
    assert listed["promote_command"].startswith("cedoka-district release --keys DIR promote")
    answer = admin.call("POST", "/releases/0.2.0/promote", "admin", json={"percent": 25})
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "key_offline"
    assert "cedoka-district release --keys DIR promote 0.2.0 --percent 25" in error["message"]
    assert [r["percent"] for r in admin.call("GET", "/releases", "viewer").json()["releases"]] == [
        0
    ]


def test_devices_command_shows_a_failed_update(
    admin: Admin, db_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    db = () if db_url is None else ("--db", db_url)
    beat(admin, "cedoka/0.2.0", UpdateReport(int(time.time()), "failed", "0.3.0",
                                             "selftest_failed"))  # fmt: skip
    capsys.readouterr()
    assert district(admin, *db, "devices") == 0
    assert "cedoka/0.2.0 (0.3.0 failed selftest_failed)" in capsys.readouterr().out
    assert district(admin, *db, "devices", "--json") == 0
    (device,) = json.loads(capsys.readouterr().out)
    assert device["update"]["result"] == "failed"
    beat(admin, "cedoka/0.3.0", UpdateReport(int(time.time()), "updated", "0.3.0"))
    assert district(admin, *db, "devices") == 0
    listed = capsys.readouterr().out
    assert "cedoka/0.3.0" in listed and "updated" not in listed  # nothing to see: it went well


def test_a_heartbeat_with_a_bad_update_member_is_refused(admin: Admin) -> None:
    """Protocol §12: an ``update`` that does not fit the table refuses the heartbeat."""
    good = heartbeat_body(Heartbeat("cedoka/0.2.0", int(time.time()), 0, 1, 1, {}, (), None, ()))
    bad = good[:-1] + b',"update":{"at":1,"result":"exploded","version":"0.3.0","reason":null}}'
    answer = admin.kiosk.call("POST", "/v1/heartbeat", bad)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed"
    unknown_reason = good[:-1] + (b',"update":{"at":1,"result":"failed","version":"0.3.0",'
                                  b'"reason":"some_new_reason"}}')  # fmt: skip
    assert admin.kiosk.call("POST", "/v1/heartbeat", unknown_reason).status_code == 200
    (device,) = admin.call("GET", "/devices", "viewer").json()["devices"]
    assert device["update"]["reason"] == "some_new_reason"
