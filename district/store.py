"""The district's storage port: what the server and the command line need from a database.

One ``DistrictStore`` Protocol; ``district.sqlite_store.SqliteStore`` implements it on one
SQLite file in the district's home (WAL, so the long-polling server and the command line
can use it at once), ``district.pg_store.PostgresStore`` on a PostgreSQL database named by
``--db postgresql://…`` (ADR 0026). ``district.keyring.open_store`` picks one.
Rows are returned as the frozen records below; nothing here holds a plaintext document or a
resident's name (documents are sealed before they are stored; names only in sealed form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from district.operator_store import OperatorStore
from kiosk.admin_audit import AdminEntry, AdminRecord


@dataclass(frozen=True, slots=True)
class OfficeRow:
    code: str  # e.g. "74.08.01.2002"
    name: str
    created_s: int


@dataclass(frozen=True, slots=True)
class EnrollCodeRow:
    code_id: str
    secret: str  # the MAC secret, a one-time credential: "" once the code is used or expired
    office_code: str
    created_s: int
    expires_s: int
    consumed_s: int | None
    request_nonce: str | None  # of the request that consumed it (a retry gets the same answer)
    response: bytes | None
    # SHA-256 of the consuming request's keys and nonce: how a retry is recognised without
    # the (erased) secret
    request_digest: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    office_code: str
    auth_jwk: str  # canonical JSON of the public Ed25519 JWK
    seal_jwk: str  # canonical JSON of the public X25519 JWK
    enrolled_s: int
    revoked_s: int | None
    seq: int  # highest job seq issued to this device
    feed_version: int  # bumped whenever the device's feed changes (push, cancel, keys)
    last_seen_s: int | None
    agent: str | None
    heartbeat: bytes | None  # the last heartbeat body, as received (no personal data)
    seal_rotate_s: int | None = None  # when district IT last asked for a seal-key rotation


@dataclass(frozen=True, slots=True)
class JobRow:
    job_id: str
    device_id: str
    office_code: str
    seq: int
    release: str
    token: bytes  # the signed manifest
    created_s: int
    expires_s: int
    cancelled_s: int | None
    state: str | None  # latest state reported by the kiosk
    state_s: int | None
    reason: str | None
    cancel_reason: str | None = None  # district IT's code (``cancel --reason``), if cancelled


# Reported states from which the kiosk can no longer cancel a job (protocol §13): paper
# is coming out or is out (printing, printed, handed over), or the job has ended there.
UNCANCELLABLE_STATES = ("printing", "printed", "handed_over", "rejected", "expired",
                        "cancelled", "purged")  # fmt: skip


@dataclass(frozen=True, slots=True)
class EventRow:
    """One signed job event a kiosk reported (protocol section 11), as received."""

    event_id: str
    event: str
    state: str
    at_s: int  # the kiosk's time of the event
    reason: str | None
    received_s: int


@dataclass(frozen=True, slots=True)
class BlobRow:
    job_id: str
    doc_id: str
    size: int
    sha256: bytes


class BlobReader(Protocol):
    """One download's view of a sealed document: reads from any offset (b"" past the end,
    or once the document is gone), then closed. Used by one thread at a time."""

    def read(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class FeedChanges:
    """What :meth:`DistrictStore.feed_changes` read: the cursor to pass next time, and the
    new feed version of each device that changed (``complete``: of every device)."""

    cursor: int
    versions: dict[str, int]
    complete: bool


@dataclass(frozen=True, slots=True)
class SignerRow:
    kid: str
    not_before_s: int
    not_after_s: int
    retired_s: int | None  # dropped from the keyring at this time


class DistrictStore(Protocol):
    """Everything the district persists. Each method is one transaction."""

    @property
    def identity(self) -> IdentityStore: ...
    @property
    def webhooks(self) -> WebhookStore: ...
    @property
    def operators(self) -> OperatorStore: ...  # village staff per office (ADR 0034)
    def close(self) -> None: ...  # at the end of a run: no connection stays open

    # --- district meta and keys
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def signers(self) -> list[SignerRow]: ...
    def add_signer(self, row: SignerRow) -> None: ...
    def retire_signer(self, kid: str, *, at_s: int) -> None: ...
    def bump_all_feeds(self) -> None: ...

    # --- offices and enrolment
    def add_office(self, row: OfficeRow) -> None: ...
    def office(self, code: str) -> OfficeRow | None: ...
    def offices(self) -> list[OfficeRow]: ...
    def add_enroll_code(self, row: EnrollCodeRow) -> None: ...
    def enroll_code(self, code_id: str) -> EnrollCodeRow | None: ...
    def consume_enroll_code(
        self, code_id: str, *, device: DeviceRow, nonce: str, digest: str, response: bytes,
        at_s: int,
    ) -> bool: ...  # fmt: skip
    def erase_spent_enroll_secrets(self, *, now_s: int) -> int: ...

    # --- devices
    def device(self, device_id: str) -> DeviceRow | None: ...
    def devices(self) -> list[DeviceRow]: ...
    def active_device_for_office(self, office_code: str) -> DeviceRow | None: ...
    def revoke_device(self, device_id: str, *, at_s: int) -> bool: ...
    def set_seal_key(self, device_id: str, seal_jwk: str) -> None: ...
    # Ask a device to rotate its sealing key (its heads carry ``seal_rotate`` from now on);
    # False for an unknown or revoked device.
    def request_seal_rotation(self, device_id: str, *, at_s: int) -> bool: ...
    def touch_device(self, device_id: str, *, at_s: int) -> None: ...
    def touch_devices(self, touches: Mapping[str, int]) -> None: ...  # device -> at_s, one txn
    def store_heartbeat(self, device_id: str, body: bytes, *, agent: str, at_s: int) -> None: ...
    def feed_versions(self) -> dict[str, int]: ...
    def data_version(self) -> int: ...
    def feed_changes(self, after: int) -> FeedChanges: ...  # since cursor ``after``

    # --- jobs and blobs
    def next_seq(self, device_id: str) -> int: ...
    def add_job(self, row: JobRow, blobs: dict[str, tuple[str, bytes]]) -> None: ...
    def job(self, job_id: str) -> JobRow | None: ...
    def jobs(self, *, office_code: str | None = None) -> list[JobRow]: ...
    def jobs_after(self, device_id: str, after_seq: int, *, limit: int) -> list[JobRow]: ...
    def cancelled_open(self, device_id: str, *, now_s: int, limit: int) -> list[str]: ...
    def cancel_job(self, job_id: str, *, at_s: int, reason: str) -> bool: ...
    def reported_states(self, job_id: str) -> set[str]: ...
    def blob(self, job_id: str, doc_id: str) -> BlobRow | None: ...
    def open_blob(self, job_id: str, doc_id: str) -> BlobReader | None: ...
    def blobs(self, job_id: str) -> list[BlobRow]: ...

    # --- reports
    def add_audit(self, *, device_id: str, seq: int, hash_: str, at_s: int, record: bytes,
                  token: bytes, received_s: int) -> str: ...  # fmt: skip
    def audit(self, device_id: str) -> list[tuple[int, bytes, str]]: ...
    def job_events(self, job_id: str) -> list[EventRow]: ...
    def add_event(
        self, *, event_id: str, device_id: str, job_id: str, event: str, state: str,
        at_s: int, reason: str | None, token: bytes, received_s: int,
    ) -> bool: ...  # fmt: skip


# --- district IT's identity and audit log (ADR 0022) --------------------------------------


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: str
    name: str
    role: str  # kiosk.access.Role
    password: str  # Argon2id PHC string
    totp_secret: bytes | None  # None: no second factor
    totp_last_step: int | None  # the last TOTP time step used (a replay is refused)
    failures: int  # wrong answers in a row
    locks: int  # locks since the last success
    locked_until_s: int
    created_s: int
    disabled_s: int | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_id: str
    user_id: str  # who created it; its scopes never exceed that user's role
    label: str
    scopes: tuple[str, ...]
    digest: str  # base64url SHA-256 of the secret (kiosk.access.token_digest)
    created_s: int
    expires_s: int
    revoked_s: int | None
    last_used_s: int | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    digest: str  # base64url SHA-256 of the session id (the cookie's value)
    user_id: str
    csrf: str  # the session's anti-CSRF token (sent back in X-CSRF-Token)
    created_s: int
    seen_s: int


class IdentityStore(Protocol):
    """Users, API tokens and the district's audit log. Each method is one transaction."""

    def add_user(self, row: UserRow) -> bool: ...  # False: the id exists
    def user(self, user_id: str) -> UserRow | None: ...
    def users(self) -> list[UserRow]: ...
    def update_user(self, user_id: str, **changes: object) -> bool: ...
    def add_token(self, row: TokenRow) -> None: ...
    def token(self, token_id: str) -> TokenRow | None: ...
    def tokens(self, *, user_id: str | None = None) -> list[TokenRow]: ...
    def revoke_token(self, token_id: str, *, at_s: int) -> bool: ...
    def touch_token(self, token_id: str, *, at_s: int) -> None: ...
    def add_session(self, row: SessionRow) -> None: ...
    def session(self, digest: str) -> SessionRow | None: ...
    def touch_session(self, digest: str, *, at_s: int) -> None: ...
    def delete_sessions(self, *, digest: str | None = None, user_id: str | None = None,
                        seen_before_s: int | None = None) -> int: ...  # fmt: skip
    def append_admin_audit(self, entry: AdminEntry, *, district_code: str) -> AdminRecord: ...
    def admin_audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AdminRecord]: ...


