"""What a kiosk reports to its district: signed job events and heartbeats.

A job event is a compact JWS (``cedoka-event+jwt``) signed by the device key, so the
district holds non-repudiable acknowledgements ("job X reached state Y at time T on device
D"). Each event has its own id (``jti``); the district stores an event once and answers a
re-sent one as a duplicate, so the agent may retry a batch freely (idempotent).

A heartbeat is plain JSON in a proof-authenticated POST: agent version, clocks, feed and
keyring position, spool counts by state and each printer role's health. Neither carries a
name or NIK: only ids, states, reason codes and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk import PROTOCOL_VERSION
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.fields import Fields
from kiosk.ids import DISTRICT_CODE, check_id
from kiosk.jose import sign_compact, verify_compact
from kiosk.lifecycle import TRANSITIONS, JobEvent, JobState
from kiosk.limits import MAX_EVENT_BYTES, MAX_EVENTS_PER_BATCH, TYP_EVENT
from kiosk.strictjson import canonical_dumps, loads_object

_REASON = re.compile(r"[a-z][a-z0-9_]{0,47}")
_OPERATOR = re.compile(r"[A-Za-z0-9._-]{1,32}")
_ROLE = re.compile(r"a4|receipt")
_PRINTER_STATES = frozenset({"idle", "processing", "stopped", "offline", "unknown"})
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_AGENT = re.compile(r"[A-Za-z0-9._/+-]{1,64}")
_KEYWORD = re.compile(r"[a-z][a-z0-9._-]{0,63}")
_MARKER = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_RELEASE_VERSION = re.compile(r"(0|[1-9][0-9]{0,3})(\.(0|[1-9][0-9]{0,3})){1,3}")
UPDATE_RESULTS = frozenset({"updated", "rolled_back", "failed", "refused", "waiting"})
MAX_HEARTBEAT_BYTES = 16 * 1024
T = TypeVar("T")
MAX_EVENT_BATCH_BYTES = MAX_EVENTS_PER_BATCH * (MAX_EVENT_BYTES + 4) + 64


@dataclass(frozen=True, slots=True)
class JobReport:
    """One lifecycle step of one job, as the district sees it."""

    event_id: str  # evt_… (ULID): the idempotency key
    device_id: str
    district_code: str
    job_id: str
    event: JobEvent
    state: JobState  # the state the job reached
    at_s: int
    reason: str | None = None  # machine-readable, e.g. "media_empty", "bad_signature"
    doc_id: str | None = None
    printer_role: str | None = None
    operator: str | None = None  # an opaque staff id, never a resident's name
    reprints: int = 0


def sign_report(report: JobReport, key: Ed25519PrivateKey) -> bytes:
    """Sign a job event as ``cedoka-event+jwt`` with the device key."""
    claims: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "iss": report.device_id,
        "aud": report.district_code,
        "jti": report.event_id,
        "iat": report.at_s,
        "job": report.job_id,
        "event": report.event.value,
        "state": report.state.value,
        "reprints": report.reprints,
    }
    optional = {
        "reason": report.reason,
        "doc": report.doc_id,
        "printer": report.printer_role,
        "operator": report.operator,
    }
    claims.update({name: value for name, value in optional.items() if value is not None})
    return sign_compact(claims, typ=TYP_EVENT, kid=report.device_id, key=key)


def verify_report(
    token: bytes, *, device_id: str, device_key: Ed25519PublicKey, district_code: str
) -> JobReport:
    """Verify one job event from ``device_id`` (district side).

    Raises:
        RejectedError: any JWS failure; BAD_CLAIM when ``iss`` is not the device or
            ``state`` is not where ``event`` leads; WRONG_AUDIENCE for another district.
    """
    verified = verify_compact(
        token,
        typ=TYP_EVENT,
        keys=lambda kid: device_key if kid == device_id else None,
        max_bytes=MAX_EVENT_BYTES,
    )
    f = Fields(verified.claims, "event")
    f.version()
    if f.text("iss", max_len=30) != device_id:
        raise RejectedError(Reason.BAD_CLAIM, "event.iss differs from the device")
    if f.text("aud", pattern=DISTRICT_CODE, max_len=5) != district_code:
        raise RejectedError(Reason.WRONG_AUDIENCE, "event for another district")
    event = JobEvent(f.choice("event", frozenset(JobEvent)))
    state = JobState(f.choice("state", frozenset(JobState)))
    if state not in {target for (_, ev), target in TRANSITIONS.items() if ev is event}:
        raise RejectedError(Reason.BAD_CLAIM, f"event {event.value} cannot lead to {state.value}")
    return JobReport(
        event_id=check_id(f.text("jti", max_len=30), "evt"),
        device_id=device_id,
        district_code=district_code,
        job_id=check_id(f.text("job", max_len=30), "job"),
        event=event,
        state=state,
        at_s=f.integer("iat"),
        reason=f.text("reason", pattern=_REASON, max_len=48) if f.has("reason") else None,
        doc_id=check_id(f.text("doc", max_len=30), "doc") if f.has("doc") else None,
        printer_role=f.text("printer", pattern=_ROLE, max_len=7) if f.has("printer") else None,
        operator=f.text("operator", pattern=_OPERATOR, max_len=32) if f.has("operator") else None,
        reprints=f.integer("reprints", high=100),
    )


def event_batch_body(tokens: list[bytes]) -> bytes:
    """The JSON body of ``POST /v1/events``."""
    return canonical_dumps({"v": PROTOCOL_VERSION, "events": [t.decode("ascii") for t in tokens]})


def parse_event_batch(data: bytes, *, verify: Callable[[bytes], T]) -> list[T | RejectedError]:
    """Parse a batch; each item (a job event or an audit record) is verified on its own by
    ``verify`` (one bad item spoils no other).

    Raises:
        WireError: the batch itself is malformed or too large.
    """
    f = Fields(loads_object(data, max_bytes=MAX_EVENT_BATCH_BYTES), "events")
    f.version()
    out: list[T | RejectedError] = []
    for item in f.array("events", min_items=1, max_items=MAX_EVENTS_PER_BATCH):
        if not isinstance(item, str) or not _TOKEN_TEXT.fullmatch(item):
            out.append(WireError(Reason.MALFORMED, "events[]: expected a compact JWS"))
            continue
        try:
            out.append(verify(item.encode("ascii")))
        except RejectedError as error:
            out.append(error)
    return out


# --- heartbeat --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Marker:
    """One supply (ink, toner) as IPP ``marker-levels`` reports it: 0..100 percent, or
    -1 (unavailable), -2 (unknown), -3 (some remains, level not known)."""

    name: str
    level: int


@dataclass(frozen=True, slots=True)
class PrinterHealth:
    """One printer role's health, as the agent saw it."""

    role: str  # "a4" | "receipt"
    backend: str  # "cups" | "escpos" | "virtual"
    state: str  # idle | processing | stopped | offline | unknown
    accepting: bool
    reasons: tuple[str, ...]  # IPP printer-state-reasons keywords, e.g. "media-empty"
    markers: tuple[Marker, ...]
    media: str | None  # loaded media keyword if reported, e.g. "iso_a4_210x297mm"


