"""The district server's HTTP layer (FastAPI on uvicorn): protocol v1 routes.

Thin: each route authenticates the request proof and hands bytes to ``DistrictService`` in
one worker-thread hop (the store is blocking), and maps Cedoka errors to the error body of
docs/protocol.md section 15. The long-poll waits in the event loop (``FeedNotifier``), so
thousands of idle kiosks cost one coroutine each, not one thread; a poll that times out with
nothing new is answered on the event loop (a head signed then over the feed read when it
arrived, no second hop), one that is woken takes a second hop for the new feed. The poll's
timeout is jittered (3/4 to all of ``wait``) so polls that began together do not end
together. Logs carry ids only.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from district.admin import DistrictAdmin
from district.admin_http import MAX_PUSH_BYTES, SIGN_INS_PER_MINUTE, AdminParts, build_admin_app
from district.admin_http import PREFIX as ADMIN_PREFIX
from district.connections import ConnectionLimits, protocol_class
from district.console_http import PREFIX as CONSOLE_PREFIX
from district.console_http import console_app
from district.edge import RequestFraming, RequestLog
from district.identity import Identity
from district.keyring import Keys
from district.metrics import CONTENT_TYPE as METRICS_TYPE
from district.metrics import DistrictMetrics
from district.notifier import FeedNotifier
from district.openapi import ROUTE_DOCS, install_openapi
from district.ratelimit import Limiter
from district.reach import LOOPBACK, Network, PublicUrl, client_address
from district.regions import MAX_CSV_BYTES
from district.releases import ReleaseRepo
from district.releases_http import add_release_routes
from district.replay import STATE_FILE as REPLAY_STATE_FILE
from district.replay import ProofReplays, ReplayCache, open_replay_cache, save_replay_cache
from district.service import ENROLL_ATTEMPTS_PER_MINUTE, TOUCH_FLUSH_S, DistrictService, FeedState
from district.store import BlobReader, BlobRow, DeviceRow
from district.webhooks import Deliverer, Webhooks
from kiosk.b64 import b64u_encode
from kiosk.errors import (
    CedokaError,
    GoneError,
    RateLimitedError,
    Reason,
    RejectedError,
    WireError,
)
from kiosk.feed import ErrorBody, error_body
from kiosk.proof import AUTH_SCHEME, RequestFacts

log = logging.getLogger("cedoka.district.http")
JSON = "application/json; charset=utf-8"
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_WAIT_S = 55
MAX_WAIT_S = 60
WAIT_JITTER = 0.75  # a poll is held for wait * uniform(WAIT_JITTER, 1)
CLOSING_RETRY_S = (1, 5)  # Retry-After of a poll ended by a shutdown: uniform, whole seconds
BLOB_CHUNK_BYTES = 256 * 1024  # one thread-pool hop and one incremental blob read each
_RANGE = re.compile(r"bytes=(\d{1,12})-(\d{0,12})")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_MAX_INT_DIGITS = 16
T = TypeVar("T")
_PROOF_REASONS_SHOWN = {Reason.EXPIRED, Reason.ISSUED_IN_FUTURE, Reason.REPLAYED}


class HttpError(CedokaError):
    """An answer other than 2xx, with the protocol's error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after_s: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message
        self.retry_after_s = retry_after_s
        self.headers = headers or {}


def _error_response(error: HttpError) -> Response:
    headers = dict(error.headers)
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    body = error_body(ErrorBody(error.code, error.message, error.retry_after_s))
    return Response(body, status_code=error.status, media_type=JSON, headers=headers)


def _translate(error: CedokaError) -> HttpError:
    """Map a Cedoka error to its HTTP status and error code (protocol section 15.1)."""
    if isinstance(error, RateLimitedError):
        return HttpError(429, "rate_limited", "too many attempts", error.retry_after_s)
    if isinstance(error, GoneError):
        status = 404 if error.code == "not_found" else 410
        return HttpError(status, error.code, "not available")
    if isinstance(error, WireError):
        if error.reason is Reason.TOO_LARGE:
            return HttpError(413, "too_large", "request body too large")
        if error.reason is Reason.UNSUPPORTED_VERSION:
            return HttpError(400, "unsupported_version", "protocol version not supported")
        return HttpError(400, "malformed", "request does not parse")
    if isinstance(error, RejectedError):
        reason = error.reason
        if reason in {Reason.ENROLL_CODE_INVALID, Reason.ENROLL_MAC_INVALID}:
            return HttpError(403, reason.value, "enrolment refused")
        if reason is Reason.DEVICE_REVOKED:
            return HttpError(403, "device_revoked", "this device was revoked: re-enrol")
        if reason is Reason.UNKNOWN_DEVICE:
            return HttpError(401, "unknown_device", "unknown device: enrol first")
        if reason is Reason.REPLAYED:
            return HttpError(409, "replayed", "request proof used before")
        code = reason.value if reason in _PROOF_REASONS_SHOWN else "proof_invalid"
        return HttpError(401, code, "request proof refused")
    return HttpError(500, "internal", "internal error")


