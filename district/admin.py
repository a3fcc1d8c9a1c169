"""District IT's operations: set up the district, offices, enrolment codes, jobs, keys.

Used by the ``cedoka-district`` command line directly on the district's home directory
(the server need not run; a running server sees the change within its poll interval).
Every refusal is an :class:`~kiosk.errors.OperatorError` whose message says why.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from district.keyring import Keys
from district.regions import read_villages
from district.store import EnrollCodeRow, JobRow, OfficeRow
from kiosk.claim import generate_claim_code
from kiosk.doctypes import DOCUMENT_TYPES_CARD, DOCUMENT_TYPES_PRINTABLE, document_name
from kiosk.enroll import new_enroll_code
from kiosk.errors import OperatorError, RejectedError
from kiosk.ids import DISTRICT_CODE, OFFICE_CODE, new_id
from kiosk.issue import DocumentSpec, JobSpec, Recipient, issue_job
from kiosk.keys import fingerprint_code, parse_x25519_jwk
from kiosk.limits import MAX_COPIES, MAX_DOCUMENTS_PER_JOB, MAX_JOB_LIFETIME_S
from kiosk.model import ReleaseMode
from kiosk.pdfcheck import inspect_pdf
from kiosk.strictjson import loads_strict

log = logging.getLogger("cedoka.district.admin")
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_NAME_CHARS = 80  # office and district names
MAX_RESIDENT_CHARS = 60  # as in the population register
MIN_CODE_VALID_S, MAX_CODE_VALID_S = 60, 30 * 86400
MIN_JOB_LIFETIME_S = 3600
# Why district IT withdraws a job (``cancel --reason``): codes only, so no personal data can
# slip in. Kept with the job at the district; the kiosk is told only that the job is
# cancelled (a head lists job ids, protocol §13), and records reason ``cancelled``.
CANCEL_REASONS: Mapping[str, str] = {
    "resident_request": "the resident withdrew the request",
    "wrong_document": "a wrong or outdated document (push the corrected one)",
    "wrong_office": "pushed to the wrong village office",
    "duplicate": "pushed twice",
    "data_error": "a mistake in the resident's data",
    "kiosk_replaced": "the office's kiosk PC was replaced (push again to the new one)",
    "other": "none of the above",
}
# Reported states in which paper is coming out or is out: too late to cancel (protocol §13).
PAST_PRINTING = frozenset({"printing", "printed", "handed_over"})


class PastPrintingError(OperatorError):
    """A cancel that comes too late: the kiosk has reported the job printing, printed or
    handed over (``cancel`` exits with its own status)."""


@dataclass(frozen=True, slots=True)
class CancelResult:
    job_id: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PushResult:
    job_id: str
    device_id: str
    claim_code: str | None
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OfficeImport:
    added: tuple[str, ...]  # office codes
    existing: tuple[str, ...]
    skipped: tuple[tuple[int, str], ...]  # (CSV line, why)
    other_regencies: int


class DistrictAdmin:
    """The operations behind the command line."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._store = keys.store

    @property
    def keys(self) -> Keys:
        """The district's keys and store (for the operations kept in their own modules,
        e.g. :class:`district.operators.DistrictOperators`)."""
        return self._keys

    @staticmethod
    def init(
        home: Path,
        *,
        name: str,
        code: str,
        db_url: str | None = None,
        root_public: Ed25519PublicKey | None = None,
    ) -> str:
        """Create a district home; returns the root key's fingerprint.

        Raises:
            OperatorError: bad code or name, or the home holds a district already.
        """
        if not DISTRICT_CODE.fullmatch(code):
            raise OperatorError(f"--code {code!r}: a regency code looks like 74.08")
        if not 1 <= len(name.strip()) <= MAX_NAME_CHARS:
            raise OperatorError("--name: 1 to 80 characters")
        keys = Keys.create(home, district_code=code, district_name=name.strip(), now_s=_now(),
                           db_url=db_url, root_public=root_public)  # fmt: skip
        try:
            return fingerprint_code(keys.root_public())
        finally:
            keys.store.close()

    def add_office(self, code: str, name: str) -> None:
        district = self._keys.district_code
        if not OFFICE_CODE.fullmatch(code) or not code.startswith(district + "."):
            raise OperatorError(
                f"{code!r} is not a village/kelurahan code of {district} (like {district}.01.2002)"
            )
        if not 1 <= len(name.strip()) <= MAX_NAME_CHARS:
            raise OperatorError("--name: 1 to 80 characters")
        if self._store.office(code) is not None:
            raise OperatorError(f"office {code} exists already")
        self._store.add_office(OfficeRow(code=code, name=name.strip(), created_s=_now()))

    def import_offices(self, data: bytes) -> OfficeImport:
        """Add the villages of this regency found in a region-code CSV
        (:mod:`district.regions`); offices that exist are left as they are.

        Raises:
            OperatorError: the file is not a region-code CSV.
        """
        rows = read_villages(data, district_code=self._keys.district_code)
        added: list[str] = []
        existing: list[str] = []
        for village in rows.villages:
            if self._store.office(village.code) is not None:
                existing.append(village.code)
                continue
            self._store.add_office(OfficeRow(code=village.code, name=village.name,
                                             created_s=_now()))  # fmt: skip
            added.append(village.code)
        log.info("event=offices_imported added=%d existing=%d skipped=%d", len(added),
                 len(existing), len(rows.skipped))  # fmt: skip
        return OfficeImport(tuple(added), tuple(existing), rows.skipped, rows.other_regencies)

    def new_enroll_code(self, office_code: str, *, valid_s: int) -> str:
        self._office(office_code)
        if not MIN_CODE_VALID_S <= valid_s <= MAX_CODE_VALID_S:
            raise OperatorError("--valid: between 1m and 30d")
        code = new_enroll_code(self._keys.root_public(), secrets.token_bytes)
        while self._store.enroll_code(code.code_id) is not None:  # 25-bit ids: collisions occur
            code = new_enroll_code(self._keys.root_public(), secrets.token_bytes)
        now = _now()
        self._store.add_enroll_code(EnrollCodeRow(
            code_id=code.code_id, secret=code.secret, office_code=office_code,
            created_s=now, expires_s=now + valid_s, consumed_s=None, request_nonce=None,
            response=None,
        ))  # fmt: skip
        return code.text()

    def push(
        self,
        *,
        office_code: str,
        resident: str,
        documents: Sequence[tuple[str, bytes]],
        release: ReleaseMode,
        copies: int,
        lifetime_s: int,
    ) -> PushResult:
        """Seal and sign one job (a bundle) for the office's kiosk.

        Raises:
            OperatorError: unknown office, no enrolled kiosk, a card type, a bad PDF, limits.
        """
        self._office(office_code)
        if not resident.strip() or len(resident) > MAX_RESIDENT_CHARS:
            raise OperatorError("--resident: the resident's full name, 1 to 60 characters")
        if not 1 <= len(documents) <= MAX_DOCUMENTS_PER_JOB:
            raise OperatorError(f"give 1 to {MAX_DOCUMENTS_PER_JOB} --doc TYPE=FILE")
        if not 1 <= copies <= MAX_COPIES:
            raise OperatorError(f"--copies: 1 to {MAX_COPIES}")
        if not MIN_JOB_LIFETIME_S <= lifetime_s <= MAX_JOB_LIFETIME_S:
            raise OperatorError("--expires: between 1h and 14d")
        warnings = []
        for index, (doc_type, pdf) in enumerate(documents, 1):
            warnings += _check_document(index, doc_type, pdf)
        device = self._store.active_device_for_office(office_code)
        if device is None:
            raise OperatorError(
                f"no kiosk is enrolled for {office_code}: run enroll-code and enrol its PC first"
            )
        now = _now()
        seq = self._store.next_seq(device.device_id)
        claim_code = (
            generate_claim_code(secrets.token_bytes) if release is ReleaseMode.CLAIM else None
        )
        spec = JobSpec(
            job_id=new_id("job", now_ms=now * 1000, random_bytes=secrets.token_bytes),
            seq=seq,
            office_code=office_code,
            release=release,
            resident_name=resident.strip(),
            documents=tuple(
                DocumentSpec(
                    doc_id=new_id("doc", now_ms=now * 1000, random_bytes=secrets.token_bytes),
                    doc_type=doc_type, pdf=pdf, title=document_name(doc_type, "id"),
                    copies=copies,
                )
                for doc_type, pdf in documents
            ),
            issued_at_s=now,
            lifetime_s=lifetime_s,
            claim_code=claim_code,
        )  # fmt: skip
        seal_key = parse_x25519_jwk(loads_strict(device.seal_jwk.encode(), max_bytes=1024))
        issued = issue_job(
            spec,
            district_code=self._keys.district_code,
            recipient=Recipient(device.device_id, seal_key),
            signer=self._keys.active_signer(now_s=now),
        )
        self._store.add_job(
            JobRow(
                job_id=spec.job_id, device_id=device.device_id, office_code=office_code,
                seq=seq, release=release.value, token=issued.token, created_s=now,
                expires_s=issued.manifest.expires_at_s, cancelled_s=None, state=None,
                state_s=None, reason=None,
            ),
            {d.doc_id: (d.doc_type, issued.blobs[d.doc_id]) for d in issued.manifest.documents},
        )  # fmt: skip
        log.info(
            "event=job_pushed job=%s device=%s office=%s docs=%d release=%s seq=%d",
            spec.job_id, device.device_id, office_code, len(documents), release.value, seq,
        )  # fmt: skip
        return PushResult(spec.job_id, device.device_id, claim_code, tuple(warnings))

    def cancel(self, job_id: str, *, reason: str) -> CancelResult:
        """Withdraw a job the kiosk may still stop (protocol §13), with a reason code of
        ``CANCEL_REASONS``. Past printing means the kiosk has reported the job printing,
        printed or handed over. A bundle whose print failed part-way (``failed``) or whose
        sheet was spoiled (``released`` again) is not: it is cancelled, the kiosk prints
        none of the rest, and a warning says sheets may be at the office.

        Raises:
            PastPrintingError: the kiosk has reported it printing, printed or handed over.
            OperatorError: an unknown reason or job; cancelled already; expired; ended at
                the kiosk (rejected, expired, cancelled or purged there).
        """
        if reason not in CANCEL_REASONS:
            raise OperatorError(f"--reason {reason!r}: use one of {', '.join(CANCEL_REASONS)}")
        job = self._store.job(job_id)
        if job is None:
            raise OperatorError(f"no job {job_id}")
        now = _now()
        if not self._store.cancel_job(job_id, at_s=now, reason=reason):
            raise self._not_cancellable(self._store.job(job_id) or job, now)
        log.info("event=job_cancelled job=%s device=%s reason=%s", job_id, job.device_id,
                 reason)  # fmt: skip
        warnings: tuple[str, ...] = ()
        if "printing" in self._store.reported_states(job_id):
            warnings = (
                f"job {job_id}: the kiosk had started printing it before its print failed or "
                "a sheet was spoiled: ask the office to destroy any sheets of it",
            )
        return CancelResult(job_id, warnings)

    def _not_cancellable(self, job: JobRow, now_s: int) -> OperatorError:
        """Why ``cancel_job`` refused (the job as it is now)."""
        where = f"job {job.job_id}"
        if job.cancelled_s is not None:
            return OperatorError(f"{where} is cancelled already")
        handed = job.state == "purged" and "handed_over" in self._store.reported_states(job.job_id)
        if job.state in PAST_PRINTING or handed:
            state = "handed over" if handed else (job.state or "").replace("_", " ")
            return PastPrintingError(
                f"{where} is past printing: the kiosk reported it {state} at "
                f"{_iso(job.state_s)}: too late to cancel, the paper is out or coming out; "
                "call the village office"
            )
        if job.expires_s <= now_s:
            return OperatorError(f"{where} has expired: no kiosk will print it")
        return OperatorError(f"{where} has ended at the kiosk ({job.state}): nothing to cancel")

    def revoke(self, device_id: str) -> None:
        if self._store.device(device_id) is None:
            raise OperatorError(f"no device {device_id}")
        if not self._store.revoke_device(device_id, at_s=_now()):
            raise OperatorError(f"device {device_id} is revoked already")

    def rotate_key(self) -> str:
        return self._keys.rotate(now_s=_now())

    def rotate_seal(self, device_id: str) -> int:
        """Ask the kiosk to rotate its sealing key (protocol 14.2): its feed heads carry
        ``seal_rotate`` = the time returned from now on, and a held poll is answered at once."""
        device = self._store.device(device_id)
        if device is None:
            raise OperatorError(f"no device {device_id}")
        at_s = max(_now(), (device.seal_rotate_s or 0) + 1)  # a newer request, always
        if not self._store.request_seal_rotation(device_id, at_s=at_s):
            raise OperatorError(f"device {device_id} is revoked: it has no key to rotate")
        return at_s

    def _office(self, code: str) -> None:
        if self._store.office(code) is None:
            raise OperatorError(f"unknown office {code}: add it with 'office add' first")


