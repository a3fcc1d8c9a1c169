"""Reports to the district: the outbox of signed job events, delivered in order and
idempotently (the district answers a re-sent event as a duplicate), and heartbeats."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from agent import failpoints
from agent import trust as trust_store
from agent.link import DistrictLink
from agent.recent import RecentErrors
from agent.spool import Spool
from kiosk.config import PrinterRole
from kiosk.report import Heartbeat, PrinterHealth, UpdateReport, heartbeat_body
from printers.base import Printer
from printers.receipt import ReceiptPrinter

log = logging.getLogger("cedoka.agent.reporter")
BATCH = 100


class Reporter:
    def __init__(
        self, *, spool: Spool, client: DistrictLink, printers: Mapping[PrinterRole, Printer],
        errors: RecentErrors, agent: str, local_now_s: Callable[[], int],
        journal_head: Callable[[], str | None] = lambda: None,
        receipt: Callable[[], ReceiptPrinter | None] = lambda: None,
        update: Callable[[], UpdateReport | None] = lambda: None,
        seal_keys: Callable[[], int | None] = lambda: None,
    ) -> None:  # fmt: skip
        """``seal_keys``: how many sealing private keys the kiosk holds (the heartbeat's
        ``seal_keys``; None: not reported)."""
        self._seal_keys = seal_keys
        self._spool, self._client, self._printers = spool, client, printers
        self._errors, self._agent, self._local_now_s = errors, agent, local_now_s
        self._journal_head, self._receipt = journal_head, receipt
        self._update = update  # the last self-update attempt (agent.update_status)

    def deliver(self) -> int:
        """Send every pending event, oldest first; returns how many were delivered.
        Raises the client's TransportError when the link fails (nothing is lost)."""
        sent = 0
        while batch := self._spool.pending_events(BATCH):
            results = self._client.post_events([token for _, token in batch])
            failpoints.reach("report.before_mark")
            for event_id, status, reason in results:  # one per event (checked by the client)
                if status == "rejected":  # the district will never take it: do not block
                    log.warning("event=event_refused id=%s reason=%s", event_id, reason)
                    self._errors.note(self._local_now_s(), "event_refused")
            self._spool.mark_delivered([n for n, _ in batch], at_s=self._local_now_s())
            sent += len(batch)
        return sent

    def health(self) -> list[PrinterHealth]:
        out = []
        adapters: dict[PrinterRole, Printer | ReceiptPrinter] = dict(self._printers)
        if (receipt := self._receipt()) is not None:
            adapters[PrinterRole.RECEIPT] = receipt
        for role in sorted(adapters):
            printer = adapters[role]
            try:
                out.append(printer.health())
            except Exception:  # a broken driver must not stop the heartbeat
                log.exception("event=printer_health_failed role=%s", role.value)
                out.append(PrinterHealth(
                    role=role.value, backend=printer.target.backend, state="unknown",
                    accepting=False, reasons=(), markers=(), media=None,
                ))  # fmt: skip
        return out

    def heartbeat(self) -> None:
        trust = trust_store.load(self._spool)
        beat = Heartbeat(
            agent=self._agent, sent_at_s=self._local_now_s(), time_floor_s=trust.time_floor_s,
            feed_seq=trust.head.seq if trust.head else 0, keyring_version=trust.keyring.version,
            spool=self._spool.counts(), printers=tuple(self.health()),
            journal_head=self._journal_head(),
            last_errors=self._errors.items(), update=self._update(),
            seal_keys=self._seal_keys(), operators_version=self._spool.operators_version(),
        )  # fmt: skip
        self._client.post_heartbeat(heartbeat_body(beat))
