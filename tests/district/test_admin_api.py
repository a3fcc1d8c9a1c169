"""The admin API (issue 17 items 1, 2 and 7; ADR 0022) over real HTTP on loopback: every
route with each role (allowed and refused), token scopes, console sessions with CSRF and
Origin checks, lockout, a bundle pushed by multipart upload, the timeline, the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from district.identity import CLI
from tests.district.adminlab import OFFICE, PASSWORD, Admin, admin_server, push_form

STORES = ("sqlite", "postgresql")  # every test runs on both stores (conftest)


@pytest.fixture
def admin(tmp_path: Path, db_url: str | None) -> Iterator[Admin]:
    with admin_server(tmp_path, db_url) as server:
        yield server


# (method, path, body, least role allowed)
ROUTES: list[tuple[str, str, dict[str, object] | None, str]] = [
    ("GET", "/me", None, "viewer"),
    ("GET", "/jobs", None, "viewer"),
    ("GET", "/offices", None, "viewer"),
    ("GET", "/devices", None, "viewer"),
    ("GET", "/audit", None, "viewer"),
    ("GET", "/releases", None, "viewer"),
    ("POST", "/offices", {"code": "74.08.01.2003", "name": "Desa Lain"}, "operator"),
    ("POST", f"/offices/{OFFICE}/enroll-codes", {"valid_s": 3600}, "operator"),
    ("POST", "/jobs/job_01JD0000000000000000000009/cancel", {"reason": "duplicate"}, "operator"),
    ("GET", "/users", None, "admin"),
    (
        "POST",
        "/users",
        {"user_id": "baru", "name": "Baru", "role": "viewer", "password": PASSWORD},
        "admin",
    ),
    ("POST", "/keys/rotate", None, "admin"),
    ("POST", "/devices/dev_01JD0000000000000000000009/revoke", None, "admin"),
    ("POST", "/devices/dev_01JD0000000000000000000009/rotate-seal", None, "admin"),
]
RANK = {"viewer": 0, "operator": 1, "admin": 2}


@pytest.mark.parametrize(
    ("method", "path", "body", "least"), ROUTES, ids=[f"{m} {p}" for m, p, _, _ in ROUTES]
)
def test_each_route_with_each_role(
    admin: Admin, method: str, path: str, body: dict[str, object] | None, least: str
) -> None:
    anonymous = admin.call(method, path, json=body)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    for role, rank in RANK.items():
        answer = admin.call(method, path, role, json=body)
        if rank < RANK[least]:
            assert answer.status_code == 403, (role, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
        else:  # allowed: a success, or the operation's own refusal (no such job/device)
            assert answer.status_code in {200, 201, 400}, (role, answer.text)
            if answer.status_code == 400:
                assert answer.json()["error"]["code"] == "refused"
                assert "no job" in answer.text or "no device" in answer.text
            break  # a success changes state: the higher roles are covered by the scope table


def test_a_bundle_is_pushed_by_upload_and_its_timeline_shown(admin: Admin) -> None:
    data, files = push_form(3)
    answer = admin.call("POST", "/jobs", "operator", data=data, files=files)
    assert answer.status_code == 201, answer.text
    pushed = answer.json()
    assert pushed["claim_code"] and pushed["job_id"].startswith("job_")
    listed = admin.call("GET", f"/jobs?office={OFFICE}", "viewer").json()
    assert [j["job_id"] for j in listed["jobs"]] == [pushed["job_id"]]
    assert "Test Resident" not in admin.call("GET", "/jobs", "viewer").text
    timeline = admin.call("GET", f"/jobs/{pushed['job_id']}", "viewer").json()["timeline"]
    assert [t["event"] for t in timeline] == ["pushed"]

    cancelled = admin.call(
        "POST", f"/jobs/{pushed['job_id']}/cancel", "operator", json={"reason": "duplicate"}
    )
    assert cancelled.status_code == 200, cancelled.text
    timeline = admin.call("GET", f"/jobs/{pushed['job_id']}", "viewer").json()["timeline"]
    assert [t["event"] for t in timeline] == ["pushed", "cancelled_by_district"]
    records = admin.call("GET", "/audit", "viewer").json()["records"]
    pushes = [r for r in records if r["action"] in {"job.push", "job.cancel"}]
    assert [(r["action"], r["remote"]) for r in pushes] == [
        ("job.push", "127.0.0.1"),
        ("job.cancel", "127.0.0.1"),
    ]
    assert all(r["actor"].startswith("token:") for r in pushes)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"release": "later"}, "release: claim, staff or auto"),
        ({"office": "74.08.01.9999"}, "unknown office"),
        ({"copies": "x"}, "copies: a whole number"),
    ],
)
def test_a_bad_push_is_refused_like_the_command_line(
    admin: Admin, change: dict[str, str], says: str
) -> None:
    data, files = push_form(1)
    data = [(k, change.get(k, v)) for k, v in data]
    answer = admin.call("POST", "/jobs", "operator", data=data, files=files)
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]


def test_a_push_with_a_missing_type_or_no_multipart_is_refused(admin: Admin) -> None:
    data, files = push_form(2)
    answer = admin.call("POST", "/jobs", "operator", data=data[:-1], files=files)
    assert answer.status_code == 400 and "one 'type' field" in answer.text
    answer = admin.call("POST", "/jobs", "operator", json={"office": OFFICE})
    assert answer.status_code == 400 and "multipart/form-data" in answer.text


def test_a_token_acts_only_within_its_scopes(admin: Admin) -> None:
    narrow = admin.identity.create_token(
        CLI, user_id="operator.user", label="read only", scopes=["jobs:read"], lifetime_s=3600
    ).text
    headers = {"Authorization": f"Bearer {narrow}"}
    assert admin.call("GET", "/jobs", headers=headers).status_code == 200
    data, files = push_form(1)
    answer = admin.call("POST", "/jobs", headers=headers, data=data, files=files)
    assert answer.status_code == 403 and "jobs:push" in answer.text
    me = admin.call("GET", "/me", headers=headers).json()
    assert me["scopes"] == ["jobs:read"] and me["actor"].startswith("token:")


def sign_in(admin: Admin, user: str = "operator.user") -> tuple[requests.Session, str]:
    session = requests.Session()
    answer = session.post(
        admin.url + "/admin/v1/session", json={"user_id": user, "password": PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    return session, answer.json()["csrf"]


def test_a_console_session_needs_its_csrf_token_and_same_origin_for_changes(
    admin: Admin,
) -> None:
    session, csrf = sign_in(admin)
    base = admin.url + "/admin/v1"
    assert session.get(base + "/me", timeout=30).json()["user_id"] == "operator.user"
    body = {"code": "74.08.01.2004", "name": "Desa Baru"}
    refused = session.post(base + "/offices", json=body, timeout=30)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    cross = session.post(
        base + "/offices",
        json=body,
        timeout=30,
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    done = session.post(
        base + "/offices",
        json=body,
        timeout=30,
        headers={"X-CSRF-Token": csrf, "Origin": admin.url},
    )
    assert done.status_code == 201, done.text

    out = session.delete(base + "/session", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert out.status_code == 204
    stale = requests.get(base + "/me", cookies={"cedoka_session": "x" * 43}, timeout=30)
    assert stale.status_code == 401
    assert session.get(base + "/me", timeout=30).status_code == 401


def test_guessing_a_password_locks_the_user_over_http(admin: Admin) -> None:
    base = admin.url + "/admin/v1"
    for _ in range(5):
        wrong = requests.post(
            base + "/session",
            timeout=30,
            json={"user_id": "viewer.user", "password": "not-the-password"},
        )
        assert wrong.status_code == 401
    right = requests.post(
        base + "/session", timeout=30, json={"user_id": "viewer.user", "password": PASSWORD}
    )
    assert right.status_code == 429 and right.json()["error"]["code"] == "locked"
    assert int(right.headers["Retry-After"]) == 900


def test_the_admin_api_has_its_own_openapi_document(admin: Admin) -> None:
    doc = requests.get(admin.url + "/admin/v1/openapi.json", timeout=30).json()
    assert {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/cancel",
        "/devices",
        "/users",
        "/tokens",
        "/audit",
        "/session",
        "/offices",
    } <= set(doc["paths"])
    device_doc = requests.get(admin.url + "/openapi.json", timeout=30).json()
    assert not any(path.startswith("/admin") for path in device_doc["paths"])


def test_a_job_past_printing_cannot_be_cancelled_and_a_reason_is_required(admin: Admin) -> None:
    from kiosk.lifecycle import JobEvent, JobState
    from tests.district.test_webhooks import report

    job_id = str(admin.push("operator")["job_id"])
    no_reason = admin.call("POST", f"/jobs/{job_id}/cancel", "operator", json={})
    assert no_reason.status_code == 400
    bad_reason = admin.call(
        "POST", f"/jobs/{job_id}/cancel", "operator", json={"reason": "Budi asked"}
    )
    assert bad_reason.status_code == 400 and "use one of" in bad_reason.text
    report(admin, job_id, JobEvent.PRINT_DONE, JobState.PRINTED, 7)
    late = admin.call("POST", f"/jobs/{job_id}/cancel", "operator", json={"reason": "duplicate"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "past_printing"


def test_people_change_their_own_password_and_second_factor(admin: Admin) -> None:
    new_password = "pitulua-baru-2026"
    path = "/users/operator.user/password"
    assert admin.call("POST", path, "viewer", json={"password": new_password}).status_code == 403
    done = admin.call("POST", path, "operator", json={"password": new_password})
    assert done.status_code == 200, done.text
    base = admin.url + "/admin/v1/session"
    old = requests.post(base, json={"user_id": "operator.user", "password": PASSWORD}, timeout=30)
    assert old.status_code == 401
    totp = admin.call("POST", "/users/operator.user/totp", "operator")
    assert totp.status_code == 200 and totp.json()["otpauth_uri"].startswith("otpauth://totp/")
    asked = requests.post(
        base, json={"user_id": "operator.user", "password": new_password}, timeout=30
    )
    assert asked.status_code == 401 and asked.json()["error"]["code"] == "totp_required"


def test_kiosks_show_their_clock_offset(admin: Admin) -> None:
    import time

    from kiosk.report import Heartbeat, heartbeat_body

    beat = Heartbeat("cedoka/0.1.1", int(time.time()) + 120, 0, 1, 1, {}, (), None, ())
    assert admin.kiosk.call("POST", "/v1/heartbeat", heartbeat_body(beat)).status_code == 200
    (device,) = admin.call("GET", "/devices", "viewer").json()["devices"]
    assert 115 <= device["clock_offset_s"] <= 125
    assert device["agent"] == "cedoka/0.1.1"


NUL_REQUESTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/jobs?office=74.08%00", None),
    ("GET", "/tokens?user_id=a%00", None),
    ("GET", "/jobs/job_%00", None),
    ("POST", "/offices", {"code": "74.08.01.2003", "name": "Desa\u0000Lain"}),
    ("POST", "/users", {"user_id": "b\u0000", "name": "B", "role": "viewer", "password": PASSWORD}),
    ("POST", "/jobs/job_01JD0000000000000000000009/cancel", {"reason": "dup\u0000"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS)
def test_a_nul_anywhere_is_a_client_error_on_either_store(
    admin: Admin, method: str, path: str, body: dict[str, object] | None
) -> None:
    """PostgreSQL text cannot hold NUL: asked for one it fails rather than finding nothing.
    The edge refuses it in a target and the body models in a text field: 400 malformed."""
    answer = admin.call(method, path, role="admin", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "malformed"


NUL_FIELDS = [("office", OFFICE + "\x00"), ("resident", "A\x00B"), ("type", "KK\x00"),
              ("release", "claim\x00")]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), NUL_FIELDS)
def test_a_push_form_field_holding_nul_is_refused_on_either_store(
    admin: Admin, field: str, value: str
) -> None:
    data, files = push_form(1)
    data = [(name, value if name == field else text) for name, text in data]
    answer = admin.call("POST", "/jobs", "operator", data=data, files=files)
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["error"]["message"]