def _check_document(index: int, doc_type: str, pdf: bytes) -> list[str]:
    where = f"document {index} ({doc_type})"
    if doc_type in DOCUMENT_TYPES_CARD:
        raise OperatorError(
            f"{where}: KTP-el and KIA are cards that need security blanks and a card printer; "
            "they cannot be printed at a village office: send them by courier or for pickup"
        )
    if doc_type not in DOCUMENT_TYPES_PRINTABLE:
        known = ", ".join(sorted(DOCUMENT_TYPES_PRINTABLE))
        raise OperatorError(f"{where}: unknown document type; use one of {known}")
    if len(pdf) > MAX_PDF_BYTES:
        raise OperatorError(f"{where}: larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")
    try:
        facts = inspect_pdf(pdf)
    except RejectedError as error:
        raise OperatorError(f"{where}: not a valid PDF ({error.reason.value})") from None
    if not facts.all_pages_a4:
        sizes = ", ".join(
            f"{w / 72 * 25.4:.0f}x{h / 72 * 25.4:.0f} mm" for w, h in facts.page_sizes_pt
        )
        return [f"{where}: not every page is A4 ({sizes}); it will print at 100 % on A4 anyway"]
    return []


def _now() -> int:
    return int(time.time())


def _iso(at_s: int | None) -> str:
    return "?" if at_s is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_s))
