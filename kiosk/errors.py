"""The one error tree of Cedoka.

Every exception the project raises on purpose derives from :class:`CedokaError`. Adapters
(HTTP, SQLite, CUPS, ESC/POS) translate third-party exceptions into these at their
boundary, so nothing foreign leaks into the services or the screens: the stores turn
``sqlite3.Error`` into a :class:`StoreError`, the printer drivers turn ``cups.IPPError``
and USB/serial errors into a :class:`PrinterError`, the district client turns requests,
urllib3 and socket errors into a :class:`TransportError`. The classes below are defined
here unless a module is named; ruff's N818 keeps every name ending in ``Error``::

    CedokaError
    ├── RejectedError              bad data from outside: never printed; carries a Reason
    │   ├── WireError              could not be parsed at all (size, base64, JSON, types)
    │   └── ClaimError             a claim code that does not match (wrong / malformed)
    │       └── ClaimLockedError   too many wrong codes: release is locked for a while
    ├── TransitionError            a lifecycle event that is not allowed in the job's state
    ├── ConfigError                invalid configuration; names the field
    │   ├── PrinterNotAllowedError a printer this kiosk may not be switched to
    │   └── NoPrinterError         agent.dispatch: no printer is set up for a document
    ├── SelfTestError              a known-answer test failed: the crypto stack is broken
    ├── TransportError             the link failed (retry later); raised by adapters only
    │   ├── LinkDownError          agent.client: why the district could not be reached
    │   └── DeadlineExceededError  agent.deadline: an answer outlived its deadline
    │                              (also a TimeoutError)
    ├── OperatorError              a command that cannot be done (unknown office, …)
    │   ├── PastPrintingError      district.admin: a cancel too late (paper is out)
    │   ├── UpdateWaitingError     agent.update: a release waits for the printer to be idle
    │   ├── UpdateRefusedError     agent.update: TUF refused the release metadata or archive
    │   ├── ReleaseFailedError     agent.update: a release failed to install or its checks
    │   ├── NoPreviousReleaseError agent.update: --rollback with no previous release
    │   └── DemoError              ui.demo: the demo cannot start (port taken, …)
    ├── GoneError                  a requested resource does not exist or no longer exists
    ├── RateLimitedError           too many attempts; retry after a while
    ├── AccessError                district IT's credentials refused (who / may not / locked)
    ├── StoreError                 a local database failed (disk full, damaged, locked)
    │   ├── NewerSchemaError       cedoka_io.sqlite: written by a newer program
    │   └── SpoolError             agent.spool: the kiosk's spool cannot be used
    ├── PrinterError               a printer or its driver failed
    │   ├── PrinterNotReadyError   printers.base: the pre-flight check says "not now"
    │   │   └── PrinterBusyError   agent.dispatch: the printer is on another job
    │   ├── PrintSubmitError       printers.base: the driver refused the document
    │   └── PrinterUnreachableError printers.base: CUPS or the device does not answer
    ├── PinError                   kiosk.pin: a PIN breaks a rule (also a ValueError)
    ├── StaffError                 agent.operators: a staff action is refused (wrong PIN, …)
    ├── DeskError                  agent.desk_model: a kiosk-screen action is refused
    ├── HttpError                  district.http: the district server's error answer
    ├── AdminHttpError             district.admin_http: the admin API's error answer
    ├── ApiError                   ui.errors: the kiosk screen API's error answer
    ├── UsageError                 district.cli: a bad command-line value (also a ValueError)
    └── DemoStoppedError           ui.demo: Ctrl-C while the demo was starting

``RejectedError.reason`` is a machine-readable :class:`Reason`; ``kiosk.messages`` turns
it into a human message in Bahasa Indonesia and English. Detail strings never contain
personal data (names, NIKs): only ids, field names and numbers.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    """Machine-readable rejection reasons; the wire uses these exact strings."""

    # parsing (WireError)
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    DUPLICATE_KEY = "duplicate_key"
    BAD_TYPE = "bad_type"
    UNSUPPORTED_VERSION = "unsupported_version"
    # JWS header and signature
    BAD_ALG = "bad_alg"
    MISSING_KID = "missing_kid"
    UNKNOWN_KID = "unknown_kid"
    BAD_TYP = "bad_typ"
    BAD_CRIT = "bad_crit"
    FORBIDDEN_HEADER = "forbidden_header"
    BAD_SIGNATURE = "bad_signature"
    KEY_NOT_VALID = "key_not_valid"
    # claims
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    EXPIRED = "expired"
    ISSUED_IN_FUTURE = "issued_in_future"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    BAD_CLAIM = "bad_claim"
    REPLAYED = "replayed"
    CANCELLED = "cancelled"
    SEQ_BEYOND_HEAD = "seq_beyond_head"
    NOT_PRINTABLE_AT_VILLAGE = "not_printable_at_village"
    # feed head and keyring
    HEAD_ROLLBACK = "head_rollback"
    HEAD_REPLAYED = "head_replayed"
    HEAD_EXPIRED = "head_expired"
    KEYRING_ROLLBACK = "keyring_rollback"
    ROOT_MISMATCH = "root_mismatch"
    # documents
    SIZE_MISMATCH = "size_mismatch"
    HASH_MISMATCH = "hash_mismatch"
    OPEN_FAILED = "open_failed"
    NOT_PDF = "not_pdf"
    PDF_INVALID = "pdf_invalid"
    BLOB_NOT_FOUND = "blob_not_found"  # the district kept answering 404 for a signed document
    # device requests (checked by the district server)
    UNKNOWN_DEVICE = "unknown_device"
    DEVICE_REVOKED = "device_revoked"
    REQUEST_MISMATCH = "request_mismatch"
    BODY_MISMATCH = "body_mismatch"
    # enrolment
    ENROLL_CODE_MALFORMED = "enroll_code_malformed"
    ENROLL_CODE_INVALID = "enroll_code_invalid"
    ENROLL_MAC_INVALID = "enroll_mac_invalid"
    # claim codes
    CLAIM_MALFORMED = "claim_malformed"
    CLAIM_WRONG = "claim_wrong"
    CLAIM_LOCKED = "claim_locked"
    # a code that opened a job which is no longer held: not a guess (protocol 10.3)
    CLAIM_USED = "claim_used"  # released, printed or handed over already
    CLAIM_CANCELLED = "claim_cancelled"  # its job was cancelled
    CLAIM_EXPIRED = "claim_expired"  # its job expired unprinted


class CedokaError(Exception):
    """Root of every error Cedoka raises on purpose."""


class RejectedError(CedokaError):
    """Data from outside was refused; it must never be printed.

    ``reason`` is machine-readable; ``detail`` is a short English note for logs that
    never contains personal data.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        # Set by verify_manifest when the rejection came after the signature check: the
        # job id and seq are then the district's own, safe to tombstone and to report.
        self.job_id: str | None = None
        self.seq: int | None = None


