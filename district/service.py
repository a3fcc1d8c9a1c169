"""The district's side of protocol v1, behind the HTTP layer (docs/protocol.md).

Every method takes and returns bytes or small values, raises only Cedoka errors
(``RejectedError``, ``GoneError``, ``RateLimitedError``), and does one store transaction
or a few. ``district.http`` maps them to HTTP; the long-poll waiting lives there too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from district.keyring import Keys
from district.operator_store import OperatorRecord
from district.operators import operator_list_token
from district.ratelimit import Limiter, RateLimiter
from district.replay import ProofReplays, ReplayCache
from district.store import BlobReader, BlobRow, DeviceRow, DistrictStore
from kiosk import PROTOCOL_VERSION
from kiosk.audit import AuditRecord, record_bytes, verify_record
from kiosk.b64 import b64u_encode
from kiosk.enroll import (
    MAX_ENROLL_BYTES,
    EnrollCode,
    EnrollResponse,
    enroll_response_body,
    parse_enroll_request,
    read_enroll_code_id,
)
from kiosk.errors import CedokaError, GoneError, RateLimitedError, Reason, RejectedError
from kiosk.feed import FeedResponse, feed_body
from kiosk.fields import Fields
from kiosk.ids import new_id
from kiosk.issue import Signer, sign_head
from kiosk.jose import read_unverified_header
from kiosk.keys import fingerprint_code, parse_ed25519_jwk, parse_x25519_jwk, public_jwk, thumbprint
from kiosk.limits import (
    DEFAULT_LEEWAY_S,
    MAX_CANCELLED_IN_HEAD,
    MAX_EVENT_BYTES,
    MAX_JOBS_PER_FEED,
    MAX_PROOF_LIFETIME_S,
    TYP_AUDIT,
)
from kiosk.model import FeedHead
from kiosk.proof import DeviceKeyState, RequestFacts, verify_proof
from kiosk.report import JobReport, parse_event_batch, parse_heartbeat, verify_report
from kiosk.rootchain import RootLink
from kiosk.strictjson import canonical_dumps, loads_object, loads_strict

log = logging.getLogger("cedoka.district")
HEAD_LIFETIME_S = 600
TOUCH_INTERVAL_S = 60  # "last seen" is kept to this precision per device
TOUCH_FLUSH_S = 5.0  # and written (all devices in one transaction) at most this late
MAX_CACHED_KEYS = 100_000  # parsed device auth keys kept (a jwk string each)
ENROLL_ATTEMPTS_PER_MINUTE = 10  # per client address, and per code_id
ENROLL_SWEEP_INTERVAL_S = 60  # spent enrolment secrets are erased at most this late
MAX_SEAL_KEY_BODY_BYTES = 1024
# A proof is accepted until exp + leeway, and exp <= iat + 120 <= now + leeway + 120.
PROOF_MEMORY_S = MAX_PROOF_LIFETIME_S + 2 * DEFAULT_LEEWAY_S
_NONCE = re.compile(r"[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class QuietFeed:
    """The feed of a device with nothing new, as it was when its poll arrived: what a
    poll that times out answers (a head signed then, no jobs, no keyring). Valid while the
    device's ``feed_version`` is unchanged: a push, a cancel, a revocation, a rotation and a
    new keyring each move it, and that wakes the poll instead."""

    device_id: str
    seq: int
    cancelled: frozenset[str]
    keyring_version: int
    signer: Signer
    seal_rotate_s: int | None = None
    operators_version: int = 0  # the office list's version, for the head's ``ov``


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a long-poll waits on: the device's feed version at the time of the request,
    and the answer when it is due at once (``answer``) or the quiet feed to answer with
    on a timeout (``quiet``)."""

    has_news: bool
    feed_version: int
    answer: bytes | None = None
    quiet: QuietFeed | None = None


