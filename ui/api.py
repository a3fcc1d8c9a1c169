"""The kiosk's local HTTP API over the agent (FastAPI), for the screens in ``ui/static``.
The contract, with every route and refusal, is docs/kiosk-api.md.

Every ``/api`` request passes :class:`ui.guard.Guard` (secret, Host, Origin); all but the
sign-in routes need an operator session (:mod:`ui.sessions`); bodies are small JSON
validated by pydantic models (unknown members refused); every refusal is
``{"error": {"code", "message_id", "message_en"}}`` (:mod:`ui.errors`). Every staff action
is one call of the agent's desk (:mod:`agent.desk`, which also writes the audit trail);
this module only validates input and maps :class:`~agent.desk_model.DeskError` to HTTP. The
spool is the truth: nothing here holds state beyond short-lived sessions and tickets.

The release flow: ``POST /api/claim`` (a code) or ``/api/staff-claim`` (PIN + reason)
answers the bundle with a **ticket**; the screen shows previews; ``POST /api/release``
with the ticket runs the printer pre-flight first (a refusal keeps the job held and the
ticket valid), then releases and prints; staff then confirm ``handover`` (the receipt
prints) or ``spoil`` (reprint).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from agent.app import Agent
from agent.desk_model import DeskError
from agent.operators import Operator
from kiosk.config import PrinterRole
from kiosk.limits import MAX_DOCUMENTS_PER_JOB
from ui.errors import ApiError, desk_error
from ui.guard import SECRET_HEADER, Guard
from ui.preview import first_page_png, page_png
from ui.sessions import Credentials, SettingsGrant, Ticket
from ui.views import (
    handed_over_json,
    history_json,
    job_json,
    operator_json,
    printed_json,
    settings_json,
    state_json,
)

OperatorId = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,32}$")]
Pin = Annotated[str, Field(pattern=r"^[0-9]{1,8}$")]


DocIndexes = Annotated[
    list[Annotated[int, Field(ge=0, lt=MAX_DOCUMENTS_PER_JOB)]],
    Field(min_length=1, max_length=MAX_DOCUMENTS_PER_JOB),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginBody(_Body):
    operator: OperatorId
    pin: Pin


class PinChangeBody(_Body):
    operator: OperatorId
    pin: Pin
    new_pin: Pin


class OperatorAddBody(_Body):
    operator: OperatorId
    name: Annotated[str, Field(min_length=1, max_length=40)]
    role: Literal["staff", "supervisor"]
    pin: Pin


class ClaimBody(_Body):
    code: Annotated[str, Field(min_length=1, max_length=40)]


class StaffClaimBody(_Body):
    job_id: Annotated[str, Field(pattern=r"^job_[0-9A-HJKMNP-TV-Z]{26}$")]
    pin: Pin
    reason: Literal["no_phone", "lost_code", "staff_job", "other"]


class ReleaseBody(_Body):
    ticket: Annotated[str, Field(min_length=20, max_length=64)]


class EmptyBody(_Body):
    pass


class SpoilBody(_Body):
    reason: Literal["blank", "jammed", "spoiled", "cut_off"]
    docs: DocIndexes | None = None  # the spoiled documents; absent: every one of the job


class UnlockBody(_Body):
    pin: Pin
    supervisor: OperatorId | None = None  # whose PIN it is; default: the signed-in operator


class PrinterRoles(_Body):
    a4: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    receipt: Annotated[str, Field(max_length=200)] | None = None  # "" removes it


class SettingsBody(_Body):
    language: Literal["id", "en"] | None = None
    printers: PrinterRoles | None = None


class TestPageBody(_Body):
    role: Literal["a4", "receipt"]


def _session(request: Request,
             x_cedoka_session: Annotated[str | None, Header()] = None) -> Operator:  # fmt: skip
    creds: Credentials = request.app.state.creds
    return creds.operator(x_cedoka_session, activity=request.method != "GET")


Session = Annotated[Operator, Depends(_session)]


def _supervisor(request: Request, operator: Session,
                x_cedoka_settings: Annotated[str | None, Header()] = None) -> Operator:  # fmt: skip
    """The supervisor whose PIN opened the settings on this session."""
    creds: Credentials = request.app.state.creds
    return creds.settings_supervisor(x_cedoka_settings, operator)


Supervisor = Annotated[Operator, Depends(_supervisor)]


def build_api(agent: Agent, guard: Guard, *, static_dir: str | None = None) -> FastAPI:  # noqa: PLR0915 (the route table)
    app = FastAPI(title="Cedoka kiosk", docs_url=None, redoc_url=None, openapi_url=None)
    desk = agent.desk
    creds = Credentials(lookup=desk.operator)  # a removed operator's session ends
    app.state.creds = creds

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
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'"
        )
        return response

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        return _json(error.status, error.body())

    @app.exception_handler(DeskError)
    async def on_desk_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DeskError)
        refusal = desk_error(error)
        return _json(refusal.status, refusal.body())

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: Exception) -> Response:
        return _json(400, {"error": {"code": "malformed", "message_id": "Permintaan tidak valid.",
                                     "message_en": "Invalid request."}})  # fmt: skip

    @app.get("/api/state")
    def state(x_cedoka_session: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return state_json(desk.state(), creds.signed_in(x_cedoka_session))

    # --- signing in -------------------------------------------------------------------

    @app.get("/api/operators")
    def operators() -> dict[str, Any]:
        return {"operators": [operator_json(o) for o in desk.operators()]}

    @app.post("/api/login")
    def login(body: LoginBody) -> dict[str, Any]:
        operator = desk.sign_in(body.operator, body.pin)
        return {"session": creds.sessions.issue(operator), "operator": operator_json(operator),
                "idle_s": 900}  # fmt: skip

    @app.post("/api/pin")
    def change_pin(body: PinChangeBody) -> dict[str, Any]:
        operator = desk.change_pin(body.operator, body.pin, body.new_pin)
        return {"operator": operator_json(operator)}

    @app.post("/api/operators")
    def add_operator(body: OperatorAddBody, operator: Supervisor) -> dict[str, Any]:
        added = desk.add_operator(operator, body.operator, name=body.name, role=body.role,
                                  pin=body.pin)  # fmt: skip
        return {"operator": operator_json(added)}

    @app.delete("/api/operators/{operator_id}")
    def remove_operator(operator_id: str, operator: Supervisor) -> dict[str, Any]:
        desk.remove_operator(operator, operator_id)
        return {"removed": operator_id}

    @app.post("/api/logout")
    def logout(
        body: EmptyBody, operator: Session, x_cedoka_session: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        creds.sign_out(x_cedoka_session, operator)
        desk.signed_out(operator)
        return {}

    # --- the queue and releasing ------------------------------------------------------

    @app.get("/api/jobs")
    def jobs(operator: Session) -> dict[str, Any]:
        return {"jobs": [job_json(v) for v in desk.queue()]}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str, operator: Session) -> dict[str, Any]:
        return job_json(desk.job(job_id))

    @app.get("/api/claim")
    def claim_lock(operator: Session) -> dict[str, Any]:
        return {"retry_after_s": desk.claim_locked_for_s()}

    @app.post("/api/claim")
    def claim(body: ClaimBody, operator: Session) -> dict[str, Any]:
        matched = desk.match_code(body.code, operator)
        ticket = creds.tickets.issue(
            Ticket(tuple(v.job_id for v in matched), operator.operator_id, "code")
        )
        return {"ticket": ticket, "jobs": [job_json(v) for v in matched]}

    @app.post("/api/staff-claim")
    def staff_claim(body: StaffClaimBody, operator: Session) -> dict[str, Any]:
        view = desk.check_staff_release(body.job_id, body.pin, operator, body.reason)
        ticket = creds.tickets.issue(
            Ticket((body.job_id,), operator.operator_id, "staff", body.reason)
        )
        return {"ticket": ticket, "jobs": [job_json(view)]}

    @app.get("/api/jobs/{job_id}/docs/{idx}/preview")
    def preview(job_id: str, idx: int, operator: Session,
                x_cedoka_ticket: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
        pdf = desk.document_pdf(job_id, idx, ticketed=creds.allows(x_cedoka_ticket, job_id))
        return Response(first_page_png(pdf), media_type="image/png")

    @app.get("/api/jobs/{job_id}/docs/{idx}/pages/{number}")
    def page(job_id: str, idx: int, number: int, operator: Session,
             x_cedoka_ticket: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
        pdf = desk.document_pdf(job_id, idx, ticketed=creds.allows(x_cedoka_ticket, job_id))
        png = page_png(pdf, number)
        if png is None:
            raise ApiError(404, "not_found", "Halaman tidak ada.", "No such page.")
        return Response(png, media_type="image/png")

    @app.post("/api/release")
    async def release(body: ReleaseBody, operator: Session) -> dict[str, Any]:
        ticket = creds.ticket(body.ticket, operator)

        def run() -> dict[str, Any]:
            results = desk.release(ticket.job_ids, operator, by_code=ticket.mode == "code",
                                   reason=ticket.reason)  # fmt: skip
            creds.tickets.drop(body.ticket)
            return {"jobs": [printed_json(r) for r in results]}

        return await run_in_threadpool(run)

    @app.post("/api/jobs/{job_id}/handover")
    async def handover(job_id: str, body: EmptyBody, operator: Session) -> dict[str, Any]:
        return handed_over_json(await run_in_threadpool(desk.hand_over, job_id, operator))

    @app.post("/api/jobs/{job_id}/spoil")
    async def spoil(job_id: str, body: SpoilBody, operator: Session) -> dict[str, Any]:
        docs = None if body.docs is None else tuple(sorted(set(body.docs)))
        return printed_json(
            await run_in_threadpool(desk.spoil, job_id, body.reason, operator, docs)
        )

    @app.post("/api/jobs/{job_id}/discard")
    async def discard(job_id: str, body: EmptyBody, operator: Session) -> dict[str, Any]:
        state = await run_in_threadpool(desk.discard, job_id, operator)
        return {"job_id": job_id, "state": state.value}

    @app.post("/api/jobs/{job_id}/retry")
    async def retry(job_id: str, body: EmptyBody, operator: Session) -> dict[str, Any]:
        return printed_json(await run_in_threadpool(desk.retry, job_id, operator))

    @app.post("/api/printers/{role}/enable")
    def enable(role: Literal["a4"], body: EmptyBody, operator: Session) -> dict[str, Any]:
        return {"role": role, "state": desk.enable_printer(operator)}

    @app.get("/api/history")
    def history(operator: Session) -> dict[str, Any]:
        return history_json(desk.history())

    # --- settings (supervisor) --------------------------------------------------------

    @app.post("/api/settings/unlock")
    def unlock(body: UnlockBody, operator: Session) -> dict[str, Any]:
        supervisor = desk.supervisor.unlock_settings(operator, body.pin,
                                                     supervisor_id=body.supervisor)  # fmt: skip
        grant = SettingsGrant(operator.operator_id, supervisor)
        return {"settings_ticket": creds.settings.issue(grant),
                "supervisor": operator_json(supervisor)}  # fmt: skip

    @app.get("/api/settings")
    def get_settings(operator: Supervisor) -> dict[str, Any]:
        return settings_json(desk.supervisor.settings())

    @app.post("/api/settings")
    def set_settings(body: SettingsBody, operator: Supervisor) -> dict[str, Any]:
        printers: dict[PrinterRole, str | None] = {}
        if body.printers is not None:
            if body.printers.a4 is not None:
                printers[PrinterRole.A4] = body.printers.a4
            if body.printers.receipt is not None:
                printers[PrinterRole.RECEIPT] = body.printers.receipt or None
        view = desk.supervisor.change_settings(operator, language=body.language, printers=printers)
        return settings_json(view)

    @app.post("/api/settings/test-page")
    def test_page(body: TestPageBody, operator: Supervisor) -> dict[str, Any]:
        desk.supervisor.test_page(body.role, operator)
        return {"role": body.role, "state": "submitted"}

    if static_dir is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static_dir, html=True), name="static")
    return app


def _json(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status)