class WireError(RejectedError):
    """Bytes that could not be parsed into a message (size, encoding, JSON, types)."""


class ClaimError(RejectedError):
    """A claim code that is malformed or matches no held job."""


class ClaimLockedError(ClaimError):
    """Too many wrong claim codes: release is locked for ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(Reason.CLAIM_LOCKED, f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class TransitionError(CedokaError):
    """A lifecycle event that is not allowed in the job's current state."""


class ConfigError(CedokaError):
    """Invalid configuration; ``field`` names the offending setting."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class PrinterNotAllowedError(ConfigError):
    """A well-formed printer the settings may not choose here: a folder (``virtual:``)
    on a kiosk whose ``agent.toml`` does not say ``allow_virtual_printers = true``."""


class SelfTestError(CedokaError):
    """A known-answer test failed: the cryptographic stack cannot be trusted."""


class TransportError(CedokaError):
    """The link to the district failed; the operation may be retried later."""


class OperatorError(CedokaError):
    """A command by district IT or village staff that cannot be carried out; the message
    says why and what to do (it is shown as is)."""


class GoneError(CedokaError):
    """A resource that does not exist (``code`` "not_found") or no longer exists
    ("job_cancelled", "job_expired", "job_purged")."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class RateLimitedError(CedokaError):
    """Too many attempts (e.g. enrolment); try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limited: retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class StoreError(CedokaError):
    """A local database could not be used: the file is damaged, the disk is full, it stays
    locked, or a newer program wrote it. The store that raised it names the file; the
    original ``sqlite3.Error`` is its ``__cause__``."""


class PrinterError(CedokaError):
    """A printer or its driver failed; the subclasses in :mod:`printers.base` say how."""


class AccessError(CedokaError):
    """District IT's credentials were refused (ADR 0022). ``code``: ``unauthenticated``
    (no or wrong credentials: the message never says which part was wrong),
    ``forbidden`` (signed in, but the role or token lacks ``scope``), ``locked`` (too many
    wrong answers: retry after ``retry_after_s``), ``totp_required`` (the password was
    right; the second factor is missing)."""

    def __init__(self, code: str, detail: str = "", *, scope: str | None = None,
                 retry_after_s: int | None = None) -> None:  # fmt: skip
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.scope, self.retry_after_s = code, scope, retry_after_s