@dataclass(frozen=True, slots=True)
class UpdateReport:
    """The outcome of the kiosk's last self-update attempt (ADR 0031, protocol §12, §20.5):
    ``result`` one of :data:`UPDATE_RESULTS`, the release ``version`` it was about, when
    (``at_s``, the kiosk's clock) and a reason code (None for ``updated``)."""

    at_s: int
    result: str
    version: str
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"at": self.at_s, "result": self.result, "version": self.version,
                "reason": self.reason}  # fmt: skip


def parse_update_report(item: object, where: str = "heartbeat.update") -> UpdateReport:
    """An ``update`` member (heartbeat) or ``<home>/update/last.json``.

    Raises:
        WireError: BAD_CLAIM.
    """
    f = Fields(item, where)
    reason = f.raw("reason")
    return UpdateReport(
        at_s=f.integer("at"),
        result=f.choice("result", UPDATE_RESULTS),
        version=f.text("version", pattern=_RELEASE_VERSION, max_len=19),
        reason=None if reason is None else f.text("reason", pattern=_REASON, max_len=48),
    )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The kiosk's periodic health report."""

    agent: str  # "cedoka/0.1.0"
    sent_at_s: int  # local clock
    time_floor_s: int  # trusted-clock floor
    feed_seq: int  # highest verified head seq
    keyring_version: int
    spool: Mapping[str, int]  # JobState value -> count
    printers: tuple[PrinterHealth, ...]
    journal_head: str | None  # base64url SHA-256 of the audit chain head
    last_errors: tuple[tuple[int, str], ...]  # (at_s, reason code), newest last, ≤ 10
    update: UpdateReport | None = None  # the last self-update attempt (omitted when none)
    seal_keys: int | None = None  # sealing private keys held (protocol 12, 14.2); optional
    operators_version: int | None = None  # the office operator list applied (ADR 0034)


