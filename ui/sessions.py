"""The kiosk API's short-lived, in-memory credentials: operator sessions (after a PIN),
release tickets (after a claim code or a staff release), settings tickets (after a
supervisor's PIN). All die with the process; none is ever written to disk or logged."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agent.operators import Operator
from ui.errors import ApiError

SESSION_IDLE_S = 900
TICKET_TTL_S = 300
T = TypeVar("T")


class _Store(Generic[T]):
    """token -> (value, deadline); ``sliding``: each use moves the deadline."""

    def __init__(self, ttl_s: float, *, sliding: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._ttl, self._sliding, self._clock = ttl_s, sliding, clock
        self._items: dict[str, tuple[T, float]] = {}
        self._lock = threading.Lock()

    def issue(self, value: T) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            self._items[token] = (value, now + self._ttl)
        return token

    def get(self, token: str | None, *, slide: bool = True) -> T | None:
        """The value, or None when unknown or expired (expired ones are dropped);
        ``slide=False`` reads without moving a sliding deadline."""
        if token is None:
            return None
        with self._lock:
            item = self._items.get(token)
            now = self._clock()
            if item is None or item[1] <= now:
                self._items.pop(token, None)
                return None
            if self._sliding and slide:
                self._items[token] = (item[0], now + self._ttl)
            return item[0]

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._items.pop(token or "", None)

    def drop_where(self, match: Callable[[T], bool]) -> None:
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if not match(v[0])}


@dataclass(frozen=True)
class Ticket:
    """The right to see and print these jobs: a matched claim code, or a staff release."""

    job_ids: tuple[str, ...]
    operator: str
    mode: str  # "code" | "staff"
    reason: str | None = None  # staff release: no_phone, lost_code, staff_job, other


@dataclass
class Credentials:
    sessions: _Store[Operator] = field(default_factory=lambda: _Store(SESSION_IDLE_S, sliding=True))
    tickets: _Store[Ticket] = field(default_factory=lambda: _Store(TICKET_TTL_S, sliding=False))
    settings: _Store[str] = field(default_factory=lambda: _Store(TICKET_TTL_S, sliding=False))

    def operator(self, token: str | None, *, activity: bool = True) -> Operator:
        """The signed-in operator of a session token (401 otherwise). Only ``activity``
        (a staff action, not the screen's polling) keeps the session alive."""
        operator = self.sessions.get(token, slide=activity)
        if operator is None:
            if token is None:
                raise ApiError(401, "session_required", "Silakan masuk dulu.", "Please sign in.")
            raise ApiError(401, "session_expired", "Sesi berakhir — silakan masuk lagi.",
                           "The session ended — please sign in again.")  # fmt: skip
        return operator

    def ticket(self, token: str, operator: Operator) -> Ticket:
        ticket = self.tickets.get(token)
        if ticket is None or ticket.operator != operator.operator_id:
            raise ApiError(410, "ticket_expired", "Waktu habis — masukkan kode lagi.",
                           "Time is up — enter the code again.")  # fmt: skip
        return ticket

    def allows(self, token: str | None, job_id: str) -> bool:
        ticket = self.tickets.get(token)
        return ticket is not None and job_id in ticket.job_ids

    def sign_out(self, token: str | None, operator: Operator) -> None:
        self.sessions.drop(token)
        self.tickets.drop_where(lambda t: t.operator == operator.operator_id)
        self.settings.drop_where(lambda op: op == operator.operator_id)