class DistrictService:
    """Protocol v1, district side."""

    def __init__(
        self, keys: Keys, *, now: Callable[[], float] = time.time,
        replays: ProofReplays | None = None, enroll_limits: Limiter | None = None,
    ) -> None:  # fmt: skip
        """``replays``: the proof replay cache (``district.replay.open_replay_cache`` for a
        server process, the shared one on PostgreSQL; by default an empty one that holds
        every proof, for tests). ``enroll_limits``: the enrolment rate limit (by default
        one in this process; on PostgreSQL the shared one, ADR 0027)."""
        self._keys = keys
        self._store = keys.store
        self._now = now
        self._enroll_limits = enroll_limits or RateLimiter(per_minute=ENROLL_ATTEMPTS_PER_MINUTE)
        self._lock = threading.Lock()
        self._last_touch: dict[str, int] = {}  # device -> last "last seen" noted
        self._touches: dict[str, int] = {}  # noted, not yet written (flush_touches)
        self._auth_keys: dict[str, Ed25519PublicKey] = {}  # auth_jwk text -> parsed key
        self._replays: ProofReplays = replays if replays is not None else ReplayCache()
        self._swept_s = 0
        self._sweep_enroll_secrets()

    def now_s(self) -> int:
        return int(self._now())

    @property
    def store(self) -> DistrictStore:
        return self._store

    def check_ready(self) -> None:
        """Raise unless this process can serve: the database answers and the active
        job-signing key loads (``/readyz``)."""
        self._store.data_version()
        self._keys.active_signer(now_s=self.now_s(), reload=True)

    # --- enrolment ----------------------------------------------------------------------
    def enroll(self, body: bytes, *, remote: str | None) -> bytes:
        """Handle ``POST /v1/enroll``. ``remote``: the client's address, None when there is
        none to trust (a proxy that names no client): then only the per-code limit applies.

        Raises:
            WireError; RejectedError ENROLL_CODE_INVALID / ENROLL_MAC_INVALID;
            RateLimitedError.
        """
        if remote is not None:
            self._enroll_limits.hit("addr:" + remote, now_s=self._now())
        code_id = read_enroll_code_id(body)
        self._enroll_limits.hit("code:" + code_id, now_s=self._now())
        now = self.now_s()
        self._sweep_enroll_secrets()
        row = self._store.enroll_code(code_id)
        if row is None or row.expires_s <= now:
            raise RejectedError(Reason.ENROLL_CODE_INVALID, "unknown, used or expired code")
        if row.consumed_s is not None:  # its secret is erased: a retry is known by its keys
            digest = _retry_digest(body)
            if row.request_digest is not None and row.response is not None and digest \
                    and hmac.compare_digest(digest, row.request_digest):  # fmt: skip
                return row.response  # the same request again, after a lost answer
            raise RejectedError(Reason.ENROLL_CODE_INVALID, "unknown, used or expired code")
        root = self._keys.root_public()
        code = EnrollCode(code_id, row.secret, fingerprint_code(root))
        request = parse_enroll_request(body, code)
        device_id = new_id("dev", now_ms=now * 1000, random_bytes=secrets.token_bytes)
        office = self._store.office(row.office_code)
        assert office is not None
        _, keyring_token = self._keys.keyring(now_s=now)
        answer = enroll_response_body(
            EnrollResponse(
                device_id=device_id, district_code=self._keys.district_code,
                district_name=self._keys.district_name, office_code=office.code,
                office_name=office.name, root_key=root, keyring_token=keyring_token,
                server_time_s=now,
            ),
            nonce=request.nonce, code=code,
        )  # fmt: skip
        device = DeviceRow(
            device_id=device_id, office_code=office.code,
            auth_jwk=canonical_dumps(public_jwk(request.auth_key)).decode(),
            seal_jwk=canonical_dumps(public_jwk(request.seal_key)).decode(),
            enrolled_s=now, revoked_s=None, seq=0, feed_version=0, last_seen_s=None,
            agent=request.agent, heartbeat=None,
        )  # fmt: skip
        digest = _request_digest(request.auth_key, request.seal_key, request.nonce)
        if not self._store.consume_enroll_code(
            code_id, device=device, nonce=request.nonce, digest=digest, response=answer,
            at_s=now,
        ):  # fmt: skip
            return self.enroll(body, remote=remote)  # lost a race: answer as for a retry
        log.info("event=device_enrolled device=%s office=%s", device_id, office.code)
        return answer

    def _sweep_enroll_secrets(self) -> None:
        """Erase the secrets of expired codes (used ones are erased as they are used):
        at start, then at most once a minute, at an enrolment or an authenticated request."""
        now = self.now_s()
        with self._lock:
            due = now - self._swept_s >= ENROLL_SWEEP_INTERVAL_S
            if due:
                self._swept_s = now
        if due:
            erased = self._store.erase_spent_enroll_secrets(now_s=now)
            if erased:
                log.info("event=enroll_secrets_erased count=%d", erased)

    # --- device proofs ------------------------------------------------------------------
    def authenticate(self, token: bytes, request: RequestFacts) -> DeviceRow:
        """Check a request proof; returns the device.

        Raises:
            RejectedError: any proof failure (UNKNOWN_DEVICE, DEVICE_REVOKED, REPLAYED, …).
        """
        now = self.now_s()
        rows: list[DeviceRow] = []

        def devices(device_id: str) -> DeviceKeyState | None:
            row = self._store.device(device_id)  # read each time: a revocation holds at once
            if row is None:
                return None
            rows.append(row)
            return DeviceKeyState(public_key=self.auth_key(row), revoked=row.revoked_s is not None)

        def is_replay(jti: str) -> bool:
            expires = now + PROOF_MEMORY_S
            try:
                return not self._replays.add(jti, expires_s=expires, now_s=now)
            except OverflowError:  # a million proofs in three minutes: a flood, not kiosks
                raise RateLimitedError(MAX_PROOF_LIFETIME_S) from None

        proof = verify_proof(
            token, request, devices=devices, is_replay=is_replay, now_s=now,
            remembered_since_s=self._replays.since_s,
        )  # fmt: skip
        self._sweep_enroll_secrets()  # kiosks poll all the time: a clock for the sweep
        with self._lock:
            if self._last_touch.get(proof.device_id, 0) < now - TOUCH_INTERVAL_S:
                # "last seen" to the minute, written in batches (flush_touches)
                self._last_touch[proof.device_id] = now
                self._touches[proof.device_id] = now
        return rows[-1]  # verify_proof read it once, and only a device that passed

    def auth_key(self, device: DeviceRow) -> Ed25519PublicKey:
        """The device's parsed auth key, cached by its JWK text (a device's row is read for
        every request, so a revocation or a new key is seen at once; only parsing is saved)."""
        key = self._auth_keys.get(device.auth_jwk)
        if key is None:
            key = parse_ed25519_jwk(loads_strict(device.auth_jwk.encode(), max_bytes=1024))
            if len(self._auth_keys) >= MAX_CACHED_KEYS:
                self._auth_keys.clear()
            self._auth_keys[device.auth_jwk] = key
        return key

    def flush_touches(self) -> int:
        """Write the "last seen" times noted since the last flush, in one transaction (the
        HTTP layer calls this every ``TOUCH_FLUSH_S`` and at shutdown). Returns how many."""
        with self._lock:
            touches, self._touches = self._touches, {}
        if touches:
            try:
                self._store.touch_devices(touches)
            except Exception:
                with self._lock:  # kept for the next flush (newer times win)
                    for device_id, at_s in touches.items():
                        self._touches[device_id] = max(at_s, self._touches.get(device_id, 0))
                raise
        return len(touches)

    # --- feed ---------------------------------------------------------------------------
    def feed_state(self, device: DeviceRow, *, after: int, keyring_version: int,
                   answer_now: bool = False,
                   operators_version: int | None = None) -> FeedState:  # fmt: skip
        """Whether the device is answered at once (then with the answer), and the version
        to wait on (then with the quiet feed a timeout answers). ``device``: its row as
        :meth:`authenticate` just read it. ``answer_now``: the request does not wait.
        ``operators_version``: the request's ``ov`` (None: absent, an agent that takes no
        operator lists: nothing about them is news, none is sent)."""
        now = self.now_s()
        version, keyring_token, chain = self._keys.keyring_and_chain(now_s=now)
        ov = self._operators_version(device, operators_version)
        news = device.seq > after or keyring_version < version
        if operators_version is not None and operators_version < ov:
            news = True
        if news or answer_now:
            answer = self._answer(
                device,
                after,
                keyring_version,
                version=version,
                keyring_token=keyring_token,
                chain=chain,
                now=now,
                operators_version=operators_version,
            )
            return FeedState(has_news=news, feed_version=device.feed_version, answer=answer)
        quiet = QuietFeed(
            device_id=device.device_id, seq=device.seq,
            cancelled=self._cancelled(device.device_id, now), keyring_version=version,
            signer=self._keys.active_signer(now_s=now), seal_rotate_s=device.seal_rotate_s,
            operators_version=ov,
        )  # fmt: skip
        return FeedState(has_news=False, feed_version=device.feed_version, quiet=quiet)

    def _operators_version(self, device: DeviceRow, asked: int | None) -> int:
        """The office list's version when the request asked (``ov``), else 0 (not read)."""
        return 0 if asked is None else self._store.operators.list_version(device.office_code)

    def quiet_answer(self, quiet: QuietFeed) -> bytes:
        """The answer to a poll that timed out with nothing new: a head signed now over the
        feed as it was when the poll arrived, no jobs. No database access: the HTTP layer
        calls it on the event loop."""
        now = self.now_s()
        head = FeedHead(
            device_id=quiet.device_id, issuer=self._keys.district_code, seq=quiet.seq,
            issued_at_s=now, expires_at_s=now + HEAD_LIFETIME_S, cancelled=quiet.cancelled,
            keyring_version=quiet.keyring_version, seal_rotate_s=quiet.seal_rotate_s,
            operators_version=quiet.operators_version,
        )  # fmt: skip
        return feed_body(FeedResponse(head=sign_head(head, quiet.signer), jobs=(), keyring=None))

    def feed(self, device_id: str, *, after: int, keyring_version: int,
             operators_version: int | None = None) -> bytes:  # fmt: skip
        """A feed answer: a fresh signed head, jobs after ``after``, the keyring if newer,
        the office operator list if newer than ``operators_version`` (when given).

        Raises:
            RejectedError: DEVICE_REVOKED.
        """
        device = self._store.device(device_id)
        if device is None or device.revoked_s is not None:
            raise RejectedError(Reason.DEVICE_REVOKED, "device revoked")
        now = self.now_s()
        version, keyring_token, chain = self._keys.keyring_and_chain(now_s=now)
        return self._answer(
            device, after, keyring_version, version=version, keyring_token=keyring_token,
            chain=chain, now=now, operators_version=operators_version,
        )  # fmt: skip

    def _cancelled(self, device_id: str, now: int) -> frozenset[str]:
        return frozenset(
            self._store.cancelled_open(device_id, now_s=now, limit=MAX_CANCELLED_IN_HEAD)
        )

    def _answer(self, device: DeviceRow, after: int, keyring_version: int, *, version: int,
                keyring_token: bytes, chain: tuple[RootLink, ...], now: int,
                operators_version: int | None = None) -> bytes:  # fmt: skip
        jobs = self._store.jobs_after(device.device_id, after, limit=MAX_JOBS_PER_FEED)
        ov, operators = self._operators_version(device, operators_version), None
        if operators_version is not None and operators_version < ov:  # built only when sent
            ov, operators = operator_list_token(self._keys, device, now_s=now)
        head = FeedHead(
            device_id=device.device_id,
            issuer=self._keys.district_code,
            seq=device.seq,
            issued_at_s=now,
            expires_at_s=now + HEAD_LIFETIME_S,
            cancelled=self._cancelled(device.device_id, now),
            keyring_version=version,
            seal_rotate_s=device.seal_rotate_s,
            operators_version=ov,
        )
        return feed_body(FeedResponse(
            head=sign_head(head, self._keys.active_signer(now_s=now)),
            jobs=tuple(job.token for job in jobs),
            keyring=keyring_token if keyring_version < version else None,
            # the root chain goes with a keyring (§6.5): a kiosk pins a rotated root only
            # together with a keyring it signed
            root=chain if keyring_version < version and chain else None,
            operators=operators,
        ))  # fmt: skip

    # --- blobs --------------------------------------------------------------------------
    def blob(self, device_id: str, job_id: str, doc_id: str) -> BlobRow:
        """The sealed blob's size and hash, if the device may fetch it.

        Raises:
            GoneError: not_found, job_cancelled, job_expired.
        """
        job = self._store.job(job_id)
        if job is None or job.device_id != device_id:
            raise GoneError("not_found", "no such job for this device")
        if job.cancelled_s is not None:
            raise GoneError("job_cancelled")
        if job.expires_s <= self.now_s():
            raise GoneError("job_expired")
        blob = self._store.blob(job_id, doc_id)
        if blob is None:
            raise GoneError("not_found", "no such document in this job")
        return blob

    def open_blob(self, job_id: str, doc_id: str) -> BlobReader | None:
        """A reader for one download (after :meth:`blob` allowed it); None if it is gone."""
        return self._store.open_blob(job_id, doc_id)

    # --- reports ------------------------------------------------------------------------
    def events(self, device: DeviceRow, body: bytes) -> bytes:
        """Store a batch of signed job events and audit records; idempotent by event id
        (audit records by device and seq)."""
        key = self.auth_key(device)
        now = self.now_s()
        district = self._keys.district_code
        tokens: dict[str, bytes] = {}

        def verify(token: bytes) -> JobReport | tuple[str, AuditRecord]:
            header = read_unverified_header(token, max_bytes=MAX_EVENT_BYTES)
            if header.get("typ") == TYP_AUDIT:
                event_id, record = verify_record(
                    token, device_id=device.device_id, device_key=key, district_code=district
                )
                tokens[event_id] = token
                return event_id, record
            report = verify_report(
                token, device_id=device.device_id, device_key=key, district_code=district
            )
            tokens[report.event_id] = token  # kept as signed evidence
            return report

        results: list[dict[str, object]] = []
        for item in parse_event_batch(body, verify=verify):
            if isinstance(item, RejectedError):
                results.append({"id": None, "status": "rejected", "reason": item.reason.value})
            elif isinstance(item, tuple):
                results.append(self._store_audit(device, *item, tokens[item[0]], now))
            else:
                results.append(
                    self._store_event(device.device_id, item, tokens[item.event_id], now)
                )
        return canonical_dumps({"v": PROTOCOL_VERSION, "results": results})

    def _store_audit(self, device: DeviceRow, event_id: str, record: AuditRecord, token: bytes,
                     now: int) -> dict[str, object]:  # fmt: skip
        device_id = device.device_id
        status = self._store.add_audit(
            device_id=device_id, seq=record.seq, hash_=record.hash, at_s=record.entry.at_s,
            record=record_bytes(record, device_id=device_id), token=token, received_s=now,
        )  # fmt: skip
        if status == "conflict":  # a second record claims this seq: the chain was forked
            log.warning("event=audit_conflict device=%s seq=%d", device_id, record.seq)
            return {"id": event_id, "status": "rejected", "reason": Reason.BAD_CLAIM.value}
        if status == "stored":
            self._note_staff(device, record)
        return {"id": event_id, "status": status}

    def _note_staff(self, device: DeviceRow, record: AuditRecord) -> None:
        """A kiosk's report about its staff (ADR 0034): a supervisor's local operator, noted
        as ``origin = local`` (a central operator of that id wins: nothing noted); a PIN
        changed after the district's one-time PIN, which later lists then leave out."""
        entry = record.entry
        operator, at_s = entry.operator, entry.at_s
        if operator is None or entry.outcome != "ok":
            return
        staff = self._store.operators
        if entry.action in ("operator_add", "operator_remove"):
            role = entry.reason if entry.reason in ("staff", "supervisor") else "staff"
            state = "active" if entry.action == "operator_add" else "removed"
            if entry.action == "operator_remove":
                known = staff.operator(device.office_code, operator)
                role = role if known is None else known.role
            noted = staff.note_local(OperatorRecord(
                device.office_code, operator, "", role, state, "local", None, False, None,
                at_s, device.device_id,
            ))  # fmt: skip
            if not noted:
                log.info("event=local_operator_shadowed device=%s operator=%s",
                         device.device_id, operator)  # fmt: skip
        elif entry.action == "pin_change":
            staff.clear_one_time_pin(device.office_code, operator, at_s=at_s)

    def _store_event(self, device_id: str, item: JobReport, token: bytes,
                     now: int) -> dict[str, object]:  # fmt: skip
        job = self._store.job(item.job_id)
        if job is None or job.device_id != device_id:
            return {"id": item.event_id, "status": "rejected", "reason": Reason.BAD_CLAIM.value}
        stored = self._store.add_event(
            event_id=item.event_id, device_id=device_id, job_id=item.job_id,
            event=item.event.value, state=item.state.value, at_s=item.at_s,
            reason=item.reason, token=token, received_s=now,
        )  # fmt: skip
        if stored:
            log.info(
                "event=job_event job=%s device=%s state=%s reason=%s",
                item.job_id, device_id, item.state.value, item.reason or "-",
            )  # fmt: skip
        return {"id": item.event_id, "status": "stored" if stored else "duplicate"}

    def heartbeat(self, device: DeviceRow, body: bytes) -> bytes:
        beat = parse_heartbeat(body)
        now = self.now_s()
        self._store.store_heartbeat(device.device_id, body, agent=beat.agent, at_s=now)
        return canonical_dumps({"v": PROTOCOL_VERSION, "server_time": now})

    def rotate_seal_key(self, device: DeviceRow, body: bytes) -> bytes:
        f = Fields(loads_object(body, max_bytes=MAX_SEAL_KEY_BODY_BYTES), "seal_key")
        f.version()
        key = parse_x25519_jwk(f.raw("seal_jwk"))
        self._store.set_seal_key(device.device_id, canonical_dumps(public_jwk(key)).decode())
        return canonical_dumps({"v": PROTOCOL_VERSION, "seal_kid": thumbprint(key)})


def _request_digest(auth: Ed25519PublicKey, seal: X25519PublicKey, nonce: str) -> str:
    """What identifies an enrolment request for a retry: its two keys and its nonce."""
    members = {"auth_jwk": public_jwk(auth), "nonce": nonce, "seal_jwk": public_jwk(seal)}
    return b64u_encode(hashlib.sha256(canonical_dumps(members)).digest())


def _retry_digest(body: bytes) -> str:
    """:func:`_request_digest` of a request body (its MAC cannot be checked once the code's
    secret is erased); "" when the members do not parse."""
    try:
        f = Fields(loads_object(body, max_bytes=MAX_ENROLL_BYTES), "enroll")
        auth, seal = parse_ed25519_jwk(f.raw("auth_jwk")), parse_x25519_jwk(f.raw("seal_jwk"))
        return _request_digest(auth, seal, f.text("nonce", pattern=_NONCE, max_len=22))
    except CedokaError:
        return ""
