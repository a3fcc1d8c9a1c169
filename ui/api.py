"""The kiosk's local HTTP API over the agent (FastAPI), for the window in ``ui/static``.

Every ``/api`` request passes :class:`ui.guard.Guard` (secret, Host, Origin); bodies are
small JSON validated by pydantic models (unknown members refused); every refusal is
``{"error": {"code", "message_id", "message_en"}}`` with a machine code and the
Indonesian / English text the screen shows. Nothing here holds state beyond short-lived
release tickets: the spool is the truth.

The release flow: ``POST /api/claim`` checks a code (the lockout counts wrong codes) and
answers the matching bundle with a **ticket**; the screen shows previews
(``GET /api/jobs/{id}/docs/{idx}/preview``); ``POST /api/release`` with the ticket runs the
printer pre-flight first (a refusal keeps the job held and the ticket valid), then releases
and prints; staff then confirm ``handover`` or ``spoil`` (reprint).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from agent.app import Agent
from agent.dispatch import NoPrinter
from agent.jobs import Step
from kiosk.errors import ClaimError, ClaimLockedError, Reason, TransitionError
from kiosk.lifecycle import JobEvent, JobState
from kiosk.messages import printer_text
from kiosk.messages import text as reason_text
from printers.base import PrinterNotReady
from ui.guard import SECRET_HEADER, Guard
from ui.preview import first_page_png

TICKET_TTL_S = 300
Operator = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")]
QUEUE_STATES = (JobState.HELD, JobState.RELEASED, JobState.PRINTING, JobState.PRINTED,
                JobState.FAILED)  # fmt: skip
SPOIL_REASONS = ("blank", "jammed", "spoiled", "cut_off")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ClaimBody(_Body):
    code: Annotated[str, Field(min_length=1, max_length=40)]


class ReleaseBody(_Body):
    ticket: Annotated[str, Field(min_length=20, max_length=64)]
    operator: Operator


class OperatorBody(_Body):
    operator: Operator


class SpoilBody(_Body):
    operator: Operator
    reason: Literal["blank", "jammed", "spoiled", "cut_off"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message_id: str, message_en: str,
                 **extra: Any) -> None:  # fmt: skip
        super().__init__(code)
        self.status, self.code = status, code
        self.message_id, self.message_en, self.extra = message_id, message_en, extra


def _reason_error(status: int, reason: Reason, **extra: Any) -> ApiError:
    return ApiError(status, reason.value, reason_text(reason, "id"), reason_text(reason, "en"),
                    **extra)  # fmt: skip


def _printer_error(reason: str, role: str | None = None) -> ApiError:
    return ApiError(409, reason, printer_text(reason, "id"), printer_text(reason, "en"),
                    role=role)  # fmt: skip


class Tickets:
    """Short-lived proof that a claim code matched these jobs (in memory)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[tuple[str, ...], float]] = {}
        self._lock = threading.Lock()

    def issue(self, job_ids: list[str]) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            self._items[ticket] = (tuple(job_ids), now + TICKET_TTL_S)
        return ticket

    def jobs(self, ticket: str) -> tuple[str, ...]:
        with self._lock:
            item = self._items.get(ticket)
            if item is None or item[1] <= time.monotonic():
                raise ApiError(410, "ticket_expired", "Waktu habis — masukkan kode lagi.",
                               "Time is up — enter the code again.")  # fmt: skip
            return item[0]

    def allows(self, ticket: str | None, job_id: str) -> bool:
        try:
            return ticket is not None and job_id in self.jobs(ticket)
        except ApiError:
            return False

    def drop(self, ticket: str) -> None:
        with self._lock:
            self._items.pop(ticket, None)


