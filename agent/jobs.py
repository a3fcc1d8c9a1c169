"""Every change of a job's state, in one place: the lifecycle step (``kiosk.lifecycle``),
its signed event for the district (``kiosk.report``), and both written in one spool
transaction — so the outbox holds exactly the steps the spool took, in order, across
crashes. A step that lost a race (another thread or process moved the job first) returns
None and changes nothing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.spool import Spool
from kiosk.errors import TransitionError
from kiosk.ids import new_id
from kiosk.lifecycle import JobEvent, JobStatus, Transition, advance
from kiosk.model import VerifiedJob
from kiosk.report import JobReport, sign_report

log = logging.getLogger("cedoka.agent.jobs")


@dataclass(frozen=True)
class Step:
    """One lifecycle step to take: the event and its optional details."""

    event: JobEvent
    reason: str | None = None
    operator: str | None = None
    doc_id: str | None = None
    printer_role: str | None = None


class JobBook:
    def __init__(
        self, spool: Spool, *, device_id: str, district_code: str, auth_key: Ed25519PrivateKey,
        now_s: Callable[[], int], max_reprints: int,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:  # fmt: skip
        self.spool = spool
        self._device_id, self._district = device_id, district_code
        self._key, self._now_s, self._random = auth_key, now_s, random_bytes
        self._max_reprints = max_reprints

    def now_s(self) -> int:
        return self._now_s()

    def _walk(
        self, status: JobStatus, steps: list[Step]
    ) -> tuple[JobStatus, list[tuple[str, bytes]]]:
        now = self._now_s()
        events = []
        for step in steps:
            status = advance(
                status, Transition(step.event, step.reason, step.operator), now_s=now,
                max_reprints=self._max_reprints,
            )  # fmt: skip
            event_id = new_id("evt", now_ms=now * 1000, random_bytes=self._random)
            report = JobReport(
                event_id=event_id, device_id=self._device_id, district_code=self._district,
                job_id=status.job_id, event=step.event, state=status.state,
                at_s=status.updated_at_s, reason=status.reason if step.reason else None,
                doc_id=step.doc_id, printer_role=step.printer_role, operator=step.operator,
                reprints=status.reprints,
            )  # fmt: skip
            events.append((event_id, sign_report(report, self._key)))
        return status, events

    def accept(self, job: VerifiedJob, signer_jwk: bytes) -> JobStatus | None:
        """Tombstone an accepted job (state ``received``); None if it was known."""
        status = JobStatus.received(job.manifest.job_id, now_s=self._now_s())
        added = self.spool.add_job(job, status, signer_jwk=signer_jwk, events=())
        if added:
            log.info("event=job_received job=%s seq=%d docs=%d", job.manifest.job_id,
                     job.manifest.seq, len(job.manifest.documents))  # fmt: skip
        return status if added else None

    def accept_all(self, jobs: list[tuple[VerifiedJob, bytes]]) -> list[JobStatus | None]:
        """Tombstone accepted jobs (job, signer JWK) in one transaction, in order; for each,
        its status, or None if it was known."""
        now = self._now_s()
        statuses = [JobStatus.received(job.manifest.job_id, now_s=now) for job, _ in jobs]
        added = self.spool.add_jobs(
            (job, status, jwk) for (job, jwk), status in zip(jobs, statuses, strict=True)
        )
        for (job, _), new in zip(jobs, added, strict=True):
            if new:
                log.info("event=job_received job=%s seq=%d docs=%d", job.manifest.job_id,
                         job.manifest.seq, len(job.manifest.documents))  # fmt: skip
        return [s if new else None for s, new in zip(statuses, added, strict=True)]

    def refuse(
        self, job_id: str, seq: int, steps: list[Step], *, manifest_sha256: bytes | None = None
    ) -> bool:
        """Tombstone a job whose signed manifest was refused, walked through ``steps``
        (e.g. verify_fail, purge; or cancel, purge), with the SHA-256 of its token; ``seq``
        is 0 when the manifest's seq was unreadable. False (nothing done) if it was known."""
        status, events = self._walk(JobStatus.received(job_id, now_s=self._now_s()), steps)
        added = self.spool.add_rejected(
            job_id, seq, status, events=events, manifest_sha256=manifest_sha256
        )
        if added:
            log.info("event=job_refused job=%s seq=%d state=%s reason=%s", job_id, seq,
                     status.state.value, status.reason)  # fmt: skip
        return added

    def step(
        self, job_id: str, *steps: Step, spoiled: tuple[str, ...] = (),
        stored: tuple[str, ...] = (),
    ) -> JobStatus | None:  # fmt: skip
        """Take ``steps`` from the job's current state, atomically with their events (and,
        for a spoil, the marks on the ``spoiled`` print journal titles; for VERIFY_OK, the
        ``stored`` marks of the job's documents: :meth:`Spool.change`).

        Raises:
            TransitionError: a step is not allowed from the state the job is in.
        """
        row = self.spool.job(job_id)
        if row is None:
            raise TransitionError(f"job {job_id!r} is not in the spool")
        new, events = self._walk(row.status, list(steps))
        new_round = any(step.event is JobEvent.SUBMIT for step in steps)
        if not self.spool.change(row.status, new, events=events, new_round=new_round,
                                 spoiled=spoiled, stored=stored):  # fmt: skip
            return None
        log.info("event=job_state job=%s state=%s reason=%s", job_id, new.state.value,
                 new.reason or "-")  # fmt: skip
        return new
