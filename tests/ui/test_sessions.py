"""Sessions and tickets: only staff actions keep a session alive; tickets do not slide."""

from __future__ import annotations

import pytest

from agent.operators import Operator
from ui.errors import ApiError
from ui.sessions import SESSION_IDLE_S, TICKET_TTL_S, Credentials, Ticket, _Store


def test_polling_does_not_keep_a_session_alive() -> None:
    now = [0.0]
    store: _Store[Operator] = _Store(SESSION_IDLE_S, sliding=True, clock=lambda: now[0])
    token = store.issue(Operator("siti", "Siti", "staff"))
    for _ in range(20):  # the queue screen polls for far longer than the idle limit
        now[0] += 60
        if store.get(token, slide=False) is None:
            break
    assert now[0] == SESSION_IDLE_S and store.get(token) is None
    token = store.issue(Operator("siti", "Siti", "staff"))
    for _ in range(20):  # a staff action every minute keeps it
        now[0] += 60
        assert store.get(token) is not None


def test_tickets_end_after_their_lifetime_whatever_happens() -> None:
    now = [0.0]
    store: _Store[Ticket] = _Store(TICKET_TTL_S, sliding=False, clock=lambda: now[0])
    token = store.issue(Ticket(("job_x",), "siti", "code"))
    now[0] += TICKET_TTL_S - 1
    assert store.get(token) is not None
    now[0] += 1
    assert store.get(token) is None and store.get("unknown") is None and store.get(None) is None


def test_a_session_ends_when_its_operator_is_removed_or_replaced() -> None:
    """Each check asks the operator store: removed → 401 ``operator_removed`` (and the
    session, tickets and settings ticket are dropped); an id removed and added again is
    another person, whose PIN the old session never proved."""
    stored: dict[str, Operator] = {"siti": Operator("siti", "Siti", "staff", 100)}
    creds = Credentials(lookup=stored.get)
    token = creds.sessions.issue(stored["siti"])
    ticket = creds.tickets.issue(Ticket(("job_x",), "siti", "code"))
    assert creds.operator(token) == stored["siti"]
    stored["siti"] = Operator("siti", "Siti", "supervisor", 200)  # removed, added again
    with pytest.raises(ApiError) as refused:
        creds.operator(token)
    assert (refused.value.status, refused.value.code) == (401, "operator_removed")
    assert creds.tickets.get(ticket) is None and creds.signed_in(token) is None
    token = creds.sessions.issue(stored["siti"])
    del stored["siti"]
    assert creds.signed_in(token) is None
    with pytest.raises(ApiError) as gone:
        creds.operator(token)
    assert gone.value.code == "session_expired"  # dropped at the first refusal
