"""The JSON the screens read: the desk's typed results (:mod:`agent.desk`) as the
dictionaries of docs/kiosk-api.md. Serialization only; no rule and no I/O here."""

from __future__ import annotations

from typing import Any

from agent.desk_model import HandedOver, History, JobView, KioskState, Printed, SettingsView
from agent.operators import Operator
from kiosk.messages import busy_text, printer_text

# The receipt printer failed after a hand-over: the screen says so, the job is done.
RECEIPT_FAILED = ("Struk tidak tercetak — dokumen tetap sah.",
                  "The receipt did not print — the documents are still valid.")  # fmt: skip


def operator_json(operator: Operator) -> dict[str, str]:
    return {"id": operator.operator_id, "name": operator.name, "role": operator.role}


def job_json(view: JobView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "job_id": view.job_id, "state": view.state.value, "release": view.release,
        "received_s": view.received_s, "updated_s": view.updated_s, "reason": view.reason,
        "reprints": view.reprints, "actions": list(view.actions), "held_up": None,
        "district_cancelled": view.district_cancelled, "expires_s": view.expires_s,
    }  # fmt: skip
    if view.held_up is not None:  # the printer's words: what is wrong and what to do
        text = busy_text if view.behind else printer_text
        out["held_up"] = {"code": view.held_up, "behind": view.behind,
                          "message_id": text(view.held_up, "id"),
                          "message_en": text(view.held_up, "en")}  # fmt: skip
    if view.documents is not None:
        out["resident_masked"] = view.resident_masked
        out["documents"] = [
            {"idx": d.idx, "type": d.doc_type, "title": d.title, "copies": d.copies,
             "print": d.print, "pages": d.pages, "sheets": d.sheets}
            for d in view.documents
        ]  # fmt: skip
    return out


def printed_json(result: Printed) -> dict[str, Any]:
    return {"job_id": result.job_id, "state": result.state.value}


def handed_over_json(result: HandedOver) -> dict[str, Any]:
    out: dict[str, Any] = {"job_id": result.job_id, "state": result.state.value,
                           "receipt": result.receipt}  # fmt: skip
    if result.receipt_error is not None:
        out["receipt_error"] = {"code": result.receipt_error, "message_id": RECEIPT_FAILED[0],
                                "message_en": RECEIPT_FAILED[1]}  # fmt: skip
    return out


def state_json(state: KioskState, operator: Operator | None) -> dict[str, Any]:
    seen, cfg = state.link.freshness, state.config
    link = {"last_ok_s": state.link.last_ok_s, "error": state.link.error,
            "revoked": state.link.revoked, "head_refused": seen.refused, "frozen": seen.frozen,
            "confirmed_s": seen.confirmed_s,
            "confirmed_until_s": seen.confirmed_until_s}  # fmt: skip
    printers = [
        {"role": h.role, "backend": h.backend, "state": h.state, "accepting": h.accepting,
         "reasons": list(h.reasons), "media": h.media,
         "markers": [{"name": m.name, "level": m.level} for m in h.markers]}
        for h in state.printers
    ]  # fmt: skip
    return {"language": cfg.language, "office_code": cfg.office_code,
            "utc_offset_s": state.utc_offset_s, "office_name": cfg.office_name,
            "now_s": state.now_s, "link": link, "frozen": seen.frozen, "printers": printers,
            "counts": state.counts,
            "operator": None if operator is None else operator_json(operator)}  # fmt: skip


def settings_json(view: SettingsView) -> dict[str, Any]:
    return {"language": view.language, "printers": dict(view.printers),
            "queues": list(view.queues),
            "backends": {role: list(names) for role, names in view.backends.items()},
            "missing": [{"code": code, "message_id": printer_text(code, "id"),
                         "message_en": printer_text(code, "en")}
                        for code in view.missing],
            "receipt_choices": [{"uri": p.uri, "label": p.label, "source": p.source}
                                for p in view.receipt_choices]}  # fmt: skip


def history_json(history: History) -> dict[str, Any]:
    return {"utc_offset_s": history.utc_offset_s, "entries": [{
        "at_s": e.entry.at_s, "operator": e.entry.operator, "operator_name": e.operator_name,
        "action": e.entry.action, "job_id": e.entry.job_id,
        "doc_types": list(e.entry.doc_types), "printer": e.entry.printer,
        "outcome": e.entry.outcome, "reason": e.entry.reason, "old": e.entry.old,
        "new": e.entry.new,
    } for e in history.entries]}  # fmt: skip