MAX_SEAL_KEYS_HELD = 64  # a heartbeat's seal_keys: 1 (the current key) … 64


def heartbeat_body(beat: Heartbeat) -> bytes:
    """The JSON body of ``POST /v1/heartbeat``."""
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "agent": beat.agent,
        "sent_at": beat.sent_at_s,
        "time_floor": beat.time_floor_s,
        "feed_seq": beat.feed_seq,
        "keyring_version": beat.keyring_version,
        "spool": dict(beat.spool),
        "printers": [
            {
                "role": p.role,
                "backend": p.backend,
                "state": p.state,
                "accepting": p.accepting,
                "reasons": list(p.reasons),
                "markers": [{"name": m.name, "level": m.level} for m in p.markers],
                "media": p.media,
            }
            for p in beat.printers
        ],
        "journal_head": beat.journal_head,
        "last_errors": [{"at": at, "reason": reason} for at, reason in beat.last_errors],
    }
    if beat.update is not None:
        body["update"] = beat.update.to_json()
    if beat.seal_keys is not None:
        body["seal_keys"] = beat.seal_keys
    if beat.operators_version is not None:
        body["operators_version"] = beat.operators_version
    return canonical_dumps(body)


def parse_heartbeat(data: bytes) -> Heartbeat:
    """Parse a heartbeat body (district side).

    Raises:
        WireError: not strict JSON, UNSUPPORTED_VERSION, BAD_CLAIM.
    """
    f = Fields(loads_object(data, max_bytes=MAX_HEARTBEAT_BYTES), "heartbeat")
    f.version()
    spool_fields = f.nested("spool")
    spool = {
        state.value: spool_fields.integer(state.value)
        for state in JobState
        if spool_fields.has(state.value)
    }
    printers = tuple(_parse_printer(p) for p in f.array("printers", max_items=4))
    errors = []
    for item in f.array("last_errors", max_items=10):
        e = Fields(item, "heartbeat.last_errors[]")
        errors.append((e.integer("at"), e.text("reason", pattern=_REASON, max_len=48)))
    journal = f.raw("journal_head")
    update = f.raw("update") if f.has("update") else None
    return Heartbeat(
        agent=f.text("agent", pattern=_AGENT, max_len=64),
        sent_at_s=f.integer("sent_at"),
        time_floor_s=f.integer("time_floor"),
        feed_seq=f.integer("feed_seq"),
        keyring_version=f.integer("keyring_version"),
        spool=spool,
        printers=printers,
        journal_head=None if journal is None else f.text("journal_head", max_len=43),
        last_errors=tuple(errors),
        update=None if update is None else parse_update_report(update),
        seal_keys=f.integer("seal_keys", low=1, high=MAX_SEAL_KEYS_HELD)
        if f.has("seal_keys") else None,
        operators_version=f.integer("operators_version") if f.has("operators_version") else None,
    )  # fmt: skip


def _parse_printer(item: object) -> PrinterHealth:
    p = Fields(item, "heartbeat.printers[]")
    accepting = p.raw("accepting")
    if not isinstance(accepting, bool):
        raise WireError(Reason.BAD_CLAIM, "heartbeat.printers[].accepting: expected a boolean")
    markers = []
    for item_marker in p.array("markers", max_items=16):
        m = Fields(item_marker, "heartbeat.printers[].markers[]")
        markers.append(
            Marker(m.text("name", pattern=_MARKER), m.integer("level", low=-3, high=100))
        )
    reasons = []
    for reason in p.array("reasons", max_items=16):
        if not isinstance(reason, str) or not _KEYWORD.fullmatch(reason):
            raise WireError(Reason.BAD_CLAIM, "heartbeat.printers[].reasons[]: bad keyword")
        reasons.append(reason)
    media = p.raw("media")
    return PrinterHealth(
        role=p.text("role", pattern=_ROLE, max_len=7),
        backend=p.choice("backend", frozenset({"cups", "escpos", "virtual"})),
        state=p.choice("state", _PRINTER_STATES),
        accepting=accepting,
        reasons=tuple(reasons),
        markers=tuple(markers),
        media=None if media is None else p.text("media", pattern=_KEYWORD),
    )
