"""The kiosk's audit trail: who did what, when, on which printer, with what outcome.

Append-only and hash-chained: record ``n`` carries the hash of record ``n - 1`` (``prev``)
and its own ``hash`` = base64url(SHA-256(canonical JSON of every other member)). The first
record's ``prev`` is the device's genesis value, so chains of different devices never
join. Deleting, reordering or editing a record breaks the chain at that point, which the
district sees (:func:`check_chain`) — the device also signs each record (``cedoka-audit+jwt``,
shipped with the job events), and its heartbeat carries the head's hash.

No record holds a resident's name or NIK: operator ids, job ids, document *types*, printer
roles, keyword outcomes, and — for a printer change — the printer before and after as the
configuration writes it (``cups:QUEUE``, ``escpos:tcp://HOST:PORT``, ``virtual:/folder``,
checked by :func:`kiosk.config.parse_printer_target`) only — enforced by the patterns below.

Pure: no I/O; the caller stores records and passes the time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk import PROTOCOL_VERSION, hashchain
from kiosk.config import MAX_PRINTER_URI_CHARS, PrinterRole, parse_printer_target
from kiosk.errors import ConfigError, Reason, RejectedError
from kiosk.fields import Fields
from kiosk.ids import DISTRICT_CODE, check_id
from kiosk.jose import sign_compact, verify_compact
from kiosk.limits import MAX_EVENT_BYTES, TYP_AUDIT
from kiosk.strictjson import canonical_dumps, loads_object

ACTIONS: Final = frozenset({
    "login", "login_failed", "logout", "claim_wrong", "release_code", "release_staff",
    "print", "handover", "spoil", "retry", "printer_enable", "settings", "test_page",
    "receipt", "preview", "pin_change", "operator_add", "operator_remove",
})  # fmt: skip
OPERATOR: Final = re.compile(r"[a-z0-9._-]{1,32}")
KEYWORD: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
_DOC_TYPE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_ROLE = re.compile(r"a4|receipt")
_HASH = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_DOCS: Final = 16
GENESIS_PREFIX: Final = b"cedoka/1|audit|"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened; validated on construction (no free text can slip in)."""

    at_s: int
    action: str
    outcome: str  # keyword: ok, refused, failed, locked, …
    operator: str | None = None  # an operator id; None for the agent itself
    job_id: str | None = None
    doc_types: tuple[str, ...] = ()
    printer: str | None = None  # "a4" | "receipt"
    reason: str | None = None  # keyword, e.g. "media_empty", "no_phone", "spoiled_jammed"
    old: str | None = None  # a printer change: the role's printer URI before (None: none)
    new: str | None = None  # ... and after, or the one refused (None: removed)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")
        for name, pattern in (("outcome", KEYWORD), ("reason", KEYWORD),
                              ("operator", OPERATOR), ("printer", _ROLE)):  # fmt: skip
            value = getattr(self, name)
            if value is not None and not pattern.fullmatch(value):
                raise ValueError(f"audit {name} {value!r} is not a keyword")
        for name in ("old", "new"):
            value = getattr(self, name)
            if value is not None:
                _check_printer_uri(name, self.printer, value)
        if self.job_id is not None:
            check_id(self.job_id, "job")
        if len(self.doc_types) > MAX_DOCS or not all(
            _DOC_TYPE.fullmatch(t) for t in self.doc_types
        ):
            raise ValueError("audit doc_types must be document type codes")
        if isinstance(self.at_s, bool) or self.at_s < 0:
            raise ValueError("audit at_s must be a non-negative integer")


def _check_printer_uri(name: str, role: str | None, uri: object) -> None:
    if role is None or not isinstance(uri, str):
        raise ValueError(f"audit {name} must be a printer URI, with its printer role")
    try:
        parse_printer_target(PrinterRole(role), uri)
    except ConfigError:
        raise ValueError(f"audit {name} is not a {role} printer URI") from None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int  # 1, 2, 3 … per device
    prev: str  # base64url SHA-256 of the previous record (or the genesis value)
    hash: str
    entry: AuditEntry


def genesis(device_id: str) -> str:
    """The ``prev`` of a device's first record."""
    return hashchain.genesis(GENESIS_PREFIX, device_id)


def _members(seq: int, prev: str, device_id: str, entry: AuditEntry) -> dict[str, object]:
    members: dict[str, object] = {
        "seq": seq, "prev": prev, "dev": device_id, "at": entry.at_s, "action": entry.action,
        "outcome": entry.outcome, "docs": list(entry.doc_types),
    }  # fmt: skip
    optional = {"operator": entry.operator, "job": entry.job_id, "printer": entry.printer,
                "reason": entry.reason, "old": entry.old, "new": entry.new}  # fmt: skip
    members.update({k: v for k, v in optional.items() if v is not None})
    return members


