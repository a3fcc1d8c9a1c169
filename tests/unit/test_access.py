"""kiosk.access and kiosk.admin_audit, table-driven (ADR 0022)."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk import access, admin_audit
from kiosk.access import Role, Scope
from kiosk.admin_audit import AdminEntry
from kiosk.errors import OperatorError


@pytest.mark.parametrize(
    ("failures", "locks", "seconds"),
    [(0, 0, 0), (4, 0, 0), (5, 0, 900), (5, 1, 1800), (5, 2, 3600), (5, 6, 57600), (5, 7, 86400),
     (5, 60, 86400)],
)  # fmt: skip
def test_lock_schedule_doubles_up_to_a_day(failures: int, locks: int, seconds: int) -> None:
    assert access.lock_seconds(failures, locks) == seconds


def test_roles_nest() -> None:
    viewer, operator, admin = (access.ROLE_SCOPES[r] for r in Role)
    assert viewer < operator < admin == frozenset(Scope)
    assert Scope.USERS_ADMIN not in operator and Scope.JOBS_PUSH not in viewer


@pytest.mark.parametrize(
    "text",
    ["", "cdk_", "cdk_abc_def", "CDK_aaaaaaaaaaaa_" + "A" * 43,
     "cdk_aaaaaaaaaaaa_" + "A" * 42, "cdk_aaaaaaaaaaaa_" + "A" * 44,
     "cdk_aaaaaaaaaaaa-" + "A" * 43, "cdk_AAAAAAAAAAAA_" + "A" * 43],
)  # fmt: skip
def test_malformed_tokens_are_not_tokens(text: str) -> None:
    assert access.parse_token(text) is None


def test_a_new_token_round_trips_and_only_its_digest_matches() -> None:
    counter = iter(range(256))
    token = access.new_token(lambda n: bytes(next(counter) for _ in range(n)))
    parsed = access.parse_token(str(token))
    assert parsed == token and access.TOKEN_ID.fullmatch(token.token_id)
    digest = access.token_digest(token.secret)
    assert access.token_matches(token.secret, digest)
    assert not access.token_matches(token.secret[:-1] + "x", digest)


@pytest.mark.parametrize(
    ("names", "role", "says"),
    [(["jobs:fly"], Role.ADMIN, "is not a scope"),
     (["users:admin"], Role.OPERATOR, "cannot give the scope users:admin"),
     (["jobs:push"], Role.VIEWER, "cannot give the scope jobs:push")],
)  # fmt: skip
def test_scopes_never_exceed_the_role(names: list[str], role: Role, says: str) -> None:
    with pytest.raises(OperatorError, match=says):
        access.check_scopes(names, role=role)


def test_totp_accepts_one_step_either_side_and_refuses_replays() -> None:
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    secret = bytes(range(20))
    totp = TOTP(secret, 6, SHA1(), 30, enforce_key_length=False)
    now = 1_790_000_010
    step = now // 30
    for offset in (-1, 0, 1):
        code = totp.generate((step + offset) * 30).decode()
        assert access.totp_step(code, secret, now_s=now, last_step=None) == step + offset
    code = totp.generate(now).decode()
    assert access.totp_step(code, secret, now_s=now, last_step=step) is None
    assert access.totp_step(totp.generate(now + 90).decode(), secret, now_s=now,
                            last_step=None) is None  # fmt: skip
    for bad in ("", "12345", "1234567", "12345a", "\uff11\uff12\uff13\uff14\uff15\uff16"):
        assert access.totp_step(bad, secret, now_s=now, last_step=None) is None


@pytest.mark.parametrize(
    "changes",
    [{"actor": "Budi Santoso"}, {"actor": "cli; drop"}, {"action": "login"},
     {"outcome": "OK!"}, {"targets": (("resident", "x"),)}, {"targets": (("job", "a b"),)},
     {"remote": "example.org"}, {"at_s": -1}],
)  # fmt: skip
def test_admin_entries_refuse_free_text(changes: dict[str, object]) -> None:
    job = ("job", "job_01JD0000000000000000000001")
    good = AdminEntry(at_s=1, actor="andi.s", action="job.push", outcome="ok", targets=(job,),
                      remote="::1")  # fmt: skip
    with pytest.raises(ValueError):
        dataclasses.replace(good, **changes)  # type: ignore[arg-type]


def test_the_admin_chain_shows_where_it_was_altered() -> None:
    records, prev = [], None
    for n in range(3):
        entry = AdminEntry(at_s=n, actor="cli", action="user.add", outcome="ok")
        prev = admin_audit.append(prev, entry, district_code="74.08")
        records.append(prev)
    assert admin_audit.check_chain(records, district_code="74.08") == []
    stored = [admin_audit.record_from_bytes(admin_audit.record_bytes(r), r.hash) for r in records]
    assert stored == records
    edited = dataclasses.replace(records[1], entry=dataclasses.replace(records[1].entry,
                                                                        actor="budi"))  # fmt: skip
    assert admin_audit.check_chain([records[0], edited, records[2]], district_code="74.08") == [
        "record 2 was altered"
    ]
    assert admin_audit.check_chain([records[0], records[2]], district_code="74.08") == [
        "records 2..2 are missing"
    ]
    assert admin_audit.check_chain(records, district_code="74.09") != []