def build_app(  # noqa: PLR0915 (the route table)
    service: DistrictService, notifier: FeedNotifier, *, public_url: PublicUrl | None = None,
    trusted_proxies: Sequence[Network] = LOOPBACK, admin: AdminParts | None = None,
    releases: ReleaseRepo | None = None,
) -> FastAPI:  # fmt: skip
    """The FastAPI application for one district (the composition root passes the parts).

    ``public_url``: what the kiosks were given; proofs are checked against its origin and
    prefix, never against the request's ``Host`` (None: the listening socket's own scheme
    and address, for a server on loopback in tests; kept in ``app.state.public_url``, which
    a test with its own forwarder in front may set once the forwarder's port is known).
    ``trusted_proxies``: peers whose ``X-Forwarded-For`` names the client for the enrolment
    rate limit. ``admin``: the admin API's parts, mounted at ``/admin/v1`` (None: no admin
    API, as in the protocol's own tests). ``releases``: the TUF repository of agent releases,
    served at ``/tuf/`` (ADR 0031; None: not served).
    """
    silent_proxies: set[str] = set()  # warned about once each

    async def flush_touches() -> None:
        while True:
            await asyncio.sleep(TOUCH_FLUSH_S)
            try:
                await run_in_threadpool(service.flush_touches)
            except Exception as error:  # kept for the next flush; the loop must go on
                log.warning("event=last_seen_write_failed error=%s message=%s",
                            type(error).__name__, error)  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier.start()
        flusher = asyncio.get_running_loop().create_task(flush_touches())
        try:
            yield
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await notifier.stop()
            try:
                await run_in_threadpool(service.flush_touches)
            except Exception as error:
                log.warning("event=last_seen_write_failed error=%s message=%s",
                            type(error).__name__, error)  # fmt: skip

    app = FastAPI(
        title="Cedoka district server", version="1", lifespan=lifespan,
        docs_url=None, redoc_url=None,
    )  # fmt: skip

    app.state.public_url = public_url
    metrics = DistrictMetrics(service.store, held=lambda: notifier.waiting)
    app.state.metrics = metrics
    _install_error_handlers(app)
    # Added before RequestLog, so inside it: its refusals are logged like any answer.
    larger = (
        {
            ("POST", f"{ADMIN_PREFIX}/jobs"): MAX_PUSH_BYTES,
            ("POST", f"{ADMIN_PREFIX}/offices/import"): MAX_CSV_BYTES,
        }
        if admin
        else {}
    )
    app.add_middleware(RequestFraming, max_body_bytes=MAX_BODY_BYTES, larger=larger)
    app.add_middleware(RequestLog, logger=log)

    async def body_of(request: Request) -> bytes:
        # RequestFraming counts the bytes as they arrive: past MAX_BODY_BYTES the read
        # raises WireError (413 too_large) and the rest is never read.
        try:
            return await request.body()
        except ClientDisconnect:  # gone mid-body (or closed by the body timeout)
            raise HttpError(400, "malformed", "the request body ended early") from None

    async def authorized(request: Request, body: bytes, then: Callable[[DeviceRow], T]) -> T:
        """Check the request's proof and run ``then(device)``, both in one worker-thread hop."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != AUTH_SCHEME or not token:
            raise HttpError(401, "proof_invalid", f"Authorization: {AUTH_SCHEME} <proof> required")
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        public: PublicUrl | None = app.state.public_url
        if public is not None:  # configured: what the kiosk signed, whatever Host says
            origin, target = public.origin, public.prefix + target
        else:
            host, port = request.scope.get("server") or ("", 0)
            netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            origin = f"{request.scope.get('scheme', 'http')}://{netloc}"
        facts = RequestFacts(origin=origin, method=request.method, target=target, body=body)
        proof = token.encode("latin-1")
        state = request.state

        def work() -> T:
            try:
                device = service.authenticate(proof, facts)
            except RejectedError as error:  # the precise Reason, which the answer hides (15.1)
                log.warning("event=proof_refused reason=%s detail=%s origin=%s",
                            error.reason.value, str(error), origin)  # fmt: skip
                raise
            state.device_id = device.device_id  # for the request log line
            return then(device)

        return await run_in_threadpool(work)

    @app.post("/v1/enroll", **ROUTE_DOCS["enroll"])
    async def enroll(request: Request) -> Response:
        body = await body_of(request)
        peer = request.client.host if request.client else None  # the TCP peer itself
        forwarded = request.headers.getlist("x-forwarded-for")
        remote = client_address(peer, forwarded, trusted_proxies)
        if remote is None and peer is not None and not forwarded and peer not in silent_proxies:
            silent_proxies.add(peer)
            log.warning("event=proxy_without_forwarded_for peer=%s limit=per_code_only", peer)
        answer = await run_in_threadpool(service.enroll, body, remote=remote)
        return Response(answer, media_type=JSON)

    @app.get("/v1/feed", **ROUTE_DOCS["feed"])
    async def feed(request: Request) -> Response:
        try:
            after = _int_param(request, "after", None, high=2**53 - 1)
            kr = _int_param(request, "kr", None, high=2**53 - 1)
            ov = _int_param(request, "ov", -1, high=2**53 - 1)  # -1: absent (an older agent)
            wait_s = min(_int_param(request, "wait", DEFAULT_WAIT_S, high=3600), MAX_WAIT_S)
            malformed = None
        except HttpError as error:  # answered after the proof check, as it always was
            after = kr = wait_s = 0
            ov, malformed = -1, error
        holds = wait_s > 0

        def start(device: DeviceRow) -> FeedState:
            if malformed is not None:
                raise malformed
            return service.feed_state(device, after=after, keyring_version=kr,
                                      answer_now=not holds,
                                      operators_version=None if ov < 0 else ov)  # fmt: skip

        state = await authorized(request, b"", start)
        answer = state.answer
        if answer is None:  # nothing new: hold the poll (none when closing: 503 below)
            assert state.quiet is not None
            held_s = wait_s * random.uniform(WAIT_JITTER, 1)  # spread the waves
            woken = await notifier.wait(state.quiet.device_id, state.feed_version,
                                        timeout_s=held_s)  # fmt: skip
            if notifier.closing:  # shutting down: come back soon, not all at once
                raise HttpError(503, "unavailable", "the server is restarting",
                                retry_after_s=random.randint(*CLOSING_RETRY_S))  # fmt: skip
            if woken:
                answer = await run_in_threadpool(
                    service.feed,
                    state.quiet.device_id,
                    after=after,
                    keyring_version=kr,
                    operators_version=None if ov < 0 else ov,
                )
                metrics.wake.observe(time.monotonic() - notifier.changed_at)
            else:  # the feed as it was when the poll arrived, under a head signed now
                answer = service.quiet_answer(state.quiet)
        return Response(answer, media_type=JSON, headers={"Cache-Control": "no-store"})

    @app.get("/v1/blobs/{job_id}/{doc_id}", **ROUTE_DOCS["blob"])
    async def blob(request: Request, job_id: str, doc_id: str) -> Response:
        def allowed(device: DeviceRow) -> tuple[BlobRow, BlobReader | None]:
            row = service.blob(device.device_id, job_id, doc_id)
            return row, service.open_blob(job_id, doc_id)

        row, reader = await authorized(request, b"", allowed)
        try:
            status, start, end, headers = _byte_range(
                request.headers.get("range"), request.headers.get("if-range"), row
            )
        except HttpError:
            if reader is not None:
                reader.close()
            raise

        async def chunks() -> AsyncIterator[bytes]:
            if reader is None:  # purged between the check and the read: the body ends short
                return
            offset = start
            try:
                while offset <= end:
                    length = min(BLOB_CHUNK_BYTES, end - offset + 1)
                    data = await run_in_threadpool(reader.read, offset, length)
                    if not data:
                        return
                    yield data
                    offset += len(data)
            finally:
                reader.close()

        return StreamingResponse(
            chunks(), status_code=status, headers=headers, media_type="application/octet-stream"
        )

    @app.post("/v1/events", **ROUTE_DOCS["events"])
    async def events(request: Request) -> Response:
        body = await body_of(request)
        answer = await authorized(request, body, lambda device: service.events(device, body))
        return Response(answer, media_type=JSON)

    @app.post("/v1/heartbeat", **ROUTE_DOCS["heartbeat"])
    async def heartbeat(request: Request) -> Response:
        body = await body_of(request)
        answer = await authorized(request, body, lambda device: service.heartbeat(device, body))
        return Response(answer, media_type=JSON)

    @app.post("/v1/device/seal-key", **ROUTE_DOCS["seal_key"])
    async def seal_key(request: Request) -> Response:
        body = await body_of(request)
        answer = await authorized(
            request, body, lambda device: service.rotate_seal_key(device, body)
        )
        return Response(answer, media_type=JSON)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(await run_in_threadpool(metrics.render), media_type=METRICS_TYPE)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        try:
            await run_in_threadpool(service.check_ready)
        except Exception as error:  # not ready, whatever the cause: the body says which kind
            log.warning("event=not_ready error=%s", type(error).__name__)
            body = b'{"status":"not_ready","error":"%s"}' % type(error).__name__.encode()
            return Response(body, status_code=503, media_type=JSON)
        return Response(b'{"status":"ready"}', media_type=JSON)

    install_openapi(app)
    if admin is not None:  # district IT's API (ADR 0022), with its own OpenAPI and errors
        app.mount(ADMIN_PREFIX, build_admin_app(admin, public_url=public_url,
                                                trusted_proxies=trusted_proxies))  # fmt: skip
        app.mount(CONSOLE_PREFIX, console_app())  # the web console over it (ADR 0023)
    if releases is not None:  # agent releases, TUF (ADR 0031)
        add_release_routes(app, releases)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def on_http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HttpError)
        return _error_response(error)

    async def on_cedoka_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, CedokaError)
        translated = _translate(error)
        if translated.status >= HTTPStatus.INTERNAL_SERVER_ERROR:  # the log says which failure
            log.error("event=internal_error path=%s error=%s message=%s", request.url.path,
                      type(error).__name__, error)  # fmt: skip
        return _error_response(translated)

    async def on_starlette_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = "not_found" if error.status_code == HTTPStatus.NOT_FOUND else "malformed"
        return _error_response(HttpError(error.status_code, code, str(error.detail)))

    async def on_unexpected(request: Request, error: Exception) -> Response:
        log.error("event=internal_error path=%s error=%s", request.url.path, type(error).__name__)
        return _error_response(HttpError(500, "internal", "internal error"))

    app.add_exception_handler(Exception, on_unexpected)  # still the protocol's JSON body
    app.add_exception_handler(HttpError, on_http_error)
    app.add_exception_handler(CedokaError, on_cedoka_error)
    app.add_exception_handler(StarletteHTTPException, on_starlette_error)


def _byte_range(
    wanted: str | None, if_range: str | None, row: BlobRow
) -> tuple[int, int, int, dict[str, str]]:
    """Status, first and last byte, and headers for a blob request (RFC 9110 ranges:
    ``bytes=N-`` and ``bytes=N-M`` only; ``If-Range`` with the ETag)."""
    etag = f'"{b64u_encode(row.sha256)}"'
    start, end = 0, row.size - 1
    status, headers = 200, {"ETag": etag, "Accept-Ranges": "bytes"}
    if wanted is not None and (if_range is None or if_range == etag):
        match = _RANGE.fullmatch(wanted.strip())
        if match is None:
            raise HttpError(416, "range_not_satisfiable", "only bytes=N- or bytes=N-M")
        start = int(match.group(1))
        end = min(int(match.group(2)), row.size - 1) if match.group(2) else row.size - 1
        if start >= row.size or end < start:
            raise HttpError(
                416, "range_not_satisfiable", "range outside the blob",
                headers={"Content-Range": f"bytes */{row.size}"},
            )  # fmt: skip
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{row.size}"
    headers["Content-Length"] = str(end - start + 1)
    return status, start, end, headers


def _int_param(request: Request, name: str, default: int | None, *, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise HttpError(400, "malformed", f"query parameter {name} is required")
        return default
    # ASCII digits, no leading zeros (str.isdigit would take "²" and int() would then fail)
    if not _DECIMAL.fullmatch(raw) or len(raw) > _MAX_INT_DIGITS or int(raw) > high:
        raise HttpError(400, "malformed", f"query parameter {name}: a decimal integer")
    return int(raw)


def _raise_fd_limit() -> None:
    """Each held long-poll is a file descriptor: take the soft limit up to the hard one
    (often 1,024 of 65,536 or more), else the server breaks at about 1,000 kiosks."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            wanted = soft
        soft = wanted
    log.info("event=fd_limit soft=%d", soft)