def append(prev: AuditRecord | None, entry: AuditEntry, *, device_id: str) -> AuditRecord:
    """The record that follows ``prev`` (None: the first one)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = genesis(device_id) if prev is None else prev.hash
    members = _members(seq, prev_hash, device_id, entry)
    return AuditRecord(seq, prev_hash, hashchain.content_hash(members), entry)


def check_chain(records: Iterable[AuditRecord], *, device_id: str) -> list[str]:
    """Problems in a device's chain, in order (empty: intact from seq 1).

    Each problem is a short English sentence naming the seq: a gap, a broken link, or a
    record whose hash does not match its content.
    """
    return hashchain.chain_problems(
        records, first_prev=genesis(device_id),
        rehash=lambda r: hashchain.content_hash(_members(r.seq, r.prev, device_id, r.entry)),
    )  # fmt: skip


def sign_record(record: AuditRecord, *, event_id: str, device_id: str, district_code: str,
                key: Ed25519PrivateKey) -> bytes:  # fmt: skip
    """The record as ``cedoka-audit+jwt``, signed by the device key; ``event_id`` (evt_…)
    makes it an outbox item the district stores once."""
    members = _members(record.seq, record.prev, device_id, record.entry)
    claims = {"v": PROTOCOL_VERSION, "iss": device_id, "aud": district_code, "jti": event_id,
              "hash": record.hash, **members}  # fmt: skip
    return sign_compact(claims, typ=TYP_AUDIT, kid=device_id, key=key)


def verify_record(token: bytes, *, device_id: str, device_key: Ed25519PublicKey,
                  district_code: str) -> tuple[str, AuditRecord]:  # fmt: skip
    """Verify one signed audit record (district side); returns ``(event_id, record)``.

    Raises:
        RejectedError: any JWS failure; BAD_CLAIM for another device, a malformed member or
            a hash that does not match the content; WRONG_AUDIENCE for another district.
    """
    verified = verify_compact(
        token, typ=TYP_AUDIT, max_bytes=MAX_EVENT_BYTES,
        keys=lambda kid: device_key if kid == device_id else None,
    )  # fmt: skip
    f = Fields(verified.claims, "audit")
    f.version()
    if f.text("iss", max_len=30) != device_id or f.text("dev", max_len=30) != device_id:
        raise RejectedError(Reason.BAD_CLAIM, "audit record of another device")
    if f.text("aud", pattern=DISTRICT_CODE, max_len=5) != district_code:
        raise RejectedError(Reason.WRONG_AUDIENCE, "audit record for another district")
    event_id = check_id(f.text("jti", max_len=30), "evt")
    record = _from_fields(f, f.text("hash", pattern=_HASH, max_len=43), device_id=device_id)
    return event_id, record


def _from_fields(f: Fields, hash_: str, *, device_id: str, check: bool = True) -> AuditRecord:
    docs = f.array("docs", max_items=MAX_DOCS)
    try:
        entry = AuditEntry(
            at_s=f.integer("at"), action=f.text("action", max_len=32),
            outcome=f.text("outcome", max_len=48),
            operator=f.text("operator", max_len=32) if f.has("operator") else None,
            job_id=f.text("job", max_len=30) if f.has("job") else None,
            doc_types=tuple(str(d) for d in docs if isinstance(d, str)),
            printer=f.text("printer", max_len=7) if f.has("printer") else None,
            reason=f.text("reason", max_len=48) if f.has("reason") else None,
            old=f.text("old", max_len=MAX_PRINTER_URI_CHARS) if f.has("old") else None,
            new=f.text("new", max_len=MAX_PRINTER_URI_CHARS) if f.has("new") else None,
        )  # fmt: skip
    except ValueError as error:
        raise RejectedError(Reason.BAD_CLAIM, f"audit: {error}") from None
    if len(entry.doc_types) != len(docs):
        raise RejectedError(Reason.BAD_CLAIM, "audit.docs: expected strings")
    record = AuditRecord(f.integer("seq", low=1), f.text("prev", pattern=_HASH, max_len=43),
                         hash_, entry)  # fmt: skip
    if (
        check
        and hashchain.content_hash(_members(record.seq, record.prev, device_id, entry))
        != record.hash
    ):
        raise RejectedError(Reason.BAD_CLAIM, "audit record hash does not match its content")
    return record


def record_bytes(record: AuditRecord, *, device_id: str) -> bytes:
    """The record's hashed members as canonical JSON (how the kiosk stores it)."""
    return canonical_dumps(_members(record.seq, record.prev, device_id, record.entry))


def record_from_bytes(data: bytes, hash_: str, *, device_id: str,
                      check: bool = True) -> AuditRecord:  # fmt: skip
    """A stored record back. Raises RejectedError (BAD_CLAIM, or a WireError) when it is
    unreadable, or — with ``check`` — altered (``check_chain`` reports that instead)."""
    return _from_fields(Fields(loads_object(data, max_bytes=8192), "audit"), hash_,
                        device_id=device_id, check=check)  # fmt: skip
