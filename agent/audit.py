"""The kiosk's audit trail on disk: each record appended to the hash chain
(:mod:`kiosk.audit`) and queued, signed, for the district in one spool transaction."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.spool import AuditRow, Spool
from kiosk.audit import (
    AuditEntry,
    AuditRecord,
    append,
    record_bytes,
    record_from_bytes,
    sign_record,
)
from kiosk.ids import new_id

log = logging.getLogger("cedoka.agent.audit")


class AuditLog:
    def __init__(self, spool: Spool, *, device_id: str, district_code: str,
                 key: Ed25519PrivateKey, now_s: Callable[[], int],
                 random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> None:  # fmt: skip
        self._spool, self._device_id, self._district = spool, device_id, district_code
        self._key, self._now_s, self._random = key, now_s, random_bytes

    def _record(self, row: AuditRow) -> AuditRecord:
        return record_from_bytes(row.record, row.hash, device_id=self._device_id)

    def record(self, action: str, outcome: str = "ok", *, operator: str | None = None,
               job_id: str | None = None, doc_types: tuple[str, ...] = (),
               printer: str | None = None, reason: str | None = None,
               old: str | None = None, new: str | None = None) -> AuditRecord:  # fmt: skip
        """Append one record (ValueError for a member that is not a keyword or id; ``old``
        and ``new``: a printer change's URIs of the role ``printer``)."""
        entry = AuditEntry(at_s=self._now_s(), action=action, outcome=outcome,
                           operator=operator, job_id=job_id, doc_types=doc_types,
                           printer=printer, reason=reason, old=old, new=new)  # fmt: skip

        def build(head: AuditRow | None) -> tuple[AuditRow, str, bytes]:
            previous = None if head is None else self._record(head)
            record = append(previous, entry, device_id=self._device_id)
            event_id = new_id("evt", now_ms=entry.at_s * 1000, random_bytes=self._random)
            token = sign_record(record, event_id=event_id, device_id=self._device_id,
                                district_code=self._district, key=self._key)  # fmt: skip
            data = record_bytes(record, device_id=self._device_id)
            return AuditRow(record.seq, entry.at_s, data, record.hash), event_id, token

        row = self._spool.append_audit(build)
        log.info("event=audit seq=%d action=%s outcome=%s job=%s", row.seq, action, outcome,
                 job_id or "-")  # fmt: skip
        return self._record(row)

    def head_hash(self) -> str | None:
        head = self._spool.audit_head()
        return None if head is None else head.hash

    def since(self, at_s: int) -> list[AuditRecord]:
        """Records at or after ``at_s``, newest first."""
        return [self._record(r) for r in self._spool.audit_since(at_s)]
