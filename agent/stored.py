"""A stored job: reopen it from the spool (re-verified), and purge it."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent import failpoints
from agent.blobs import BlobStore
from agent.jobs import JobBook, Step
from agent.keys import DeviceKeys
from agent.spool import JobRow, Spool
from kiosk.errors import Reason, RejectedError
from kiosk.keys import parse_ed25519_jwk
from kiosk.lifecycle import PRINTABLE_CONTENT_KEPT, PURGEABLE, JobEvent, JobState
from kiosk.model import OpenedDocument, VerifiedJob
from kiosk.strictjson import loads_object
from kiosk.verify import reopen_job, verify_document

# How long a purged job's claim code is still recognised as spent (protocol 10.3).
SPENT_CLAIM_KEEP_S = 90 * 86400


class StoredJobs:
    def __init__(
        self, *, spool: Spool, book: JobBook, blobs: BlobStore, keys: DeviceKeys, device_id: str
    ) -> None:
        self._spool, self._book, self._blobs = spool, book, blobs
        self._keys, self._device_id = keys, device_id

    def reopen(self, row: JobRow) -> VerifiedJob:
        """The stored job, re-verified against the key trusted when it arrived."""
        signer = self._spool.signer_jwk(row.status.job_id)
        if row.manifest is None or signer is None:
            raise RejectedError(Reason.BAD_CLAIM, f"{row.status.job_id} has no manifest")
        return reopen_job(
            row.manifest, signer_key=parse_ed25519_jwk(loads_object(signer, max_bytes=1024)),
            device_id=self._device_id, seal_keys=self._keys.seal_keys,
        )  # fmt: skip

    def open_document(self, row: JobRow, doc_id: str) -> OpenedDocument:
        """A stored document checked against its manifest and opened, in memory only."""
        return verify_document(self.reopen(row), doc_id, self._blobs.read(doc_id),
                               seal_keys=self._keys.seal_keys)  # fmt: skip

    @property
    def seal_keys(self) -> dict[str, X25519PrivateKey]:
        return self._keys.seal_keys

    def read_sealed(self, doc_id: str) -> bytes:
        return self._blobs.read(doc_id)

    def purge(self, job_id: str) -> None:
        """Delete a finished job's sealed files, then mark it purged; the personal-data-free
        tombstone stays. Safe to repeat after a crash at any point."""
        for doc in self._spool.docs(job_id):
            self._blobs.purge(doc.doc_id)
            self._spool.mark_stored(doc.doc_id, False)
        failpoints.reach("purge.mid")
        row = self._spool.job(job_id)
        if row is None or row.status.state not in PURGEABLE | {JobState.PURGED}:
            return
        if row.status.state is not JobState.PURGED:
            self._keep_spent_claim(row)
            self._book.step(job_id, Step(JobEvent.PURGE))
        self._spool.forget_manifest(job_id)

    def _keep_spent_claim(self, row: JobRow) -> None:
        """Before the manifest goes: keep a claim job's verifier, so its code is known as
        spent (protocol 10.3). A manifest that no longer opens (a shredded seal key) has
        nothing to keep."""
        if row.release != "claim" or row.manifest is None:
            return
        try:
            claim = self.reopen(row).display.claim
        except RejectedError:
            return
        if claim is not None:
            self._spool.keep_spent_claim(row.status.job_id, row.status.state, claim,
                                         spent_s=row.status.updated_at_s,
                                         keep_s=SPENT_CLAIM_KEEP_S)  # fmt: skip

    def sweep(self) -> None:
        """Start-up: finish interrupted purges and delete sealed files no kept job needs."""
        for row in self._spool.jobs(PURGEABLE):
            self.purge(row.status.job_id)
        kept = {
            doc.doc_id
            for row in self._spool.jobs(PRINTABLE_CONTENT_KEPT)
            for doc in self._spool.docs(row.status.job_id)
        }
        for doc_id in self._blobs.names() - kept:
            self._blobs.purge(doc_id)
