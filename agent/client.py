"""The agent's HTTP adapter to the district server (docs/protocol.md sections 4-6, 8, 11.3,
12 and 15).

One ``requests.Session`` per client, with ``trust_env`` off (no proxies, CA bundles or
``.netrc`` from the environment: on a kiosk the configured ``verify`` is the only trust
anchor) and redirects never followed (a captive portal redirects; a district never does).
Every request except enrolment carries a fresh proof (``kiosk.proof``) whose ``iat`` is the
local clock plus ``clock_offset_s``; after a 401 ``expired`` / ``issued_in_future`` the offset
is corrected from the answer's ``Date`` header and the request is sent once more at once
(protocol 5.3).

Errors are translated here, once: nothing from requests, urllib3, ssl or socket leaves this
module. A failed link (DNS, refused, reset, timeout, TLS, 3xx, 429, 5xx, an answer that is
not the protocol's message, a missed deadline) is :class:`LinkDownError`, a ``TransportError``
with a machine ``kind`` and the server's ``retry_after_s``; the caller retries it with
``kiosk.backoff.Backoff``. A refusal the protocol names (``device_revoked``,
``unknown_device``, a bad enrolment code, ``malformed``, ``too_large``, …) is a
``RejectedError`` with its ``Reason``; a blob that is gone is a ``GoneError``.

Every body is read with a byte cap, one socket read at a time, and every read of an answer
(status line, headers and body) waits at most until the request's overall deadline
(:mod:`agent.deadline`), so neither an endless nor a trickling answer can hold the agent.
Logs carry ids, kinds and numbers; never bodies, codes or proofs. A client is meant for one
thread at a time.
"""

from __future__ import annotations