# --- webhooks (issue 17 item 5) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookRow:
    webhook_id: str
    user_id: str  # the integration's user: its pushes are the webhook's jobs
    url: str
    secret: str  # "whsec_…" (Standard Webhooks); shown once at creation
    events: tuple[str, ...]
    all_jobs: bool  # every job of the district, not only the user's own pushes
    created_s: int
    disabled_s: int | None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    message_id: str
    webhook_id: str
    type: str  # job.held, job.printed …
    job_id: str
    office_code: str
    state: str | None
    at_s: int
    reason: str | None
    created_s: int
    attempts: int
    next_at_s: int
    delivered_s: int | None
    gave_up_s: int | None
    last_status: int | None
    last_error: str | None


class WebhookStore(Protocol):
    def add_webhook(self, row: WebhookRow) -> None: ...
    def webhook(self, webhook_id: str) -> WebhookRow | None: ...
    def webhooks(self) -> list[WebhookRow]: ...
    def disable_webhook(self, webhook_id: str, *, at_s: int) -> bool: ...
    def add_origin(self, job_id: str, user_id: str) -> None: ...
    def claim_due(self, *, now_s: int, lease_s: int, limit: int) -> list[OutboxRow]: ...
    def finish(
        self,
        message_id: str,
        *,
        status: int | None,
        error: str | None,
        delivered_s: int | None,
        next_at_s: int | None,
        gave_up_s: int | None,
    ) -> None: ...
    def deliveries(self, webhook_id: str, *, limit: int) -> list[OutboxRow]: ...
    def backlog(self) -> int: ...