@dataclass
class _ProcessParts:
    """What one server process holds that several processes must share (ADR 0027): on
    PostgreSQL the shared replay cache and rate limits; on SQLite (one process) the replay
    cache in memory, handed to the next start through a state file, and in-process limits.
    """

    replays: ProofReplays
    enroll_limits: Limiter | None
    sign_ins: Limiter | None
    state_file: Path | None = None  # the replay cache's hand-over (SQLite)

    @classmethod
    def open(cls, keys: Keys, home: Path, db_url: str | None) -> _ProcessParts:
        if db_url is not None:
            from district.pg_store import PostgresStore

            store = keys.store
            assert isinstance(store, PostgresStore)
            return cls(
                replays=store.shared_replay_cache(),
                enroll_limits=store.shared_rate_limiter(
                    "enroll", per_minute=ENROLL_ATTEMPTS_PER_MINUTE
                ),
                sign_ins=store.shared_rate_limiter("sign_in", per_minute=SIGN_INS_PER_MINUTE),
            )
        state_file = home / REPLAY_STATE_FILE
        replays = open_replay_cache(state_file, now_s=int(time.time()))
        return cls(replays=replays, enroll_limits=None, sign_ins=None, state_file=state_file)

    def save(self) -> None:
        """At a stop: hand the in-memory cache to the next start (nothing on PostgreSQL)."""
        if self.state_file is not None:
            assert isinstance(self.replays, ReplayCache)
            save_replay_cache(self.state_file, self.replays)


