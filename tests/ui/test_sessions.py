"""Sessions and tickets: only staff actions keep a session alive; tickets do not slide."""

from __future__ import annotations

from agent.operators import Operator
from ui.sessions import SESSION_IDLE_S, TICKET_TTL_S, Ticket, _Store


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