import enum
import http.client
import logging
import math
import os
import random
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Final
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent.deadline import DeadlineAdapter, DeadlineExceededError, deadline_scope
from kiosk.b64 import b64u_encode
from kiosk.backoff import Backoff
from kiosk.config import is_loopback_host
from kiosk.enroll import (
    MAX_ENROLL_BYTES,
    EnrollCode,
    EnrollRequest,
    EnrollResponse,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.errors import (
    CedokaError,
    ConfigError,
    GoneError,
    Reason,
    RejectedError,
    TransportError,
    WireError,
)
from kiosk.feed import MAX_ERROR_BYTES, ErrorBody, parse_error, parse_feed
from kiosk.fields import Fields
from kiosk.ids import check_id
from kiosk.keys import public_jwk
from kiosk.limits import MAX_DOCUMENT_SEALED_BYTES, MAX_EVENTS_PER_BATCH, MAX_FEED_RESPONSE_BYTES
from kiosk.proof import AUTH_SCHEME, RequestFacts, make_proof
from kiosk.report import event_batch_body
from kiosk.strictjson import canonical_dumps, loads_object

log = logging.getLogger("cedoka.agent.client")

USER_AGENT: Final = "cedoka-agent/1"
CHUNK_BYTES: Final = 64 * 1024
MAX_WAIT_S: Final = 60  # feed long-poll, protocol 6.1
MAX_RETRY_AFTER_S: Final = 86_400  # error.retry_after_s range, protocol 15.1
MAX_EVENTS_ANSWER_BYTES: Final = 64 * 1024  # 100 results of ~90 bytes, with room to spare
MAX_HEARTBEAT_ANSWER_BYTES: Final = 4 * 1024
MAX_SEAL_KEY_ANSWER_BYTES: Final = 1024
_KID: Final = re.compile(r"[A-Za-z0-9_-]{43}")
# Enrolment: the same body is re-sent a few times on a transient failure (protocol 4.2 step
# 5 answers an identical retry with the first answer); a longer wait is left to the caller.
ENROLL_ATTEMPTS: Final = 4
ENROLL_BACKOFF = Backoff(initial_s=0.5, max_s=4.0)
ENROLL_MAX_WAIT_S: Final = 10.0

_JSON: Final = "application/json"
_ETAG = re.compile(r"[A-Za-z0-9_-]{43}")
_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTENT_RANGE = re.compile(r"bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})")
_UNSATISFIED_RANGE = re.compile(r"bytes \*/([0-9]{1,15})")
_DIGITS = re.compile(r"[0-9]{1,15}")
_REASONS: Final = {reason.value: reason for reason in Reason}
_GONE: Final = frozenset({"job_cancelled", "job_expired", "job_purged"})
_EVENT_STATUSES: Final = frozenset({"stored", "duplicate", "rejected"})
_PROOF_CLOCK: Final = frozenset({Reason.EXPIRED, Reason.ISSUED_IN_FUTURE})
# A response that is not JSON at all (before the MAC check): a middlebox, not the district.
_UNREADABLE: Final = frozenset({Reason.TOO_LARGE, Reason.MALFORMED, Reason.DUPLICATE_KEY})
# Everything a request or a body read can raise from below this module.
_FOREIGN: Final = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


class LinkKind(enum.StrEnum):
    """Why the link failed (``LinkDownError.kind``): short machine strings for logs and the UI."""

    DNS = "dns"  # the host name did not resolve
    REFUSED = "refused"  # nothing listens there
    RESET = "reset"  # connection reset, aborted or broken
    TRUNCATED = "truncated"  # the body ended before its announced or signed length
    TIMEOUT = "timeout"  # connect or read timeout
    TLS = "tls"  # handshake or certificate failure
    NETWORK = "network"  # any other failure below HTTP (unreachable, …)
    HTTP_5XX = "http_5xx"  # 500 … 599
    RATE_LIMITED = "rate_limited"  # 429
    REPLAYED = "replayed"  # 409: the proof was seen before, even after a new one
    HTTP_STATUS = "http_status"  # a status (and error code) the protocol does not list
    CAPTIVE_PORTAL = "captive_portal"  # a redirect, or an answer that is not JSON at all
    BAD_ANSWER = "bad_answer"  # JSON that is not the endpoint's message, or over its cap
    DEADLINE = "deadline"  # the overall deadline passed
    SIZE_MISMATCH = "size_mismatch"  # a blob's length headers or body disagree with its size


class LinkDownError(TransportError):
    """The district could not be reached or did not answer with the protocol: retry later,
    waiting at least ``retry_after_s`` seconds when the server said so (429, 503)."""

    def __init__(
        self,
        kind: LinkKind,
        detail: str = "",
        *,
        retry_after_s: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail
        self.retry_after_s = retry_after_s
        self.status = status


# --- the HTTP layer shared by enrolment and the device client ------------------------------


class _Link:
    """One session to one district: URLs, timeouts, capped reads and the error mapping."""

    def __init__(
        self,
        base_url: str,
        *,
        request_timeout_s: float,
        verify: str | bool,
        wall_clock: Callable[[], float],
    ) -> None:
        if not (math.isfinite(request_timeout_s) and request_timeout_s > 0):
            raise ConfigError("request_timeout_s", "must be a positive number of seconds")
        self.origin, self.prefix = _split_base_url(base_url)
        self.request_timeout_s = request_timeout_s
        self.wall_clock = wall_clock
        session = requests.Session()
        session.trust_env = False  # no REQUESTS_CA_BUNDLE, proxies or .netrc from the env
        for scheme in ("http://", "https://"):  # answers read under an overall deadline
            session.mount(scheme, DeadlineAdapter())
        session.verify = verify
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept-Encoding"] = "identity"
        self.session = session

    def open(
        self,
        method: str,
        target: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        read_timeout_s: float,
        deadline: float,
    ) -> requests.Response:
        """Send one request; the answer's body is still unread (the caller closes it).

        Every read of the answer, its status line and headers here as its body later,
        waits at most ``read_timeout_s`` and never past ``deadline`` (time.monotonic), so a
        server trickling bytes cannot hold the call (``LinkDownError(DEADLINE)``).
        """
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            raise LinkDownError(LinkKind.DEADLINE, "deadline passed before sending")
        try:
            with deadline_scope(deadline):
                return self.session.request(
                    method,
                    self.origin + target,
                    data=body or None,
                    headers=dict(headers),
                    timeout=(min(self.request_timeout_s, left_s), read_timeout_s),
                    stream=True,
                    allow_redirects=False,
                )
        except _FOREIGN as error:
            raise _link_down(error) from None

    def read(self, response: requests.Response, *, cap: int, deadline: float) -> bytes:
        """The whole body, at most ``cap`` bytes, before ``deadline`` (time.monotonic)."""
        declared = _content_length(response.headers)
        if declared is not None and declared > cap:
            raise LinkDownError(
                LinkKind.BAD_ANSWER, "answer over its cap", status=response.status_code
            )
        data = bytearray()
        while True:
            chunk = _read1(response, min(CHUNK_BYTES, cap + 1 - len(data)), decode=True)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > cap:
                raise LinkDownError(
                    LinkKind.BAD_ANSWER, "answer over its cap", status=response.status_code
                )
            if time.monotonic() > deadline:
                raise LinkDownError(
                    LinkKind.DEADLINE, "answer too slow", status=response.status_code
                )

    def failure(self, response: requests.Response, endpoint: str, deadline: float) -> CedokaError:
        """The error for an answer the caller did not expect (reads its capped body)."""
        status = response.status_code
        if 300 <= status < 400:  # noqa: PLR2004 (the redirect class)
            return LinkDownError(LinkKind.CAPTIVE_PORTAL, f"redirect {status}", status=status)
        error: ErrorBody | None = None
        unreadable = LinkKind.CAPTIVE_PORTAL
        if _is_json(response.headers):
            unreadable = LinkKind.BAD_ANSWER
            try:
                error = parse_error(self.read(response, cap=MAX_ERROR_BYTES, deadline=deadline))
            except (WireError, LinkDownError):
                error = None
        retry_after_s = _larger(
            _retry_after_s(response.headers, now_s=self.wall_clock()),
            None if error is None or error.retry_after_s is None else float(error.retry_after_s),
        )
        if status == 429:  # noqa: PLR2004
            return LinkDownError(
                LinkKind.RATE_LIMITED, "too many requests", retry_after_s=retry_after_s, status=429
            )
        if 500 <= status < 600:  # noqa: PLR2004
            return LinkDownError(
                LinkKind.HTTP_5XX, f"status {status}", retry_after_s=retry_after_s, status=status
            )
        if error is None:
            return LinkDownError(
                unreadable, f"status {status} without an error body", status=status
            )
        mapped = _mapped_error(status, error.code, endpoint)
        if mapped is not None:
            return mapped
        return LinkDownError(
            LinkKind.HTTP_STATUS, f"status {status} {error.code}", retry_after_s=retry_after_s,
            status=status,
        )  # fmt: skip

    def close(self) -> None:
        self.session.close()


def _split_base_url(base_url: str) -> tuple[str, str]:
    """The origin (``scheme://host[:port]``, the proofs' ``aud``) and the path prefix."""
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:
        raise ConfigError("server_url", "not a valid URL") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise ConfigError("server_url", "must be https://host[:port][/path]")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("server_url", "must not carry user credentials")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ConfigError("server_url", "must not have a query or fragment")
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigError("server_url", "http:// is allowed only to a loopback host; use https://")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if scheme == "https" else 80):
        netloc += f":{port}"
    return f"{scheme}://{netloc}", parts.path.rstrip("/")


# --- the device client -----------------------------------------------------------------


class DistrictClient:
    """An enrolled kiosk's requests to its district, each with a fresh proof: the real
    :class:`agent.link.DistrictLink`."""

    clock_offset_s: int
    """Estimate of server time minus local time (protocol 5.3), used for every proof's
    ``iat``. Corrected here after a 401 ``expired`` / ``issued_in_future``; the caller may
    set it from a verified head's ``iat``, the enrolment ``server_time`` or the heartbeat
    answer's ``server_time``."""

    def __init__(
        self,
        *,
        base_url: str,
        device_id: str,
        auth_key: Ed25519PrivateKey,
        request_timeout_s: float,
        verify: str | bool = True,
        wall_clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        """``base_url``: ``https://host[:port][/prefix]`` (``http://`` to loopback only);
        ``verify``: True (requests' own CA bundle, certifi; never one named by the
        environment), False, or the path of a CA bundle (e.g. a district's private CA);
        ``request_timeout_s``: connect timeout and read timeout of one request (the feed adds
        its ``wait_s``)."""
        self._link = _Link(
            base_url, request_timeout_s=request_timeout_s, verify=verify, wall_clock=wall_clock
        )
        self.device_id = check_id(device_id, "dev")
        self._auth_key = auth_key
        self._wall_clock = wall_clock
        self._random_bytes = random_bytes
        self.clock_offset_s = 0
        self.last_date_s: float | None = None
        """The ``Date`` of the last answer from the district, as Unix seconds (None before
        one, or when it had none): ``cedoka doctor`` compares it with the local clock."""

    # --- public requests ----------------------------------------------------------------

    def feed(self, *, after: int, keyring_version: int, wait_s: int,
             operators_version: int = 0) -> bytes:  # fmt: skip
        """``GET /v1/feed``: the raw 200 body (it parses with ``kiosk.feed.parse_feed``).

        ``operators_version``: the office operator list the kiosk holds (``ov``, 0: none),
        so the district sends a newer one (protocol 6.1). Waits up to ``wait_s`` (1…60)
        seconds for news; the read timeout is ``wait_s`` plus
        ``request_timeout_s``, and the whole answer, from the status line to its last byte,
        must have arrived ``wait_s`` + 2 * ``request_timeout_s`` after the call began (else
        ``LinkDownError(DEADLINE)``, however the bytes trickle).

        Raises:
            LinkDownError; RejectedError (DEVICE_REVOKED, UNKNOWN_DEVICE, a refused proof, …).
        """
        if after < 0 or keyring_version < 1 or not 1 <= wait_s <= MAX_WAIT_S:
            raise ValueError("feed: after >= 0, keyring_version >= 1, wait_s in 1..60")
        if operators_version < 0:
            raise ValueError("feed: operators_version >= 0")
        target = (f"{self._link.prefix}/v1/feed?after={after}&kr={keyring_version}"
                  f"&ov={operators_version}&wait={wait_s}")  # fmt: skip
        body = self._call(
            "GET", target, read_timeout_s=wait_s + self._link.request_timeout_s,
            cap=MAX_FEED_RESPONSE_BYTES, endpoint="feed",
        )  # fmt: skip
        try:
            parse_feed(body)
        except WireError as error:  # protocol 6.2: not a v1 feed answer is a transport failure
            raise self._logged(
                LinkDownError(LinkKind.BAD_ANSWER, f"feed answer: {error.reason.value}"), "feed"
            ) from None
        return body

    def download_blob(
        self, job_id: str, doc_id: str, *, part: Path, size: int, etag: str, deadline_s: float
    ) -> int:
        """Fetch a sealed document into ``part``, resuming what it already holds.

        ``size`` is the manifest's signed ``docs[].size`` and ``etag`` its ``sha256``
        (base64url, no quotes). ``part`` may already hold N bytes: N > 0 sends
        ``Range: bytes=N-`` with ``If-Range``; a 206 appends, a 200 restarts from byte 0.
        Never more than ``size`` bytes are written, whatever the server sends; the
        deadline (``deadline_s`` for this call) is checked after every chunk. The file is
        flushed and fsynced before returning, also on failure, and then keeps what arrived
        so the next call resumes. On success it holds exactly ``size`` bytes (its hash is
        the caller's to check, with ``kiosk.verify.verify_document``).

        Returns the number of body bytes received in this call (0 when the file was
        complete already).

        Raises:
            LinkDownError (DEADLINE, SIZE_MISMATCH, TRUNCATED, …); GoneError (not_found,
            job_cancelled, job_expired, job_purged); RejectedError. OSError: the part file.
        """
        check_id(job_id, "job")
        check_id(doc_id, "doc")
        if not 0 < size <= MAX_DOCUMENT_SEALED_BYTES:
            raise ValueError(f"size must be 1..{MAX_DOCUMENT_SEALED_BYTES}")
        if not _ETAG.fullmatch(etag):
            raise ValueError("etag: the base64url SHA-256 of the blob, without quotes")
        deadline = time.monotonic() + deadline_s
        target = f"{self._link.prefix}/v1/blobs/{job_id}/{doc_id}"
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        with os.fdopen(os.open(part, flags, 0o600), "r+b") as file:
            try:
                received, held_before = self._download(
                    file, target, size=size, etag=etag, deadline=deadline
                )
            except CedokaError as error:
                raise self._logged(error, "blob", job=job_id, doc=doc_id) from None
            finally:
                file.flush()
                os.fsync(file.fileno())
        log.info(
            "event=blob_downloaded device=%s job=%s doc=%s size=%d received=%d resumed_from=%d",
            self.device_id, job_id, doc_id, size, received, held_before,
        )  # fmt: skip
        return received

    def post_events(self, tokens: list[bytes]) -> list[tuple[str | None, str, str | None]]:
        """``POST /v1/events``: one ``(id, status, reason)`` per token, in order; status is
        "stored", "duplicate" or "rejected" (then ``reason`` is a Reason code).

        Raises:
            LinkDownError; RejectedError (MALFORMED, TOO_LARGE, DEVICE_REVOKED, …).
        """
        if not 1 <= len(tokens) <= MAX_EVENTS_PER_BATCH:
            raise ValueError(f"post_events: 1..{MAX_EVENTS_PER_BATCH} events per batch")
        answer = self._call(
            "POST", f"{self._link.prefix}/v1/events", event_batch_body(tokens),
            read_timeout_s=self._link.request_timeout_s, cap=MAX_EVENTS_ANSWER_BYTES,
            endpoint="events",
        )  # fmt: skip
        try:
            return _parse_event_results(answer, count=len(tokens))
        except WireError as error:
            raise self._logged(
                LinkDownError(LinkKind.BAD_ANSWER, f"events answer: {error.reason.value}"), "events"
            ) from None

    def post_heartbeat(self, body: bytes) -> int | None:
        """``POST /v1/heartbeat`` with a body from ``kiosk.report.heartbeat_body``; returns
        the answer's ``server_time`` (None if the answer has none).

        Raises:
            LinkDownError; RejectedError (MALFORMED, TOO_LARGE, DEVICE_REVOKED, …).
        """
        answer = self._call(
            "POST", f"{self._link.prefix}/v1/heartbeat", body,
            read_timeout_s=self._link.request_timeout_s, cap=MAX_HEARTBEAT_ANSWER_BYTES,
            endpoint="heartbeat",
        )  # fmt: skip
        try:
            f = Fields(loads_object(answer, max_bytes=MAX_HEARTBEAT_ANSWER_BYTES), "heartbeat")
            f.version()
            return f.integer("server_time") if f.has("server_time") else None
        except WireError as error:
            raise self._logged(
                LinkDownError(LinkKind.BAD_ANSWER, f"heartbeat answer: {error.reason.value}"),
                "heartbeat",
            ) from None

    def post_seal_key(self, key: X25519PrivateKey) -> str:
        """``POST /v1/device/seal-key`` (protocol 14.2): make ``key``'s public half the
        device's sealing key; returns the answer's ``seal_kid``. Idempotent: the same key
        again gets the same answer.

        Raises:
            LinkDownError; RejectedError (MALFORMED, DEVICE_REVOKED, …).
        """
        body = canonical_dumps({"v": 1, "seal_jwk": public_jwk(key.public_key())})
        answer = self._call(
            "POST", f"{self._link.prefix}/v1/device/seal-key", body,
            read_timeout_s=self._link.request_timeout_s, cap=MAX_SEAL_KEY_ANSWER_BYTES,
            endpoint="seal_key",
        )  # fmt: skip
        try:
            f = Fields(loads_object(answer, max_bytes=MAX_SEAL_KEY_ANSWER_BYTES), "seal_key")
            f.version()
            return f.text("seal_kid", pattern=_KID, max_len=43)
        except WireError as error:
            raise self._logged(
                LinkDownError(LinkKind.BAD_ANSWER, f"seal-key answer: {error.reason.value}"),
                "seal_key",
            ) from None

    def close(self) -> None:
        """Close the connections."""
        self._link.close()

    def __enter__(self) -> DistrictClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------

    def _proof(self, method: str, target: str, body: bytes) -> str:
        facts = RequestFacts(origin=self._link.origin, method=method, target=target, body=body)
        token = make_proof(
            facts, device_id=self.device_id, key=self._auth_key,
            now_s=int(self._wall_clock()) + self.clock_offset_s,
            jti=b64u_encode(self._random_bytes(16)),
        )  # fmt: skip
        return f"{AUTH_SCHEME} {token.decode('ascii')}"

    def _exchange(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        read_timeout_s: float,
        deadline: float,
        ok: Collection[int],
        endpoint: str,
    ) -> requests.Response:
        """Send with a fresh proof; an answer whose status is in ``ok`` is returned unread.
        A 401 expired / issued_in_future (after correcting the clock offset) or a 409
        replayed is retried once, at once, with a new proof; other answers raise."""
        retried = False
        while True:
            sent = dict(headers or {})
            sent["Authorization"] = self._proof(method, target, body)
            response = self._link.open(
                method, target, body=body, headers=sent, read_timeout_s=read_timeout_s,
                deadline=deadline,
            )  # fmt: skip
            self.last_date_s = _http_date_s(response.headers.get("Date"))
            if response.status_code in ok:
                return response
            try:
                error = self._link.failure(response, endpoint, deadline)
            finally:
                response.close()
            if retried or not self._retry_at_once(error, response.headers.get("Date")):
                raise error
            retried = True

    def _retry_at_once(self, error: CedokaError, date: str | None) -> bool:
        if isinstance(error, LinkDownError) and error.kind is LinkKind.REPLAYED:
            log.info("event=proof_replayed device=%s action=retry", self.device_id)
            return True
        if not (isinstance(error, RejectedError) and error.reason in _PROOF_CLOCK):
            return False
        server_s = _http_date_s(date)
        if server_s is None:
            return False
        before, self.clock_offset_s = self.clock_offset_s, round(server_s - self._wall_clock())
        log.info(
            "event=clock_offset_corrected device=%s reason=%s offset_s=%d was_s=%d",
            self.device_id, error.reason.value, self.clock_offset_s, before,
        )  # fmt: skip
        return True

    def _call(
        self,
        method: str,
        target: str,
        body: bytes = b"",
        *,
        read_timeout_s: float,
        cap: int,
        endpoint: str,
    ) -> bytes:
        """A request whose 200 answer is JSON: the body, capped and within its deadline."""
        deadline = time.monotonic() + read_timeout_s + self._link.request_timeout_s
        headers = {"Accept": _JSON}
        if body:
            headers["Content-Type"] = _JSON
        try:
            response = self._exchange(
                method, target, body=body, headers=headers, read_timeout_s=read_timeout_s,
                deadline=deadline, ok={200}, endpoint=endpoint,
            )  # fmt: skip
            try:
                if not _is_json(response.headers):
                    raise LinkDownError(
                        LinkKind.CAPTIVE_PORTAL, "200 answer is not JSON", status=200
                    )
                return self._link.read(response, cap=cap, deadline=deadline)
            finally:
                response.close()
        except CedokaError as error:
            raise self._logged(error, endpoint) from None

    def _download(
        self, file: IO[bytes], target: str, *, size: int, etag: str, deadline: float
    ) -> tuple[int, int]:
        """(bytes received, bytes held at the start) for one ``download_blob`` call."""
        held = file.seek(0, os.SEEK_END)
        if held > size:  # not a prefix of this blob: start again
            file.truncate(0)
            held = 0
        held_before, received, restarted = held, 0, False
        while held < size:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                raise LinkDownError(LinkKind.DEADLINE, f"download deadline passed at {held}/{size}")
            headers = {"Accept": "application/octet-stream"}
            if held:
                headers["Range"] = f"bytes={held}-"
                headers["If-Range"] = f'"{etag}"'
            response = self._exchange(
                "GET", target, headers=headers,
                read_timeout_s=min(self._link.request_timeout_s, remaining_s), deadline=deadline,
                ok={200, 206, 416}, endpoint="blob",
            )  # fmt: skip
            try:
                if response.status_code == 416:  # noqa: PLR2004
                    # Only sent for N < size, so the server disagrees with the part file:
                    # protocol 15.1 says restart from byte 0 (once per call).
                    _check_unsatisfied_range(response.headers, size)
                    if restarted or not held:
                        raise LinkDownError(LinkKind.HTTP_STATUS, "range refused", status=416)
                    log.info("event=blob_range_refused size=%d held=%d", size, held)
                    file.truncate(0)
                    held, restarted = 0, True
                    continue
                held = _blob_start(response, held=held, size=size)
                file.seek(held)
                file.truncate(held)
                received += self._stream_into(
                    file, response, held=held, size=size, deadline=deadline
                )
                held = size
            finally:
                response.close()
        return received, held_before

    @staticmethod
    def _stream_into(
        file: IO[bytes], response: requests.Response, *, held: int, size: int, deadline: float
    ) -> int:
        """Append the body to ``file`` up to ``size`` bytes; the bytes received."""
        received = 0
        while held < size:
            room = size - held
            chunk = _read1(response, min(CHUNK_BYTES, room + 1), decode=False)
            if not chunk:
                raise LinkDownError(LinkKind.TRUNCATED, f"body ended at {held} of {size} bytes")
            received += len(chunk)
            file.write(chunk[:room])
            held += min(len(chunk), room)
            if len(chunk) > room:
                raise LinkDownError(LinkKind.SIZE_MISMATCH, "body longer than the signed size")
            if time.monotonic() > deadline:
                raise LinkDownError(LinkKind.DEADLINE, f"download deadline passed at {held}/{size}")
        if _content_length(response.headers) is None and _read1(response, 1, decode=False):
            raise LinkDownError(LinkKind.SIZE_MISMATCH, "body longer than the signed size")
        return received

    def _logged(self, error: CedokaError, endpoint: str, **ids: str) -> CedokaError:
        where = " ".join(f"{name}={value}" for name, value in ids.items())
        level = logging.INFO if isinstance(error, TransportError) else logging.WARNING
        log.log(
            level, "event=request_failed endpoint=%s device=%s %s error=%s",
            endpoint, self.device_id, where or "-", _describe(error),
        )  # fmt: skip
        return error


# --- enrolment -----------------------------------------------------------------------------


def enroll(
    *,
    base_url: str,
    code_text: str,
    auth_key: Ed25519PrivateKey,
    seal_key: X25519PrivateKey,
    agent: str,
    request_timeout_s: float,
    verify: str | bool = True,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    attempts: int = ENROLL_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    uniform: Callable[[float, float], float] = random.uniform,
) -> EnrollResponse:
    """``POST /v1/enroll`` with the typed code; the checked answer (protocol 4.2-4.4 step 5).

    The body (and its nonce, from ``random_bytes``) is built once and re-sent unchanged on
    a transient failure, up to ``attempts`` times with a short jittered backoff: the server
    answers an identical retry with its first answer. A wait over ``ENROLL_MAX_WAIT_S``
    (e.g. a 429's Retry-After) is not slept here but raised. Verifying the keyring
    (``kiosk.verify.verify_keyring``) and persisting are the caller's job.

    Raises:
        WireError: ENROLL_CODE_MALFORMED (nothing was sent).
        RejectedError: ENROLL_CODE_INVALID, ENROLL_MAC_INVALID (either side), REPLAYED,
            ROOT_MISMATCH, MALFORMED, TOO_LARGE, …
        LinkDownError: still failing after the retries.
    """
    code = parse_enroll_code(code_text)
    nonce = b64u_encode(random_bytes(16))
    request = EnrollRequest(
        code.code_id, auth_key.public_key(), seal_key.public_key(), agent, nonce
    )
    body = enroll_request_body(request, code)
    link = _Link(base_url, request_timeout_s=request_timeout_s, verify=verify, wall_clock=time.time)
    backoff = ENROLL_BACKOFF
    try:
        while True:
            try:
                return _enroll_once(link, body, code=code, nonce=nonce)
            except LinkDownError as error:
                backoff = backoff.failed()
                delay_s = backoff.delay_s(uniform, error.retry_after_s)
                if backoff.failures >= attempts or delay_s > ENROLL_MAX_WAIT_S:
                    log.info(
                        "event=enroll_failed code_id=%s error=%s", code.code_id, _describe(error)
                    )
                    raise
                log.info(
                    "event=enroll_retry code_id=%s error=%s wait_s=%.1f",
                    code.code_id, _describe(error), delay_s,
                )  # fmt: skip
                sleep(delay_s)
            except CedokaError as error:
                log.warning(
                    "event=enroll_refused code_id=%s error=%s", code.code_id, _describe(error)
                )
                raise
    finally:
        link.close()


def _enroll_once(link: _Link, body: bytes, *, code: EnrollCode, nonce: str) -> EnrollResponse:
    deadline = time.monotonic() + 2 * link.request_timeout_s
    response = link.open(
        "POST", link.prefix + "/v1/enroll", body=body,
        headers={"Accept": _JSON, "Content-Type": _JSON}, read_timeout_s=link.request_timeout_s,
        deadline=deadline,
    )  # fmt: skip
    try:
        if response.status_code != 200:  # noqa: PLR2004
            raise link.failure(response, "enroll", deadline)
        if not _is_json(response.headers):
            raise LinkDownError(LinkKind.CAPTIVE_PORTAL, "200 answer is not JSON", status=200)
        data = link.read(response, cap=MAX_ENROLL_BYTES, deadline=deadline)
    finally:
        response.close()
    try:
        return parse_enroll_response(data, code=code, nonce=nonce)
    except WireError as error:
        if error.reason in _UNREADABLE:
            raise LinkDownError(
                LinkKind.BAD_ANSWER, f"enrol answer: {error.reason.value}"
            ) from None
        raise


# --- helpers -------------------------------------------------------------------------------


def _mapped_error(status: int, code: str, endpoint: str) -> CedokaError | None:
    """The protocol's (status, code) pairs (section 15.1); None for anything else."""
    if status == 400 and code in ("malformed", "unsupported_version"):  # noqa: PLR2004
        return RejectedError(_REASONS[code], f"the district refused the {endpoint} request")
    if status == 401:  # noqa: PLR2004
        if code == "proof_invalid":
            return RejectedError(Reason.BAD_SIGNATURE, "the district refused the request proof")
        reason = _REASONS.get(code, Reason.BAD_SIGNATURE)
        return RejectedError(reason, "the district refused the request proof")
    if status == 403 and code == "device_revoked":  # noqa: PLR2004
        return RejectedError(Reason.DEVICE_REVOKED, "this device was revoked: re-enrol")
    if status == 403 and endpoint == "enroll" and code in (  # noqa: PLR2004
        "enroll_code_invalid", "enroll_mac_invalid",
    ):  # fmt: skip
        return RejectedError(_REASONS[code], "the district refused the enrolment code")
    if status == 404 and code == "not_found" and endpoint == "blob":  # noqa: PLR2004
        return GoneError(code)
    if status == 409 and code == "replayed":  # noqa: PLR2004
        return LinkDownError(LinkKind.REPLAYED, "the district saw this proof before", status=409)
    if status == 410 and code in _GONE and endpoint == "blob":  # noqa: PLR2004
        return GoneError(code)
    if status == 413 and code == "too_large":  # noqa: PLR2004
        return RejectedError(Reason.TOO_LARGE, f"the {endpoint} request is over its cap")
    return None


def _blob_start(response: requests.Response, *, held: int, size: int) -> int:
    """Where the body starts in the blob (0 for a 200, ``held`` for a 206), after checking
    the length headers against the signed size."""
    headers = response.headers
    if headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
        raise LinkDownError(LinkKind.BAD_ANSWER, "blob with a content encoding")
    declared = _content_length(headers)
    if response.status_code == 206:  # noqa: PLR2004
        match = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "").strip())
        if match is None or tuple(int(g) for g in match.groups()) != (held, size - 1, size):
            raise LinkDownError(
                LinkKind.SIZE_MISMATCH, "Content-Range disagrees with the signed size"
            )
        if declared is not None and declared != size - held:
            raise LinkDownError(LinkKind.SIZE_MISMATCH, "Content-Length disagrees with the range")
        return held
    if response.status_code != 200:  # noqa: PLR2004
        raise LinkDownError(LinkKind.HTTP_STATUS, f"status {response.status_code} for a blob")
    if declared is not None and declared != size:
        raise LinkDownError(LinkKind.SIZE_MISMATCH, "Content-Length disagrees with the signed size")
    return 0


