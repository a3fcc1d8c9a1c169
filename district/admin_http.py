"""The admin API, ``/admin/v1/…`` (issue 17, ADR 0022): district IT's operations over HTTP.

A FastAPI application of its own, mounted into the district server (``build_app``), with
its own OpenAPI document (``/admin/v1/openapi.json``) and its own error body,
``{"error": {"code": …, "message": …}}``. Every route names the scope it needs; the
caller is an API token (``Authorization: Bearer cdk_…``) or a console session (cookie
``__Host-cedoka_session``, with ``X-CSRF-Token`` and a same-origin ``Origin`` on every
change). The operations and their refusals are the command line's (:mod:`district.admin`),
and every change is written to the district's admin audit log with the caller and address.

Nothing here returns a document, a resident's name or a NIK: jobs are ids, states and
times; the claim code of a pushed job is returned once, to the pusher.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from district.admin import MAX_PDF_BYTES, DistrictAdmin, PastPrintingError
from district.identity import Identity, Principal
from district.multipart import read_form
from district.operators import DistrictOperators, PinGiven, operator_json
from district.ratelimit import Limiter, RateLimiter
from district.reach import LOOPBACK, Network, PublicUrl, client_address
from district.releases import ReleaseRepo
from district.store import DeviceRow, DistrictStore, JobRow, OutboxRow, WebhookRow
from district.views import (
    audit_device,
    audit_report,
    device_json,
    job_json,
    promote_command,
    releases_json,
)
from district.webhooks import Webhooks
from kiosk.access import Scope
from kiosk.admin_audit import AdminRecord
from kiosk.errors import (
    AccessError,
    CedokaError,
    OperatorError,
    RateLimitedError,
    RejectedError,
    WireError,
)
from kiosk.limits import MAX_DOCUMENTS_PER_JOB
from kiosk.model import ReleaseMode
from kiosk.report import parse_heartbeat
from kiosk.rollout import BUCKETS, MAX_OFFICES, parse_version

log = logging.getLogger("cedoka.district.admin_http")
PREFIX = "/admin/v1"
COOKIE_SECURE = "__Host-cedoka_session"
COOKIE_PLAIN = "cedoka_session"  # on a loopback origin without TLS (the demo, the tests)
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_INS_PER_MINUTE = 10  # per client address
MAX_PUSH_BYTES = MAX_DOCUMENTS_PER_JOB * MAX_PDF_BYTES + 64 * 1024
MAX_LIST = 1000
MAX_JOBS_LISTED = 100_000  # the remote command line lists every job, as the local one does
_MAX_DIGITS = 9
# Text fields of a JSON body hold no NUL: PostgreSQL text cannot, and no name or code needs one.
NO_NUL = r"^[^\x00]*$"


class SignIn(BaseModel):
    user_id: str = Field(max_length=64, pattern=NO_NUL)
    password: str = Field(max_length=256, pattern=NO_NUL)
    totp: str | None = Field(default=None, max_length=16, pattern=NO_NUL)


class CancelBody(BaseModel):
    reason: str = Field(
        max_length=32,
        pattern=NO_NUL,
        description="one of the CANCEL_REASONS codes (cedoka-district cancel --help lists them)",
    )


class OfficeBody(BaseModel):
    code: str = Field(max_length=32, pattern=NO_NUL)
    name: str = Field(max_length=200, pattern=NO_NUL)


class StaffBody(BaseModel):
    id: str = Field(max_length=32, pattern=NO_NUL)
    name: str = Field(max_length=200, pattern=NO_NUL)
    role: str = Field(default="staff", max_length=16, pattern=NO_NUL)


class EnrollCodeBody(BaseModel):
    valid_s: int = Field(default=72 * 3600, ge=60, le=30 * 86400)


class UserBody(BaseModel):
    user_id: str = Field(max_length=64, pattern=NO_NUL)
    name: str = Field(max_length=200, pattern=NO_NUL)
    role: str = Field(max_length=16, pattern=NO_NUL)
    password: str = Field(max_length=256, pattern=NO_NUL)


class WebhookBody(BaseModel):
    url: str = Field(max_length=500, pattern=NO_NUL)
    user_id: str = Field(max_length=64, pattern=NO_NUL)
    events: list[str] = Field(default_factory=list, max_length=16)
    all_jobs: bool = False


class PromoteBody(BaseModel):
    percent: int | None = Field(default=None, ge=0, le=BUCKETS)
    offices: list[Annotated[str, Field(max_length=32, pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=MAX_OFFICES
    )


class PasswordBody(BaseModel):
    password: str = Field(max_length=256, pattern=NO_NUL)


class TokenBody(BaseModel):
    label: str = Field(max_length=200, pattern=NO_NUL)
    scopes: list[str] = Field(default_factory=list, max_length=32)
    lifetime_s: int
    user_id: str | None = Field(default=None, max_length=64, pattern=NO_NUL)


@dataclass(frozen=True, slots=True)
class AdminParts:
    """What the admin API works on (the composition root builds them)."""

    identity: Identity
    admin: DistrictAdmin
    store: DistrictStore
    webhooks: Webhooks
    sign_ins: Limiter | None = None  # None: a limit in this process (shared: ADR 0027)
    releases: ReleaseRepo | None = None  # the agent releases (ADR 0031); None: not shown


class AdminHttpError(CedokaError):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _translate(error: CedokaError) -> Response:
    if isinstance(error, AdminHttpError):
        return _error(error.status, error.code, error.message, error.headers)
    if isinstance(error, AccessError):
        if error.code == "forbidden":
            return _error(403, "forbidden", str(error))
        if error.code == "locked":
            after = error.retry_after_s or 60
            return _error(
                429,
                "locked",
                "too many wrong answers: try again later",
                {"Retry-After": str(after)},
            )
        return _error(401, error.code, str(error).partition(": ")[2] or error.code)
    if isinstance(error, RateLimitedError):
        return _error(
            429, "rate_limited", "too many attempts", {"Retry-After": str(error.retry_after_s)}
        )
    if isinstance(error, WireError):
        return _error(413, "too_large", "request body too large")
    if isinstance(error, PastPrintingError):
        return _error(409, "past_printing", str(error))
    if isinstance(error, OperatorError):
        return _error(400, "refused", str(error))
    return _error(500, "internal", "internal error")


def build_admin_app(  # noqa: PLR0915 (the route table)
    parts: AdminParts,
    *,
    public_url: PublicUrl | None,
    trusted_proxies: Sequence[Network] = LOOPBACK,
) -> FastAPI:
    """The admin API for one district, to mount at :data:`PREFIX`."""
    app = FastAPI(title="Cedoka district admin API", version="1", docs_url=None, redoc_url=None)
    identity, admin, store = parts.identity, parts.admin, parts.store
    sign_ins = parts.sign_ins or RateLimiter(per_minute=SIGN_INS_PER_MINUTE)
    secure = public_url is not None and public_url.origin.startswith("https://")
    cookie = COOKIE_SECURE if secure else COOKIE_PLAIN

    async def on_cedoka(request: Request, error: Exception) -> Response:
        assert isinstance(error, CedokaError)
        return _translate(error)

    async def on_validation(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in error.errors()[:3])
        return _error(400, "malformed", f"the request does not parse ({where})")

    async def on_starlette(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        return _error(
            error.status_code,
            "not_found" if error.status_code == HTTPStatus.NOT_FOUND else "malformed",
            str(error.detail),
        )

    async def on_unexpected(request: Request, error: Exception) -> Response:
        log.error("event=internal_error path=%s error=%s", request.url.path, type(error).__name__)
        return _error(500, "internal", "internal error")

    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(CedokaError, on_cedoka)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_starlette)

    def remote_of(request: Request) -> str | None:
        """The client (behind a trusted proxy: from X-Forwarded-For), else the TCP peer."""
        peer = request.client.host if request.client else None
        forwarded = request.headers.getlist("x-forwarded-for")
        return client_address(peer, forwarded, trusted_proxies) or peer

    def origin_allowed(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:  # a browser sends Origin with every cross-site change
            return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")
        expected = public_url.origin if public_url is not None else None
        if expected is None:
            host = request.headers.get("host", "")
            expected = f"{request.url.scheme}://{host}"
        return origin == expected

    async def principal(request: Request, scope: Scope | None = None) -> Principal:
        """The caller, checked for ``scope``; AccessError otherwise."""
        header = request.headers.get("authorization")
        remote = remote_of(request)
        if header is not None:
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token:
                raise AccessError("unauthenticated", "Authorization: Bearer <token> required")
            who = await run_in_threadpool(identity.authenticate, token.strip(), remote=remote)
        else:
            session = request.cookies.get(cookie)
            if not session:
                raise AccessError("unauthenticated", "sign in, or send a Bearer token")
            who, csrf = await run_in_threadpool(identity.session_principal, session)
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), csrf.encode()):
                    raise AdminHttpError(
                        403,
                        "csrf",
                        "the X-CSRF-Token header is missing or wrong: reload the console",
                    )
                if not origin_allowed(request):
                    raise AdminHttpError(403, "csrf", "a change from another site is refused")
        if scope is not None:
            who.require(scope)
        request.state.actor = who.actor
        return who

    async def audited(
        request: Request, who: Principal, action: str, *, targets: tuple[tuple[str, str], ...] = ()
    ) -> None:
        await run_in_threadpool(
            identity.record, who.actor, action, "ok", targets=targets, remote=remote_of(request)
        )

    # --- sessions -------------------------------------------------------------------------
    @app.post("/session", summary="Sign in (the console)")
    async def sign_in(request: Request, body: SignIn) -> Response:
        remote = remote_of(request)
        # in a worker thread: a shared limit is a database transaction
        await run_in_threadpool(sign_ins.hit, remote or "-", now_s=identity.now_s())
        who = await run_in_threadpool(
            identity.sign_in, body.user_id, body.password, body.totp, remote=remote
        )
        new = await run_in_threadpool(identity.open_session, who, remote=remote)
        response = JSONResponse(
            {**_me(who), "csrf": new.csrf}, headers={"Cache-Control": "no-store"}
        )
        response.set_cookie(
            cookie, new.session_id, httponly=True, secure=secure, samesite="strict", path="/"
        )
        return response

    @app.delete("/session", status_code=204, summary="Sign out")
    async def sign_out(request: Request) -> Response:
        session = request.cookies.get(cookie)
        if session:
            await principal(request)  # a sign-out is a change: CSRF-checked like any other
            await run_in_threadpool(identity.close_session, session, remote=remote_of(request))
        response = Response(status_code=204)
        response.delete_cookie(cookie, path="/", secure=secure, httponly=True, samesite="strict")
        return response

    @app.get("/me", summary="Who is calling, with which scopes")
    async def me(request: Request) -> dict[str, Any]:
        return _me(await principal(request))

    # --- jobs -------------------------------------------------------------------------------
    @app.get("/jobs", summary="Jobs, newest first (never filtered by a name or a NIK)")
    async def jobs(
        request: Request,
        *,
        office: str | None = None,
        state: str | None = None,
        job_id: str | None = None,
        since_s: int | None = None,
        until_s: int | None = None,
        limit: int = 200,
        oldest_first: bool = False,
    ) -> dict[str, Any]:
        await principal(request, Scope.JOBS_READ)
        if office is not None and await run_in_threadpool(store.office, office) is None:
            raise OperatorError(f"unknown office {office}")
        rows = await run_in_threadpool(store.jobs, office_code=office)
        ordered = rows if oldest_first else list(reversed(rows))
        picked = [j for j in ordered if _job_matches(j, state, job_id, since_s, until_s)]
        return {
            "jobs": [job_json(j) for j in picked[: max(1, min(limit, MAX_JOBS_LISTED))]],
            "total": len(picked),
        }

    @app.get("/jobs/{job_id}", summary="A job and its timeline")
    async def job(request: Request, job_id: str) -> dict[str, Any]:
        await principal(request, Scope.JOBS_READ)
        row = await run_in_threadpool(store.job, job_id)
        if row is None:
            raise AdminHttpError(404, "not_found", f"no job {job_id}")
        events = await run_in_threadpool(store.job_events, job_id)
        timeline: list[dict[str, Any]] = [{"at_s": row.created_s, "event": "pushed"}]
        timeline += [
            {
                "at_s": e.at_s,
                "event": e.event,
                "state": e.state,
                "reason": e.reason,
                "received_s": e.received_s,
            }
            for e in events
        ]
        if row.cancelled_s is not None:
            timeline.append({"at_s": row.cancelled_s, "event": "cancelled_by_district"})
        timeline.sort(key=lambda item: int(item["at_s"]))
        return {**job_json(row), "timeline": timeline}

    @app.post(
        "/jobs",
        status_code=201,
        summary="Push a job: multipart form (office, resident, "
        "release, copies, expires_s, and one 'type' field per 'document' file, in order)",
    )
    async def push(request: Request) -> dict[str, Any]:
        who = await principal(request, Scope.JOBS_PUSH)

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in request.stream():
                yield chunk

        form = await read_form(
            request.headers.get("content-type", ""), chunks(), max_file_bytes=MAX_PDF_BYTES
        )
        types = form.fields.get("type", [])
        files = [f for f in form.files if f.name == "document"]
        if len(types) != len(files):
            raise OperatorError("give one 'type' field for each 'document' file, in order")
        release = form.one("release", "claim") or "claim"
        if release not in {m.value for m in ReleaseMode}:
            raise OperatorError("release: claim, staff or auto")
        result = await run_in_threadpool(
            lambda: admin.push(
                office_code=form.one("office") or "",
                resident=form.one("resident") or "",
                documents=[
                    (t.strip().upper(), bytes(f.data)) for t, f in zip(types, files, strict=True)
                ],
                release=ReleaseMode(release),
                copies=_int(form.one("copies", "1"), "copies"),
                lifetime_s=_int(form.one("expires_s", str(72 * 3600)), "expires_s"),
            )
        )
        if who.user_id is not None:  # its webhooks get the job's messages
            await run_in_threadpool(parts.webhooks.pushed_by, result.job_id, who.user_id)
        await audited(
            request, who, "job.push", targets=(("job", result.job_id), ("device", result.device_id))
        )
        return {
            "job_id": result.job_id,
            "device_id": result.device_id,
            "claim_code": result.claim_code,
            "warnings": list(result.warnings),
        }

    @app.post("/jobs/{job_id}/cancel", summary="Cancel a job that is not printed yet")
    async def cancel(request: Request, job_id: str, body: CancelBody) -> dict[str, Any]:
        who = await principal(request, Scope.JOBS_CANCEL)
        result = await run_in_threadpool(lambda: admin.cancel(job_id, reason=body.reason))
        await audited(request, who, "job.cancel", targets=(("job", job_id),))
        return {
            "job_id": job_id,
            "state": "cancelled",
            "reason": body.reason,
            "warnings": list(result.warnings),
        }

    # --- offices and enrolment ------------------------------------------------------------
    @app.get("/offices", summary="Village offices")
    async def offices(request: Request) -> dict[str, Any]:
        await principal(request, Scope.OFFICES_READ)
        rows = await run_in_threadpool(store.offices)
        return {
            "offices": [{"code": o.code, "name": o.name, "created_s": o.created_s} for o in rows]
        }

    @app.post("/offices", status_code=201, summary="Add a village office")
    async def add_office(request: Request, body: OfficeBody) -> dict[str, str]:
        who = await principal(request, Scope.OFFICES_WRITE)
        await run_in_threadpool(admin.add_office, body.code, body.name)
        await audited(request, who, "office.add", targets=(("office", body.code),))
        return {"code": body.code, "name": body.name}

    @app.post(
        "/offices/import",
        summary="Add the regency's villages from a region-code CSV "
        "(kode,nama,level,jenis), sent as the body (text/csv)",
    )
    async def import_offices(request: Request) -> dict[str, Any]:
        who = await principal(request, Scope.OFFICES_WRITE)
        data = await request.body()
        result = await run_in_threadpool(admin.import_offices, data)
        await audited(request, who, "office.import")
        return {
            "added": list(result.added),
            "existing": list(result.existing),
            "skipped": [{"line": line, "why": why} for line, why in result.skipped],
            "other_regencies": result.other_regencies,
        }

    @app.post(
        "/offices/{code}/enroll-codes",
        status_code=201,
        summary="A one-time enrolment code for the office's PC",
    )
    async def enroll_code(request: Request, code: str, body: EnrollCodeBody) -> dict[str, Any]:
        who = await principal(request, Scope.OFFICES_WRITE)
        text = await run_in_threadpool(lambda: admin.new_enroll_code(code, valid_s=body.valid_s))
        await audited(request, who, "office.enroll_code", targets=(("office", code),))
        return {
            "office": code,
            "enroll_code": text,
            "valid_s": body.valid_s,
            "qr_svg": _qr_svg(text),
        }

    # --- an office's village staff (ADR 0034) -----------------------------------------------
    staff = DistrictOperators(admin.keys)

    @app.get("/offices/{code}/operators", summary="An office's village staff: the district's "
             "and those a kiosk's supervisor added (local)")  # fmt: skip
    async def operators(request: Request, code: str) -> dict[str, Any]:
        await principal(request, Scope.OPERATORS_READ)
        version, records = await run_in_threadpool(staff.list, code)
        kiosks = await run_in_threadpool(staff.kiosks, code)
        return {"office": code, "version": version,
                "operators": [operator_json(r) for r in records], "kiosks": kiosks}  # fmt: skip

    @app.post("/offices/{code}/operators", status_code=201,
              summary="Add (or enable again) an operator: a one-time PIN, shown once")  # fmt: skip
    async def add_operator(request: Request, code: str, body: StaffBody) -> dict[str, Any]:
        who = await principal(request, Scope.OPERATORS_WRITE)
        given = await run_in_threadpool(
            lambda: staff.add(code, body.id, name=body.name, role=body.role)
        )
        await audited(request, who, "operator.add",
                      targets=(("office", code), ("operator", f"{code}:{body.id}")))  # fmt: skip
        return _pin_given(body.id, given)

    @app.post("/offices/{code}/operators/{operator_id}/reset",
              summary="A new one-time PIN for an operator, shown once")  # fmt: skip
    async def reset_operator(request: Request, code: str, operator_id: str) -> dict[str, Any]:
        who = await principal(request, Scope.OPERATORS_WRITE)
        given = await run_in_threadpool(staff.reset, code, operator_id)
        target = ("operator", f"{code}:{operator_id}")
        await audited(request, who, "operator.reset", targets=(("office", code), target))
        return _pin_given(operator_id, given)

    @app.post("/offices/{code}/operators/{operator_id}/disable",
              summary="Stop an operator signing in on every kiosk of the office")  # fmt: skip
    async def disable_operator(request: Request, code: str, operator_id: str) -> dict[str, Any]:
        who = await principal(request, Scope.OPERATORS_WRITE)
        version = await run_in_threadpool(staff.disable, code, operator_id)
        target = ("operator", f"{code}:{operator_id}")
        await audited(request, who, "operator.disable", targets=(("office", code), target))
        return {"id": operator_id, "state": "disabled", "version": version}

    # --- devices ----------------------------------------------------------------------------
    @app.get("/devices", summary="Kiosks: enrolment, last contact, version, printers")
    async def devices(request: Request) -> dict[str, Any]:
        await principal(request, Scope.DEVICES_READ)
        rows = await run_in_threadpool(store.devices)
        return {"devices": [{**device_json(d), "heartbeat": _heartbeat(d.heartbeat),
                             "clock_offset_s": _clock_offset(d)} for d in rows]}  # fmt: skip

    @app.get("/devices/{kiosk}/audit", summary="A kiosk's audit trail, its chain checked "
             "(a device id, or an office code: its active kiosk)")  # fmt: skip
    async def device_audit(request: Request, kiosk: str) -> dict[str, Any]:
        await principal(request, Scope.AUDIT_READ)

        def report() -> dict[str, Any]:
            try:
                device, note = audit_device(store, kiosk)
            except OperatorError as error:  # no such device or office
                raise AdminHttpError(404, "not_found", str(error)) from None
            return {**audit_report(store, device), "note": note}

        return await run_in_threadpool(report)

    @app.post("/devices/{device_id}/revoke", summary="Revoke a kiosk (a stolen or lost PC)")
    async def revoke(request: Request, device_id: str) -> dict[str, str]:
        who = await principal(request, Scope.DEVICES_REVOKE)
        await run_in_threadpool(admin.revoke, device_id)
        await audited(request, who, "device.revoke", targets=(("device", device_id),))
        return {"device_id": device_id, "state": "revoked"}

    @app.post("/devices/{device_id}/rotate-seal",
              summary="Ask a kiosk to rotate its sealing key (crypto-shredding)")  # fmt: skip
    async def rotate_seal(request: Request, device_id: str) -> dict[str, Any]:
        who = await principal(request, Scope.KEYS_ROTATE)
        at_s = await run_in_threadpool(admin.rotate_seal, device_id)
        await audited(request, who, "device.rotate_seal", targets=(("device", device_id),))
        return {"device_id": device_id, "seal_rotate": at_s}

    # --- agent releases (ADR 0031) -----------------------------------------------------------
    @app.get("/releases", summary="Agent releases: each one's roll-out stage and how many "
             "kiosks run it; whether promote can be signed here")  # fmt: skip
    async def releases(request: Request) -> dict[str, Any]:
        await principal(request, Scope.DEVICES_READ)
        return await run_in_threadpool(lambda: releases_json(parts.releases, store.devices()))

    @app.post("/releases/{version}/promote", summary="Widen a release's roll-out (a higher "
              "percentage, more offices); needs the targets key on this server")  # fmt: skip
    async def promote(request: Request, version: str, body: PromoteBody) -> dict[str, Any]:
        who = await principal(request, Scope.RELEASES_PROMOTE)
        repo = parts.releases
        parse_version(version)  # OperatorError: 400 refused
        if body.percent is None and not body.offices:
            raise OperatorError("give percent and/or offices")

        def widen() -> dict[str, Any]:
            if repo is None or not repo.exists():
                raise AdminHttpError(404, "not_found", "no release repository on this server "
                                     "(cedoka-district release init)")  # fmt: skip
            if not any(r.version == version for r in repo.releases()):
                raise AdminHttpError(404, "not_found", f"release {version} is not published")
            if not repo.can_sign_targets():
                command = promote_command(version, body.percent, body.offices)
                raise AdminHttpError(409, "key_offline", "the targets key is not on this "
                                     f"server: on the signing machine run {command}")  # fmt: skip
            unknown = [o for o in body.offices if store.office(o) is None]
            if unknown:
                raise OperatorError(f"unknown office {unknown[0]}")
            done = repo.promote(version, now_s=int(time.time()), percent=body.percent,
                                offices=tuple(body.offices))  # fmt: skip
            return {"version": done.version, "percent": done.stage.percent,
                    "offices": list(done.stage.offices)}  # fmt: skip

        answer = await run_in_threadpool(widen)
        await audited(request, who, "release.promote", targets=(("release", version),))
        return answer

    # --- keys, users, tokens, the audit log ---------------------------------------------------
    @app.post("/keys/rotate", summary="Rotate the job-signing key (with overlap)")
    async def rotate(request: Request) -> dict[str, str]:
        who = await principal(request, Scope.KEYS_ROTATE)
        kid = await run_in_threadpool(admin.rotate_key)
        await audited(request, who, "key.rotate", targets=(("key", kid),))
        return {"kid": kid}

    @app.get("/users", summary="District IT's users")
    async def users(request: Request) -> dict[str, Any]:
        who = await principal(request, Scope.USERS_ADMIN)
        rows = await run_in_threadpool(identity.users, who)
        return {
            "users": [
                {
                    "user_id": u.user_id,
                    "name": u.name,
                    "role": u.role.value,
                    "totp": u.totp,
                    "created_s": u.created_s,
                    "disabled_s": u.disabled_s,
                    "locked_until_s": u.locked_until_s,
                }
                for u in rows
            ]
        }

    @app.post("/users", status_code=201, summary="Add a user")
    async def add_user(request: Request, body: UserBody) -> dict[str, str]:
        who = await principal(request, Scope.USERS_ADMIN)
        view = await run_in_threadpool(
            lambda: identity.add_user(
                who,
                user_id=body.user_id,
                name=body.name,
                role=body.role,
                password=body.password,
                remote=remote_of(request),
            )
        )
        return {"user_id": view.user_id, "role": view.role.value}

    @app.post("/users/{user_id}/disable", summary="Disable a user and their tokens")
    async def disable_user(request: Request, user_id: str) -> dict[str, str]:
        who = await principal(request, Scope.USERS_ADMIN)
        await run_in_threadpool(
            lambda: identity.disable_user(who, user_id, remote=remote_of(request))
        )
        return {"user_id": user_id, "state": "disabled"}

    @app.post(
        "/users/{user_id}/password",
        summary="Set a password (one's own, or anyone's for an admin); lifts a lockout",
    )
    async def set_password(request: Request, user_id: str, body: PasswordBody) -> dict[str, str]:
        who = await principal(request)
        await run_in_threadpool(
            lambda: identity.set_password(who, user_id, body.password, remote=remote_of(request))
        )
        return {"user_id": user_id, "state": "password_set"}

    @app.post(
        "/users/{user_id}/totp",
        summary="A new second factor (the otpauth URI and secret are shown once)",
    )
    async def enable_totp(request: Request, user_id: str) -> dict[str, str]:
        who = await principal(request)
        new = await run_in_threadpool(
            lambda: identity.enable_totp(who, user_id, remote=remote_of(request))
        )
        return {"user_id": user_id, "otpauth_uri": new.uri, "secret": new.secret}

    @app.get("/tokens", summary="API tokens (never their secrets)")
    async def tokens(request: Request, user_id: str | None = None) -> dict[str, Any]:
        who = await principal(request)
        rows = await run_in_threadpool(lambda: identity.tokens(who, user_id=user_id))
        return {
            "tokens": [
                {
                    "token_id": t.token_id,
                    "user_id": t.user_id,
                    "label": t.label,
                    "scopes": list(t.scopes),
                    "created_s": t.created_s,
                    "expires_s": t.expires_s,
                    "revoked_s": t.revoked_s,
                    "last_used_s": t.last_used_s,
                }
                for t in rows
            ]
        }

    @app.post("/tokens", status_code=201, summary="Create an API token (its text shown once)")
    async def create_token(request: Request, body: TokenBody) -> dict[str, Any]:
        who = await principal(request)
        new = await run_in_threadpool(
            lambda: identity.create_token(
                who,
                label=body.label,
                scopes=body.scopes,
                lifetime_s=body.lifetime_s,
                user_id=body.user_id,
                remote=remote_of(request),
            )
        )
        return {
            "token": new.text,
            "token_id": new.row.token_id,
            "user_id": new.row.user_id,
            "scopes": list(new.row.scopes),
            "expires_s": new.row.expires_s,
        }

    @app.post("/tokens/{token_id}/revoke", summary="Revoke an API token")
    async def revoke_token(request: Request, token_id: str) -> dict[str, str]:
        who = await principal(request)
        await run_in_threadpool(
            lambda: identity.revoke_token(who, token_id, remote=remote_of(request))
        )
        return {"token_id": token_id, "state": "revoked"}

    # --- webhooks ----------------------------------------------------------------------------
    @app.get("/webhooks", summary="Webhook subscriptions (never their secrets)")
    async def webhooks(request: Request) -> dict[str, Any]:
        who = await principal(request, Scope.WEBHOOKS_ADMIN)
        rows = await run_in_threadpool(parts.webhooks.subscriptions, who)
        return {"webhooks": [_webhook(w) for w in rows]}

    @app.post(
        "/webhooks", status_code=201, summary="Subscribe a URL (its signing secret is shown once)"
    )
    async def add_webhook(request: Request, body: WebhookBody) -> dict[str, Any]:
        who = await principal(request, Scope.WEBHOOKS_ADMIN)
        new = await run_in_threadpool(
            lambda: parts.webhooks.add(
                who,
                url=body.url,
                events=body.events,
                user_id=body.user_id,
                all_jobs=body.all_jobs,
                remote=remote_of(request),
            )
        )
        return {**_webhook(new.row), "secret": new.row.secret}

    @app.post("/webhooks/{webhook_id}/disable", summary="Stop a webhook")
    async def disable_webhook(request: Request, webhook_id: str) -> dict[str, str]:
        who = await principal(request, Scope.WEBHOOKS_ADMIN)
        await run_in_threadpool(
            lambda: parts.webhooks.disable(who, webhook_id, remote=remote_of(request))
        )
        return {"webhook_id": webhook_id, "state": "disabled"}

    @app.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's messages and attempts")
    async def deliveries(request: Request, webhook_id: str, limit: int = 100) -> dict[str, Any]:
        who = await principal(request, Scope.WEBHOOKS_ADMIN)
        rows = await run_in_threadpool(
            lambda: parts.webhooks.deliveries(who, webhook_id, limit=max(1, min(limit, MAX_LIST)))
        )
        return {"deliveries": [_delivery(m) for m in rows]}

    @app.get("/audit", summary="The district's admin audit log (hash-chained)")
    async def audit(request: Request, after_seq: int = 0, limit: int = 200) -> dict[str, Any]:
        who = await principal(request, Scope.AUDIT_READ)
        records = await run_in_threadpool(
            lambda: identity.audit_log(
                who, after_seq=max(0, after_seq), limit=max(1, min(limit, MAX_LIST))
            )
        )
        return {"records": [_record(r) for r in records]}

    @app.get(
        "/session",
        summary="The live session's caller and anti-CSRF token (the console after a reload); "
        "204 when there is none",
    )
    async def session(request: Request) -> Response:
        sid = request.cookies.get(cookie)
        try:
            who, csrf = await run_in_threadpool(identity.session_principal, sid or "")
        except AccessError:
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        return JSONResponse({**_me(who), "csrf": csrf}, headers={"Cache-Control": "no-store"})

    @app.middleware("http")
    async def no_store(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app


def _pin_given(operator_id: str, given: PinGiven) -> dict[str, Any]:
    """The answer to an add or a reset: the one-time PIN, shown this once."""
    return {"id": operator_id, "pin": given.pin, "version": given.version,
            "pin_expires_s": given.operator.pin_expires_s}  # fmt: skip


def _me(who: Principal) -> dict[str, Any]:
    return {
        "actor": who.actor,
        "user_id": who.user_id,
        "role": who.role.value,
        "scopes": sorted(s.value for s in who.scopes),
    }


def _int(text: str | None, name: str) -> int:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        raise OperatorError(f"{name}: a whole number")
    return int(text)


def _job_matches(
    row: JobRow, state: str | None, job_id: str | None, since_s: int | None, until_s: int | None
) -> bool:
    current = "cancelled" if row.cancelled_s is not None and row.state is None else row.state
    return (
        (state is None or (current or "pushed") == state)
        and (job_id is None or row.job_id == job_id)
        and (since_s is None or row.created_s >= since_s)
        and (until_s is None or row.created_s < until_s)
    )


def _clock_offset(row: DeviceRow) -> int | None:
    """The kiosk's clock minus the district's when its last heartbeat came (seconds; the
    heartbeat's own ``sent_at`` against the time it was received, so the link's delay is
    in it too); None without a readable heartbeat."""
    if row.heartbeat is None or row.last_seen_s is None:
        return None
    try:
        return parse_heartbeat(row.heartbeat).sent_at_s - row.last_seen_s
    except RejectedError:
        return None


def _heartbeat(body: bytes | None) -> object:
    """The last heartbeat as the kiosk sent it (validated on receipt; no personal data)."""
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _webhook(row: WebhookRow) -> dict[str, Any]:
    return {
        "webhook_id": row.webhook_id,
        "user_id": row.user_id,
        "url": row.url,
        "events": list(row.events),
        "all_jobs": row.all_jobs,
        "created_s": row.created_s,
        "disabled_s": row.disabled_s,
    }


def _delivery(row: OutboxRow) -> dict[str, Any]:
    return {
        "message_id": row.message_id,
        "type": row.type,
        "job_id": row.job_id,
        "created_s": row.created_s,
        "attempts": row.attempts,
        "next_at_s": row.next_at_s,
        "delivered_s": row.delivered_s,
        "gave_up_s": row.gave_up_s,
        "last_status": row.last_status,
        "last_error": row.last_error,
    }


def _record(record: AdminRecord) -> dict[str, Any]:
    e = record.entry
    return {
        "seq": record.seq,
        "hash": record.hash,
        "prev": record.prev,
        "at_s": e.at_s,
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "targets": [list(t) for t in e.targets],
        "remote": e.remote,
    }


def _qr_svg(text: str) -> str:
    """``text`` as a QR code, an SVG document (for the console's printable enrolment sheet;
    ADR 0023). qrcode's SVG path image is pure Python."""
    import qrcode  # lazy: only the enrolment sheet needs it
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    svg: str = image.to_string(encoding="unicode")
    return svg
