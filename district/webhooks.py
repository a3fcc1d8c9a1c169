"""Webhooks: integrations told when a job is held, printed, handed over, cancelled or failed
(issue 17 item 5, ADR 0022).

- :class:`Webhooks`: district IT's side — subscribe a URL for an integration's user, list,
  disable, and see each message's deliveries. Every change goes to the admin audit log.
- :class:`Deliverer`: a background thread of the server process that takes due messages
  from the durable outbox (``district.sqlite_webhooks``), POSTs each one signed the
  *Standard Webhooks* way (``webhook-id``, ``webhook-timestamp``, ``webhook-signature:
  v1,<base64 HMAC-SHA256 of id.timestamp.body>``, through the ``standardwebhooks`` library
  a receiver can use too), and records the outcome: delivered on a 2xx answer; otherwise
  retried after 10 s, doubling up to an hour, and given up three days after the event.
  Redirects are not followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from standardwebhooks.webhooks import Webhook

from cedoka_io.version import package_version
from district import webhook_events
from district.identity import Identity, Principal
from district.store import OutboxRow, WebhookRow, WebhookStore
from kiosk.access import Scope
from kiosk.errors import OperatorError

log = logging.getLogger("cedoka.district.webhooks")
FIRST_RETRY_S = 10
MAX_RETRY_S = 3600
GIVE_UP_AFTER_S = 3 * 86400
LEASE_S = 60  # a claimed message is not taken by another process for this long
BATCH = 20
MAX_URL_CHARS = 500
SECRET_BYTES = 24


def retry_delay_s(attempts: int) -> int:
    """The wait after the ``attempts``-th failed attempt (1, 2, …)."""
    return min(FIRST_RETRY_S << min(attempts - 1, 20), MAX_RETRY_S)


def check_url(url: str) -> str:
    """``url`` if a webhook may be sent there: https, or http to a loopback address (a
    receiver on the server host itself); OperatorError otherwise."""
    if len(url) > MAX_URL_CHARS or not url.isascii() or any(c.isspace() for c in url):
        raise OperatorError(f"a webhook URL is printable ASCII, at most {MAX_URL_CHARS} chars")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host:
        try:
            if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                return url
        except ValueError:
            pass
    raise OperatorError("a webhook URL must be https:// (http:// only to this host itself)")


@dataclass(frozen=True, slots=True)
class NewWebhook:
    row: WebhookRow  # row.secret is shown to district IT once


class Webhooks:
    """District IT's webhooks."""

    def __init__(
        self,
        store: WebhookStore,
        identity: Identity,
        *,
        now_s: Callable[[], int] = lambda: int(time.time()),
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._store, self._identity = store, identity
        self._now_s, self._random = now_s, random_bytes

    def add(
        self,
        by: Principal,
        *,
        url: str,
        events: list[str],
        user_id: str,
        all_jobs: bool = False,
        remote: str | None = None,
    ) -> NewWebhook:
        """Subscribe ``url`` to ``events`` (default: all) of the jobs ``user_id`` pushes
        (every job with ``all_jobs``). Raises AccessError, OperatorError."""
        by.require(Scope.WEBHOOKS_ADMIN)
        check_url(url)
        unknown = set(events) - set(webhook_events.TYPES)
        if unknown:
            raise OperatorError(
                f"unknown webhook events {sorted(unknown)}: {', '.join(webhook_events.TYPES)}"
            )
        self._identity.principal_of(user_id)  # an active user (AccessError otherwise)
        now = self._now_s()
        secret = "whsec_" + base64.b64encode(self._random(SECRET_BYTES)).decode()
        row = WebhookRow(
            webhook_id="whk_" + base64.b32encode(self._random(10)).decode().lower(),
            user_id=user_id,
            url=url,
            secret=secret,
            events=tuple(sorted(set(events))) if events else webhook_events.TYPES,
            all_jobs=all_jobs,
            created_s=now,
            disabled_s=None,
        )
        self._store.add_webhook(row)
        self._identity.record(
            by.actor,
            "webhook.add",
            "ok",
            targets=(("webhook", row.webhook_id), ("user", user_id)),
            remote=remote,
        )
        return NewWebhook(row)

    def subscriptions(self, by: Principal) -> list[WebhookRow]:
        by.require(Scope.WEBHOOKS_ADMIN)
        return self._store.webhooks()

    def disable(self, by: Principal, webhook_id: str, *, remote: str | None = None) -> None:
        by.require(Scope.WEBHOOKS_ADMIN)
        if self._store.webhook(webhook_id) is None:
            raise OperatorError(f"no webhook {webhook_id!r}")
        if not self._store.disable_webhook(webhook_id, at_s=self._now_s()):
            raise OperatorError(f"the webhook {webhook_id} is disabled already")
        self._identity.record(
            by.actor, "webhook.disable", "ok", targets=(("webhook", webhook_id),), remote=remote
        )

    def deliveries(self, by: Principal, webhook_id: str, *, limit: int = 100) -> list[OutboxRow]:
        by.require(Scope.WEBHOOKS_ADMIN)
        return self._store.deliveries(webhook_id, limit=limit)

    def pushed_by(self, job_id: str, user_id: str) -> None:
        """Remember who pushed ``job_id`` (their webhooks get its messages)."""
        self._store.add_origin(job_id, user_id)


class Deliverer:
    """Sends the outbox's due messages, in a thread of the server process."""

    def __init__(
        self,
        store: WebhookStore,
        *,
        now_s: Callable[[], float] = time.time,
        poll_s: float = 1.0,
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self._store, self._now_s, self._poll_s, self._timeout_s = store, now_s, poll_s, timeout_s
        self._session = session or requests.Session()
        self._agent = f"cedoka-district/{package_version()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 1)
        self._session.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:  # the loop must survive a locked database or a bug
                log.exception("event=webhook_loop_failed")
                sent = 0
            if not sent:
                self._stop.wait(self._poll_s)

    def run_once(self) -> int:
        """Try every due message once; the number of attempts made."""
        now = int(self._now_s())
        due = self._store.claim_due(now_s=now, lease_s=LEASE_S, limit=BATCH)
        webhooks = {w.webhook_id: w for w in self._store.webhooks()} if due else {}
        for message in due:
            hook = webhooks.get(message.webhook_id)
            if hook is None or hook.disabled_s is not None:
                self._store.finish(
                    message.message_id,
                    status=None,
                    error="webhook disabled",
                    delivered_s=None,
                    next_at_s=None,
                    gave_up_s=now,
                )
                continue
            self._attempt(hook, message)
        return len(due)

    def _attempt(self, hook: WebhookRow, message: OutboxRow) -> None:
        data = webhook_events.body(
            message_id=message.message_id,
            type_=message.type,
            job_id=message.job_id,
            office_code=message.office_code,
            state=message.state,
            at_s=message.at_s,
            reason=message.reason,
        )
        sent_at = datetime.fromtimestamp(int(self._now_s()), tz=UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": self._agent,
            "webhook-id": message.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(hook.secret).sign(message.message_id, sent_at, data),
        }
        status: int | None = None
        error: str | None = None
        try:
            answer = self._session.post(
                hook.url, data=data, headers=headers, timeout=self._timeout_s, allow_redirects=False
            )
            status = answer.status_code
            answer.close()
            if not 200 <= status < 300:  # noqa: PLR2004 (HTTP success)
                error = f"HTTP {status}"
        except requests.RequestException as failure:
            error = type(failure).__name__
        now = int(self._now_s())
        if error is None:
            self._store.finish(
                message.message_id,
                status=status,
                error=None,
                delivered_s=now,
                next_at_s=None,
                gave_up_s=None,
            )
            log.info(
                "event=webhook_delivered webhook=%s message=%s type=%s",
                hook.webhook_id,
                message.message_id,
                message.type,
            )
            return
        attempts = message.attempts + 1
        give_up = now - message.created_s >= GIVE_UP_AFTER_S
        self._store.finish(
            message.message_id,
            status=status,
            error=error,
            delivered_s=None,
            next_at_s=None if give_up else now + retry_delay_s(attempts),
            gave_up_s=now if give_up else None,
        )
        log.warning(
            "event=webhook_failed webhook=%s message=%s attempts=%d error=%s gave_up=%s",
            hook.webhook_id,
            message.message_id,
            attempts,
            error,
            give_up,
        )