def _check_unsatisfied_range(headers: Mapping[str, str], size: int) -> None:
    value = headers.get("Content-Range")
    if value is None:
        return
    match = _UNSATISFIED_RANGE.fullmatch(value.strip())
    if match is None or int(match.group(1)) != size:
        raise LinkDownError(LinkKind.SIZE_MISMATCH, "Content-Range disagrees with the signed size")


def _parse_event_results(data: bytes, *, count: int) -> list[tuple[str | None, str, str | None]]:
    f = Fields(loads_object(data, max_bytes=MAX_EVENTS_ANSWER_BYTES), "events")
    f.version()
    results: list[tuple[str | None, str, str | None]] = []
    for item in f.array("results", min_items=count, max_items=count):
        r = Fields(item, "events.results[]")
        status = r.choice("status", _EVENT_STATUSES)
        event_id = None if r.raw("id") is None else r.text("id", pattern=_EVENT_ID)
        reason = r.text("reason", pattern=_CODE, max_len=48) if status == "rejected" else None
        results.append((event_id, status, reason))
    return results


def _read1(response: requests.Response, amount: int, *, decode: bool) -> bytes:
    """At most ``amount`` body bytes from one socket read (b"" at the end), so a trickle
    returns to the caller's deadline check instead of filling a whole chunk."""
    try:
        return response.raw.read1(amount, decode_content=decode)
    except _FOREIGN as error:
        raise _link_down(error) from None


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    if not _DIGITS.fullmatch(value.strip()):
        raise LinkDownError(LinkKind.BAD_ANSWER, "invalid Content-Length")
    return int(value)