def build_api(agent: Agent, guard: Guard, *, static_dir: str | None = None) -> FastAPI:  # noqa: PLR0915 (the route table)
    app = FastAPI(title="Cedoka kiosk", docs_url=None, redoc_url=None, openapi_url=None)
    tickets = Tickets()

    @app.middleware("http")
    async def check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if not guard.host_ok(request.headers.get("host")):
            return _json(421, {"error": {"code": "bad_host"}})
        if not guard.origin_ok(request.headers.get("origin")):
            return _json(403, {"error": {"code": "bad_origin"}})
        if request.url.path.startswith("/api/") and not guard.secret_ok(
            request.headers.get(SECRET_HEADER)
        ):
            return _json(401, {"error": {"code": "no_secret"}})
        response = await call_next(request)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"
        )
        return response

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        body = {"code": error.code, "message_id": error.message_id,
                "message_en": error.message_en, **error.extra}  # fmt: skip
        return _json(error.status, {"error": body})

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: Exception) -> Response:
        return _json(400, {"error": {"code": "malformed", "message_id": "Permintaan tidak valid.",
                                     "message_en": "Invalid request."}})  # fmt: skip

    def job_view(job_id: str) -> dict[str, Any]:
        row = agent.spool.job(job_id)
        if row is None:
            raise ApiError(404, "not_found", "Dokumen tidak ditemukan.", "No such job.")
        status = row.status
        view: dict[str, Any] = {
            "job_id": job_id, "state": status.state.value, "release": row.release,
            "updated_s": status.updated_at_s, "reason": status.reason, "reprints": status.reprints,
        }  # fmt: skip
        if row.manifest is not None:
            job = agent.stored.reopen(row)
            titles = {t.doc_id: t.title for t in job.display.titles}
            view["resident_masked"] = job.display.resident_masked
            view["documents"] = [
                {"idx": i, "type": d.doc_type, "title": titles.get(d.doc_id, d.doc_type),
                 "copies": d.copies}
                for i, d in enumerate(job.manifest.documents)
            ]  # fmt: skip
        return view

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        with agent.link.lock:
            link = {"last_ok_s": agent.link.last_ok_s or None, "error": agent.link.error,
                    "revoked": agent.link.revoked}  # fmt: skip
        printers = [
            {"role": h.role, "backend": h.backend, "state": h.state, "accepting": h.accepting,
             "reasons": list(h.reasons), "media": h.media,
             "markers": [{"name": m.name, "level": m.level} for m in h.markers]}
            for h in agent.reporter.health()
        ]  # fmt: skip
        return {"language": agent.config.language, "office_code": agent.config.office_code,
                "link": link, "frozen": agent.syncer.frozen, "printers": printers,
                "counts": agent.spool.counts()}  # fmt: skip

    @app.get("/api/jobs")
    def jobs() -> dict[str, Any]:
        return {"jobs": [job_view(r.status.job_id) for r in agent.spool.jobs(QUEUE_STATES)]}

    @app.post("/api/claim")
    def claim(body: ClaimBody) -> dict[str, Any]:
        try:
            matched = agent.releaser.match(body.code)
        except ClaimLockedError as error:
            raise _reason_error(423, Reason.CLAIM_LOCKED,
                                retry_after_s=error.retry_after_s) from None  # fmt: skip
        except ClaimError as error:
            status = 400 if error.reason is Reason.CLAIM_MALFORMED else 403
            raise _reason_error(status, error.reason) from None
        return {"ticket": tickets.issue(matched), "jobs": [job_view(j) for j in matched]}

    @app.get("/api/jobs/{job_id}/docs/{idx}/preview")
    def preview(job_id: str, idx: int, request: Request) -> Response:
        row = agent.spool.job(job_id)
        allowed = row is not None and (
            tickets.allows(request.headers.get("x-cedoka-ticket"), job_id)
            or row.status.state in {JobState.RELEASED, JobState.PRINTING, JobState.PRINTED}
        )
        if row is None or not allowed:
            raise ApiError(404, "not_found", "Dokumen tidak ditemukan.", "No such job.")
        docs = agent.spool.docs(job_id)
        if not 0 <= idx < len(docs):
            raise ApiError(404, "not_found", "Dokumen tidak ditemukan.", "No such document.")
        opened = agent.stored.open_document(row, docs[idx].doc_id)
        return Response(first_page_png(opened.pdf), media_type="image/png")

    def print_now(job_id: str) -> str:
        try:
            state = agent.dispatcher.print_job(job_id)
        except PrinterNotReady as error:
            raise _printer_error(error.reason) from None
        except NoPrinter:
            raise _printer_error("no_printer") from None
        deadline = time.monotonic() + 900
        while state is JobState.PRINTING and time.monotonic() < deadline:  # the service took it
            time.sleep(0.2)
            row = agent.spool.job(job_id)
            state = row.status.state if row else JobState.PURGED
        return state.value

    @app.post("/api/release")
    async def release(body: ReleaseBody) -> dict[str, Any]:
        job_ids = tickets.jobs(body.ticket)

        def run() -> dict[str, Any]:
            for job_id in job_ids:  # before anything changes: the printers are ready
                try:
                    agent.dispatcher.preflight(job_id)
                except PrinterNotReady as error:
                    raise _printer_error(error.reason) from None
                except NoPrinter:
                    raise _printer_error("no_printer") from None
            results = []
            for job_id in job_ids:
                agent.releaser.by_staff(job_id, operator=body.operator)
                results.append({"job_id": job_id, "state": print_now(job_id)})
            tickets.drop(body.ticket)
            return {"jobs": results}

        return await run_in_threadpool(run)

    def step_and_print(job_id: str, step: Step) -> dict[str, Any]:
        try:
            if agent.book.step(job_id, step) is None:
                raise ApiError(409, "changed", "Status berubah — muat ulang.",
                               "The job changed meanwhile — reload.")  # fmt: skip
        except TransitionError:
            raise ApiError(409, "not_allowed", "Tidak bisa dilakukan sekarang.",
                           "Not possible in this state.") from None  # fmt: skip
        return {"job_id": job_id, "state": print_now(job_id)}

    @app.post("/api/jobs/{job_id}/handover")
    async def handover(job_id: str, body: OperatorBody) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            row = agent.spool.job(job_id)
            if row is None or row.status.state is not JobState.PRINTED:
                raise ApiError(409, "not_allowed", "Tidak bisa dilakukan sekarang.",
                               "Not possible in this state.")  # fmt: skip
            return {
                "job_id": job_id,
                "state": agent.dispatcher.hand_over(job_id, body.operator).value,
            }

        return await run_in_threadpool(run)

    @app.post("/api/jobs/{job_id}/spoil")
    async def spoil(job_id: str, body: SpoilBody) -> dict[str, Any]:
        step = Step(JobEvent.SPOIL, reason=f"spoiled_{body.reason}", operator=body.operator)
        return await run_in_threadpool(step_and_print, job_id, step)

    @app.post("/api/jobs/{job_id}/retry")
    async def retry(job_id: str, body: OperatorBody) -> dict[str, Any]:
        step = Step(JobEvent.RETRY, operator=body.operator)
        return await run_in_threadpool(step_and_print, job_id, step)

    if static_dir is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static_dir, html=True), name="static")
    return app


def _json(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status)