def run_server(
    home: Path, *, host: str, port: int, tls_cert: Path | None, tls_key: Path | None,
    public_url: PublicUrl, trusted_proxies: Sequence[Network] = LOOPBACK,
    connection_limits: ConnectionLimits | None = None, db_url: str | None = None,
    sock: socket.socket | None = None, worker: int | None = None,
) -> None:  # fmt: skip
    """Serve the district in ``home`` until interrupted (the ``serve`` command): the
    composition root of the server. Refuses to start if the crypto self-test fails. The
    proof replay cache is handed from a clean stop to the next start (``district.replay``).
    With ``db_url`` the store is that PostgreSQL database (the keys stay in ``home``), and
    the replay cache and rate limits are shared with every other server process on it
    (ADR 0027). ``sock``: an already listening socket to serve on instead of binding
    ``host``:``port`` (``serve --workers``: ``worker`` is this process's index).
    """
    import uvicorn

    from district.logs import configure_logging
    from kiosk.selftest import require_selftest

    require_selftest()
    configure_logging()
    _raise_fd_limit()
    keys = Keys.open(home, db_url)
    shared = _ProcessParts.open(keys, home, db_url)
    service = DistrictService(keys, replays=shared.replays, enroll_limits=shared.enroll_limits)
    notifier = FeedNotifier(keys.store, listen_url=db_url)
    identity = Identity(keys.store.identity, district_code=keys.district_code,
                        district_name=keys.district_name)  # fmt: skip
    admin = AdminParts(
        identity=identity,
        admin=DistrictAdmin(keys),
        store=keys.store,
        webhooks=Webhooks(keys.store.webhooks, identity),
        sign_ins=shared.sign_ins,
        releases=ReleaseRepo.of_home(home),
    )
    deliverer = Deliverer(keys.store.webhooks)
    app = build_app(service, notifier, public_url=public_url, trusted_proxies=trusted_proxies,
                    admin=admin, releases=ReleaseRepo.of_home(home))  # fmt: skip
    log.info("event=serve public_url=%s trusted_proxies=%s worker=%s", public_url,
             ",".join(str(n) for n in trusted_proxies) or "-",
             "-" if worker is None else worker)  # fmt: skip
    config = uvicorn.Config(
        app, host=host, port=port, access_log=False, log_level="info", log_config=None,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        timeout_keep_alive=75, backlog=4096, timeout_graceful_shutdown=3,
        # h11 with head/body timeouts and a cap per address (district/connections.py), on
        # uvloop when installed (the district extra has it; ADR 0029), else asyncio
        http=protocol_class(connection_limits or ConnectionLimits()), loop="auto",
        proxy_headers=False,  # X-Forwarded-*: trusted only from --trusted-proxy (reach.py)
    )  # fmt: skip

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # SIGINT/SIGTERM: end the long-polls first (503 with a short Retry-After,
            # protocol section 6.1), or shutdown waits for them
            asyncio.get_running_loop().call_soon_threadsafe(notifier.release_all)
            super().handle_exit(sig, frame)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            # every request answered: hand the cache to the next start (it takes no more)
            shared.save()
            # and the WAL goes into the database: no -wal/-shm stays behind (this runs
            # before uvicorn re-raises SIGTERM, which ends the process without ``finally``)
            keys.store.close()

    deliverer.start()
    try:
        Server(config).run(sockets=None if sock is None else [sock])
    finally:  # also when start-up failed (uvicorn re-raises SIGTERM after shutdown())
        deliverer.stop()
        shared.save()
        keys.store.close()