def _is_json(headers: Mapping[str, str]) -> bool:
    return headers.get("Content-Type", "").split(";", 1)[0].strip().lower() == _JSON


def _http_date_s(value: str | None) -> float | None:
    """An HTTP date (``Date``, ``Retry-After``) as Unix seconds, or None."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _retry_after_s(headers: Mapping[str, str], *, now_s: float) -> float | None:
    """``Retry-After`` in seconds (delta-seconds, or an HTTP date measured against the
    answer's ``Date`` when it has one), within 0 … 86 400; None if absent or unreadable."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(min(int(value[:10]), MAX_RETRY_AFTER_S))
    when = _http_date_s(value)
    if when is None:
        return None
    base = _http_date_s(headers.get("Date"))
    return min(max(when - (now_s if base is None else base), 0.0), float(MAX_RETRY_AFTER_S))


def _larger(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (causes, contexts, args, urllib3's ``reason``)."""
    seen: set[int] = set()
    todo = [error]
    while todo and len(seen) < 32:  # noqa: PLR2004 (a bound, not a count)
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped.extend(current.args)
        todo.extend(item for item in wrapped if isinstance(item, BaseException))


def _is_timeout(error: BaseException) -> bool:
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return False  # urllib3 derives "could not connect" from its connect-timeout class
    return isinstance(
        error,
        (
            requests.exceptions.Timeout,
            urllib3.exceptions.ConnectTimeoutError,
            urllib3.exceptions.ReadTimeoutError,
            TimeoutError,
        ),
    )


def _link_down(error: BaseException) -> LinkDownError:
    """Translate whatever requests / urllib3 / ssl / socket raised."""
    chain = list(_causes(error))

    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(item, kinds) for item in chain)

    if has(DeadlineExceededError):
        kind = LinkKind.DEADLINE
    elif has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        kind = LinkKind.DNS
    elif has(ssl.SSLError, urllib3.exceptions.SSLError, requests.exceptions.SSLError):
        kind = LinkKind.TLS
    elif has(ConnectionRefusedError):
        kind = LinkKind.REFUSED
    elif any(_is_timeout(item) for item in chain):
        kind = LinkKind.TIMEOUT
    elif has(http.client.IncompleteRead):
        kind = LinkKind.TRUNCATED
    elif has(
        ConnectionError,
        urllib3.exceptions.ProtocolError,
        requests.exceptions.ChunkedEncodingError,
        http.client.HTTPException,
    ):
        kind = LinkKind.RESET
    elif has(urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError):
        kind = LinkKind.BAD_ANSWER
    else:
        kind = LinkKind.NETWORK
    innermost = chain[-1] if len(chain) > 1 else error
    return LinkDownError(kind, f"{type(error).__name__} ({type(innermost).__name__})")


def _describe(error: CedokaError) -> str:
    """Kind or code only: safe for logs."""
    if isinstance(error, LinkDownError):
        status = f"/{error.status}" if error.status is not None else ""
        return f"link_down/{error.kind.value}{status}"
    if isinstance(error, RejectedError):
        return f"rejected/{error.reason.value}"
    if isinstance(error, GoneError):
        return f"gone/{error.code}"
    return type(error).__name__
