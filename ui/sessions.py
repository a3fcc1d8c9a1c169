"""The kiosk API's short-lived, in-memory credentials: operator sessions (after a PIN),
release tickets (after a claim code or a staff release), settings tickets (after a
supervisor's PIN, on the session of whoever is signed in). All die with the process; none
is ever written to disk or logged.

A session is only as good as its operator: every check asks the operator store (``lookup``,
a quick SQLite read) whether they still exist, so ``cedoka operator remove`` — another
process — ends their sessions and tickets at the next call."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agent.operators import Operator
from ui.errors import ApiError, staff_error

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


@dataclass(frozen=True)
class SettingsGrant:
    """Open settings: on ``session_operator``'s session, by ``supervisor``'s PIN."""

    session_operator: str
    supervisor: Operator


@dataclass
class Credentials:
    """``lookup``: the operator as stored now (None once removed); None checks nothing."""

    sessions: _Store[Operator] = field(default_factory=lambda: _Store(SESSION_IDLE_S, sliding=True))
    tickets: _Store[Ticket] = field(default_factory=lambda: _Store(TICKET_TTL_S, sliding=False))
    settings: _Store[SettingsGrant] = field(
        default_factory=lambda: _Store(TICKET_TTL_S, sliding=False)
    )
    lookup: Callable[[str], Operator | None] | None = None

    def operator(self, token: str | None, *, activity: bool = True) -> Operator:
        """The signed-in operator of a session token, as stored now (401 otherwise). Only
        ``activity`` (a staff action, not the screen's polling) keeps the session alive.

        Raises:
            ApiError: 401 ``session_required``, ``session_expired``, or ``operator_removed``
                (the session, its tickets and settings ticket are dropped).
        """
        operator = self.sessions.get(token, slide=activity)
        if operator is None:
            if token is None:
                raise ApiError(401, "session_required", "Silakan masuk dulu.", "Please sign in.")
            raise ApiError(401, "session_expired", "Sesi berakhir — silakan masuk lagi.",
                           "The session ended — please sign in again.")  # fmt: skip
        current = operator if self.lookup is None else self.lookup(operator.operator_id)
        if current is None or current.created_s != operator.created_s:
            self.sign_out(token, operator)
            raise staff_error("operator_removed")
        return current

    def signed_in(self, token: str | None) -> Operator | None:
        """The operator of a live session, or None; never moves the idle deadline."""
        try:
            return self.operator(token, activity=False)
        except ApiError:
            return None

    def ticket(self, token: str, operator: Operator) -> Ticket:
        ticket = self.tickets.get(token)
        if ticket is None or ticket.operator != operator.operator_id:
            raise ApiError(410, "ticket_expired", "Waktu habis — masukkan kode lagi.",
                           "Time is up — enter the code again.")  # fmt: skip
        return ticket

    def settings_supervisor(self, token: str | None, operator: Operator) -> Operator:
        """The supervisor whose PIN opened the settings on ``operator``'s session, as stored
        now.

        Raises:
            ApiError: 401 ``settings_locked`` (no such ticket, another session's, expired,
                or its supervisor removed or no longer a supervisor).
        """
        grant = self.settings.get(token)
        if grant is not None and grant.session_operator == operator.operator_id:
            held = grant.supervisor
            current = held if self.lookup is None else self.lookup(held.operator_id)
            if (
                current is not None
                and current.created_s == held.created_s
                and (current.is_supervisor)
            ):
                return current
            self.settings.drop(token)
        raise ApiError(401, "settings_locked", "Masukkan PIN penyelia.",
                       "Enter the supervisor PIN.")  # fmt: skip

    def allows(self, token: str | None, job_id: str) -> bool:
        ticket = self.tickets.get(token)
        return ticket is not None and job_id in ticket.job_ids

    def sign_out(self, token: str | None, operator: Operator) -> None:
        self.sessions.drop(token)
        self.tickets.drop_where(lambda t: t.operator == operator.operator_id)
        self.settings.drop_where(lambda grant: grant.session_operator == operator.operator_id)
