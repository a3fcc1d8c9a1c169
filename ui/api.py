"""The kiosk's local HTTP API over the agent (FastAPI), for the screens in ``ui/static``.
The contract, with every route and refusal, is docs/kiosk-api.md.

Every ``/api`` request passes :class:`ui.guard.Guard` (secret, Host, Origin); all but the
sign-in routes need an operator session (:mod:`ui.sessions`); bodies are small JSON
validated by pydantic models (unknown members refused); every refusal is
``{"error": {"code", "message_id", "message_en"}}`` (:mod:`ui.errors`). Every step staff
take is written to the hash-chained audit trail (:mod:`agent.audit`). The spool is the
truth: nothing here holds state beyond short-lived sessions and tickets.

The release flow: ``POST /api/claim`` (a code) or ``/api/staff-claim`` (PIN + reason)
answers the bundle with a **ticket**; the screen shows previews; ``POST /api/release``
with the ticket runs the printer pre-flight first (a refusal keeps the job held and the
ticket valid), then releases and prints; staff then confirm ``handover`` (the receipt
prints) or ``spoil`` (reprint).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from agent.app import Agent
from agent.dispatch import NoPrinter
from agent.jobs import Step
from agent.operators import Operator, StaffError
from kiosk.config import AgentConfig, PrinterRole, office_utc_offset_s
from kiosk.errors import (
    ClaimError,
    ClaimLockedError,
    ConfigError,
    PrinterNotAllowedError,
    Reason,
    TransitionError,
)
from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import PrintTicket
from kiosk.testpage import make_test_page
from printers.base import PrinterNotReady, PrintSubmitError
from printers.receipt import Language, Receipt, format_time
from ui.errors import ApiError, printer_error, reason_error, staff_error
from ui.guard import SECRET_HEADER, Guard
from ui.preview import first_page_png
from ui.sessions import Credentials, Ticket

QUEUE_STATES = (JobState.HELD, JobState.RELEASED, JobState.PRINTING, JobState.PRINTED,
                JobState.FAILED)  # fmt: skip
PRINT_WAIT_S = 900
_PRINT_STATE = {"intent": "printing", "submitted": "printing", "done": "done",
                "failed": "failed"}  # fmt: skip
OperatorId = Annotated[str, Field(pattern=r"^[a-z0-9._-]{1,32}$")]
Pin = Annotated[str, Field(pattern=r"^[0-9]{1,8}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginBody(_Body):
    operator: OperatorId
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


class PinBody(_Body):
    pin: Pin


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
    creds: Credentials = request.app.state.creds
    if creds.settings.get(x_cedoka_settings) != operator.operator_id:
        raise ApiError(401, "settings_locked", "Masukkan PIN supervisor.",
                       "Enter the supervisor PIN.")  # fmt: skip
    return operator


Supervisor = Annotated[Operator, Depends(_supervisor)]


def build_api(agent: Agent, guard: Guard, *, static_dir: str | None = None) -> FastAPI:  # noqa: PLR0915 (the route table)
    app = FastAPI(title="Cedoka kiosk", docs_url=None, redoc_url=None, openapi_url=None)
    creds = Credentials(lookup=agent.operators.get)  # a removed operator's session ends
    app.state.creds = creds
    audit = agent.audit

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

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: Exception) -> Response:
        return _json(400, {"error": {"code": "malformed", "message_id": "Permintaan tidak valid.",
                                     "message_en": "Invalid request."}})  # fmt: skip

    # --- views ------------------------------------------------------------------------

    def doc_types(job_id: str) -> tuple[str, ...]:
        return tuple(d.doc_type for d in agent.spool.docs(job_id))

    def job_view(job_id: str) -> dict[str, Any]:
        row = agent.spool.job(job_id)
        if row is None:
            raise staff_error("no_job")
        status = row.status
        view: dict[str, Any] = {
            "job_id": job_id, "state": status.state.value, "release": row.release,
            "received_s": row.received_s, "updated_s": status.updated_at_s,
            "reason": status.reason, "reprints": status.reprints,
        }  # fmt: skip
        if row.manifest is not None:
            job = agent.stored.reopen(row)
            titles = {t.doc_id: t.title for t in job.display.titles}
            progress: dict[int, str] = {}
            if status.state in {JobState.PRINTING, JobState.PRINTED, JobState.FAILED}:
                for p in agent.spool.prints(job_id):
                    if p.round == row.rounds and p.state in _PRINT_STATE:
                        progress[p.idx] = _PRINT_STATE[p.state]
            waiting = "waiting" if status.state is JobState.PRINTING else None
            view["resident_masked"] = job.display.resident_masked
            view["documents"] = [
                {"idx": i, "type": d.doc_type, "title": titles.get(d.doc_id, d.doc_type),
                 "copies": d.copies, "print": progress.get(i, waiting)}
                for i, d in enumerate(job.manifest.documents)
            ]  # fmt: skip
        return view

    def operator_json(operator: Operator) -> dict[str, str]:
        return {"id": operator.operator_id, "name": operator.name, "role": operator.role}

    @app.get("/api/state")
    def state(x_cedoka_session: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        seen = agent.syncer.freshness()  # the district's last confirmation (protocol 9.8)
        with agent.link.lock:
            link = {"last_ok_s": agent.link.last_ok_s or None,
                    "error": agent.link.error or seen.refused, "revoked": agent.link.revoked,
                    "head_refused": seen.refused, "frozen": seen.frozen,
                    "confirmed_s": seen.confirmed_s,
                    "confirmed_until_s": seen.confirmed_until_s}  # fmt: skip
        printers = [
            {"role": h.role, "backend": h.backend, "state": h.state, "accepting": h.accepting,
             "reasons": list(h.reasons), "media": h.media,
             "markers": [{"name": m.name, "level": m.level} for m in h.markers]}
            for h in agent.reporter.health()
        ]  # fmt: skip
        operator = creds.signed_in(x_cedoka_session)
        cfg = agent.config
        return {"language": cfg.language, "office_code": cfg.office_code,
                "utc_offset_s": office_utc_offset_s(cfg),
                "office_name": cfg.office_name, "now_s": agent.trusted_now_s(), "link": link,
                "frozen": seen.frozen, "printers": printers,
                "counts": agent.spool.counts(),
                "operator": None if operator is None else operator_json(operator)}  # fmt: skip

    # --- signing in -------------------------------------------------------------------

    @app.get("/api/operators")
    def operators() -> dict[str, Any]:
        return {"operators": [operator_json(o) for o in agent.operators.list()]}

    def check_pin(operator_id: str, pin: str, *, action: str) -> Operator:
        try:
            return agent.operators.check(operator_id, pin)
        except StaffError as error:
            known = error.code != "not_found"
            audit.record(action, "refused", operator=operator_id if known else None,
                         reason=error.code)  # fmt: skip
            extra = {"retry_after_s": error.retry_after_s} if error.retry_after_s else {}
            raise staff_error(error.code, **extra) from None

    @app.post("/api/login")
    def login(body: LoginBody) -> dict[str, Any]:
        operator = check_pin(body.operator, body.pin, action="login_failed")
        audit.record("login", operator=operator.operator_id)
        return {"session": creds.sessions.issue(operator), "operator": operator_json(operator),
                "idle_s": 900}  # fmt: skip

    @app.post("/api/logout")
    def logout(
        body: EmptyBody, operator: Session, x_cedoka_session: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        creds.sign_out(x_cedoka_session, operator)
        audit.record("logout", operator=operator.operator_id)
        return {}

    # --- the queue and releasing ------------------------------------------------------

    @app.get("/api/jobs")
    def jobs(operator: Session) -> dict[str, Any]:
        return {"jobs": [job_view(r.status.job_id) for r in agent.spool.jobs(QUEUE_STATES)]}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str, operator: Session) -> dict[str, Any]:
        return job_view(job_id)

    @app.post("/api/claim")
    def claim(body: ClaimBody, operator: Session) -> dict[str, Any]:
        try:
            matched = agent.releaser.match(body.code)
        except ClaimLockedError as error:
            audit.record("claim_wrong", "refused", operator=operator.operator_id,
                         reason="claim_locked")  # fmt: skip
            raise reason_error(423, Reason.CLAIM_LOCKED,
                               retry_after_s=error.retry_after_s) from None  # fmt: skip
        except ClaimError as error:
            if error.reason is Reason.CLAIM_MALFORMED:
                raise reason_error(400, error.reason) from None
            audit.record("claim_wrong", "refused", operator=operator.operator_id,
                         reason=error.reason.value)  # fmt: skip
            raise reason_error(403, error.reason) from None
        ticket = creds.tickets.issue(Ticket(tuple(matched), operator.operator_id, "code"))
        return {"ticket": ticket, "jobs": [job_view(j) for j in matched]}

    @app.post("/api/staff-claim")
    def staff_claim(body: StaffClaimBody, operator: Session) -> dict[str, Any]:
        check_pin(operator.operator_id, body.pin, action="release_staff")
        row = agent.spool.job(body.job_id)
        if row is None or row.status.state is not JobState.HELD:
            raise staff_error("not_allowed")
        ticket = creds.tickets.issue(
            Ticket((body.job_id,), operator.operator_id, "staff", body.reason)
        )
        return {"ticket": ticket, "jobs": [job_view(body.job_id)]}

    @app.get("/api/jobs/{job_id}/docs/{idx}/preview")
    def preview(job_id: str, idx: int, operator: Session,
                x_cedoka_ticket: Annotated[str | None, Header()] = None) -> Response:  # fmt: skip
        row = agent.spool.job(job_id)
        allowed = row is not None and (
            creds.allows(x_cedoka_ticket, job_id)
            or row.status.state in {JobState.RELEASED, JobState.PRINTING, JobState.PRINTED}
        )
        if row is None or not allowed:
            raise staff_error("no_job")
        docs = agent.spool.docs(job_id)
        if not 0 <= idx < len(docs):
            raise staff_error("no_job")
        opened = agent.stored.open_document(row, docs[idx].doc_id)
        return Response(first_page_png(opened.pdf), media_type="image/png")

    def print_now(job_id: str, operator: Operator) -> str:
        try:
            state = agent.dispatcher.print_job(job_id)
        except PrinterNotReady as error:
            audit.record(
                "print",
                "refused",
                operator=operator.operator_id,
                job_id=job_id,
                doc_types=doc_types(job_id),
                printer="a4",
                reason=error.reason,
            )
            raise printer_error(error.reason, "a4") from None
        except NoPrinter:
            raise printer_error("no_printer", "a4") from None
        deadline = time.monotonic() + PRINT_WAIT_S
        while state is JobState.PRINTING and time.monotonic() < deadline:  # the service took it
            time.sleep(0.2)
            row = agent.spool.job(job_id)
            state = row.status.state if row else JobState.PURGED
        row = agent.spool.job(job_id)
        audit.record(
            "print",
            state.value,
            operator=operator.operator_id,
            job_id=job_id,
            doc_types=doc_types(job_id),
            printer="a4",
            reason=row.status.reason if row and state is JobState.FAILED else None,
        )
        return state.value

    def preflight(job_id: str) -> None:
        try:
            agent.dispatcher.preflight(job_id)
        except PrinterNotReady as error:
            raise printer_error(error.reason, "a4") from None
        except NoPrinter:
            raise printer_error("no_printer", "a4") from None

    @app.post("/api/release")
    async def release(body: ReleaseBody, operator: Session) -> dict[str, Any]:
        ticket = creds.ticket(body.ticket, operator)

        def run() -> dict[str, Any]:
            for job_id in ticket.job_ids:  # before anything changes: the printers are ready
                preflight(job_id)
            results = []
            for job_id in ticket.job_ids:
                if agent.releaser.by_staff(job_id, operator=operator.operator_id):
                    action = "release_code" if ticket.mode == "code" else "release_staff"
                    audit.record(action, operator=operator.operator_id, job_id=job_id,
                                 doc_types=doc_types(job_id), reason=ticket.reason)  # fmt: skip
                results.append({"job_id": job_id, "state": print_now(job_id, operator)})
            creds.tickets.drop(body.ticket)
            return {"jobs": results}

        return await run_in_threadpool(run)

    def step_and_print(job_id: str, step: Step, operator: Operator, action: str) -> dict[str, Any]:
        try:
            if agent.book.step(job_id, step) is None:
                raise staff_error("changed")
        except TransitionError:
            raise staff_error("not_allowed") from None
        audit.record(action, operator=operator.operator_id, job_id=job_id,
                     doc_types=doc_types(job_id), reason=step.reason)  # fmt: skip
        return {"job_id": job_id, "state": print_now(job_id, operator)}

    def print_receipt(job_id: str, titles: list[str], operator: Operator) -> dict[str, Any]:
        printer = agent.receipt
        if printer is None:
            return {"receipt": "none"}
        cfg = agent.config
        receipt = Receipt(
            office_name=cfg.office_name or cfg.office_code, printed_at_s=agent.trusted_now_s(),
            utc_offset_s=office_utc_offset_s(cfg), documents=tuple(titles),
            job_ref=job_id[-8:], operator=operator.name, language=_receipt_language(cfg),
        )  # fmt: skip
        try:
            printer.preflight()
            printer.print_receipt(receipt)
        except (PrinterNotReady, PrintSubmitError) as error:
            audit.record("receipt", "failed", operator=operator.operator_id, job_id=job_id,
                         printer="receipt", reason=error.reason)  # fmt: skip
            return {
                "receipt": "failed",
                "receipt_error": {
                    "code": error.reason,
                    "message_id": "Struk tidak tercetak — dokumen tetap sah.",
                    "message_en": "The receipt did not print — the documents are still valid.",
                },
            }
        audit.record("receipt", "printed", operator=operator.operator_id, job_id=job_id,
                     printer="receipt")  # fmt: skip
        return {"receipt": "printed"}

    @app.post("/api/jobs/{job_id}/handover")
    async def handover(job_id: str, body: EmptyBody, operator: Session) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            row = agent.spool.job(job_id)
            if row is None or row.status.state is not JobState.PRINTED:
                raise staff_error("not_allowed")
            types = doc_types(job_id)
            titles = [d["title"] for d in job_view(job_id).get("documents", [])]
            state = agent.dispatcher.hand_over(job_id, operator.operator_id)
            audit.record("handover", state.value, operator=operator.operator_id,
                         job_id=job_id, doc_types=types)  # fmt: skip
            answer = {"job_id": job_id, "state": state.value}
            if state in {JobState.HANDED_OVER, JobState.PURGED} and titles:
                answer.update(print_receipt(job_id, titles, operator))
            else:
                answer["receipt"] = "none"
            return answer

        return await run_in_threadpool(run)

    @app.post("/api/jobs/{job_id}/spoil")
    async def spoil(job_id: str, body: SpoilBody, operator: Session) -> dict[str, Any]:
        step = Step(JobEvent.SPOIL, reason=f"spoiled_{body.reason}",
                    operator=operator.operator_id)  # fmt: skip
        return await run_in_threadpool(step_and_print, job_id, step, operator, "spoil")

    @app.post("/api/jobs/{job_id}/retry")
    async def retry(job_id: str, body: EmptyBody, operator: Session) -> dict[str, Any]:
        step = Step(JobEvent.RETRY, operator=operator.operator_id)
        return await run_in_threadpool(step_and_print, job_id, step, operator, "retry")

    @app.post("/api/printers/{role}/enable")
    def enable(role: Literal["a4"], body: EmptyBody, operator: Session) -> dict[str, Any]:
        printer = agent.printers.get(PrinterRole.A4)
        if printer is None:
            raise printer_error("no_printer", role)
        enable_queue = getattr(printer, "enable", None)
        if callable(enable_queue):
            enable_queue()
        audit.record("printer_enable", operator=operator.operator_id, printer="a4")
        return {"role": role, "state": printer.health().state}

    @app.get("/api/history")
    def history(operator: Session) -> dict[str, Any]:
        offset = office_utc_offset_s(agent.config)
        zone = timezone(timedelta(seconds=offset))
        now = datetime.fromtimestamp(agent.trusted_now_s(), tz=zone)
        midnight = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
        names = {o.operator_id: o.name for o in agent.operators.list()}
        return {"utc_offset_s": offset, "entries": [{
            "at_s": r.entry.at_s, "operator": r.entry.operator,
            "operator_name": names.get(r.entry.operator or "", r.entry.operator),
            "action": r.entry.action, "job_id": r.entry.job_id,
            "doc_types": list(r.entry.doc_types), "printer": r.entry.printer,
            "outcome": r.entry.outcome, "reason": r.entry.reason, "old": r.entry.old,
            "new": r.entry.new,
        } for r in audit.since(midnight)]}  # fmt: skip

    # --- settings (supervisor) --------------------------------------------------------

    @app.post("/api/settings/unlock")
    def unlock(body: PinBody, operator: Session) -> dict[str, Any]:
        checked = check_pin(operator.operator_id, body.pin, action="settings")
        if not checked.is_supervisor:
            audit.record("settings", "refused", operator=operator.operator_id,
                         reason="not_supervisor")  # fmt: skip
            raise staff_error("not_supervisor")
        return {"settings_ticket": creds.settings.issue(operator.operator_id)}

    def settings_view() -> dict[str, Any]:
        cfg = agent.config
        roles = {t.role.value: t.uri for t in cfg.printers}
        virtual = ["virtual"] if cfg.allow_virtual_printers else []  # folders: demo/test only
        return {
            "language": cfg.language,
            "printers": {"a4": roles.get("a4"), "receipt": roles.get("receipt")},
            "queues": _cups_queues(),
            "backends": {"a4": ["cups", *virtual], "receipt": ["escpos", *virtual]},
        }

    @app.get("/api/settings")
    def get_settings(operator: Supervisor) -> dict[str, Any]:
        return settings_view()

    @app.post("/api/settings")
    def set_settings(body: SettingsBody, operator: Supervisor) -> dict[str, Any]:
        printers: dict[PrinterRole, str | None] = {}
        if body.printers is not None:
            if body.printers.a4 is not None:
                printers[PrinterRole.A4] = body.printers.a4
            if body.printers.receipt is not None:
                printers[PrinterRole.RECEIPT] = body.printers.receipt or None
        before = agent.config
        try:
            after = agent.update_settings(language=body.language, printers=printers)
        except PrinterNotAllowedError as error:  # a folder: only in a demo or test home
            role = PrinterRole(error.field.removeprefix("printers."))
            audit.record("settings", "refused", operator=operator.operator_id,
                         printer=role.value, reason="printer_not_allowed",
                         old=_printer_uri(before, role), new=printers.get(role))  # fmt: skip
            raise staff_error("printer_not_allowed", field=error.field) from None
        except ConfigError as error:
            raise staff_error("bad_setting", field=error.field) from None
        if after.language != before.language:
            audit.record("settings", operator=operator.operator_id, reason="language")
        for role in PrinterRole:  # one record per role changed: the printer before and after
            old, new = _printer_uri(before, role), _printer_uri(after, role)
            if old != new:
                audit.record("settings", operator=operator.operator_id, printer=role.value,
                             reason="printers", old=old, new=new)  # fmt: skip
        return settings_view()

    @app.post("/api/settings/test-page")
    def test_page(body: TestPageBody, operator: Supervisor) -> dict[str, Any]:
        cfg = agent.config
        offset = office_utc_offset_s(cfg)
        when = format_time(agent.trusted_now_s(), offset)
        office = f"{cfg.office_name} ({cfg.office_code})" if cfg.office_name else cfg.office_code
        try:
            if body.role == "a4":
                printer = agent.printers.get(PrinterRole.A4)
                if printer is None:
                    raise printer_error("no_printer", "a4")
                printer.preflight()
                printer.submit(make_test_page(office=office, when=when),
                               title=f"testpage.{agent.trusted_now_s()}", copies=1,
                               ticket=PrintTicket())  # fmt: skip
            else:
                receipt_printer = agent.receipt
                if receipt_printer is None:
                    raise printer_error("no_printer", "receipt")
                receipt_printer.preflight()
                receipt_printer.print_receipt(Receipt(
                    office_name=cfg.office_name or cfg.office_code,
                    printed_at_s=agent.trusted_now_s(), utc_offset_s=offset,
                    documents=("Halaman uji / Test page",), job_ref="TEST",
                    operator=operator.name, language=_receipt_language(cfg),
                ))  # fmt: skip
        except (PrinterNotReady, PrintSubmitError) as error:
            audit.record("test_page", "refused", operator=operator.operator_id,
                         printer=body.role, reason=error.reason)  # fmt: skip
            raise printer_error(error.reason, body.role) from None
        audit.record("test_page", operator=operator.operator_id, printer=body.role)
        return {"role": body.role, "state": "submitted"}

    if static_dir is not None:
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=static_dir, html=True), name="static")
    return app


def _printer_uri(cfg: AgentConfig, role: PrinterRole) -> str | None:
    return next((t.uri for t in cfg.printers if t.role is role), None)


def _receipt_language(cfg: AgentConfig) -> Language:
    return "en" if cfg.language == "en" else "id"  # validated as one of the two


def _cups_queues() -> list[str]:
    """The local CUPS queues a supervisor may choose for the A4 role (empty without CUPS)."""
    try:
        from printers.cups import list_queues
    except ImportError:  # pycups not installed (a virtual-printer demo)
        return []
    return list_queues()


def _json(status: int, body: dict[str, Any]) -> Response:
    return JSONResponse(body, status_code=status)
