"""``cedoka doctor``'s output: the checks as JSON (:func:`to_json`, for ``--json``) or as
text for a person (:func:`render_text`, Indonesian first, English second)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kiosk.doctor.model import Check, Status, exit_code

LABELS: Final = {Status.OK: " OK ", Status.WARN: "AWAS", Status.FAIL: "GAGAL", Status.SKIP: "LEWAT"}


def to_json(checks: Sequence[Check]) -> dict[str, object]:
    """``{"ok": bool, "checks": [{"id", "status", "id_text", "en_text", "fix_id", "fix_en"}]}``"""
    return {
        "ok": exit_code(checks) == 0,
        "checks": [
            {"id": c.check_id, "status": c.status.value, "id_text": c.text_id,
             "en_text": c.text_en, "fix_id": c.fix_id, "fix_en": c.fix_en}
            for c in checks
        ],
    }  # fmt: skip


TITLES: Final = {
    "state_dir": ("Folder data", "State folder"),
    "enrolment": ("Pendaftaran", "Enrolment"),
    "trust": ("Data kepercayaan", "Trust state"),
    "server": ("Server kabupaten", "District server"),
    "tls": ("Sertifikat server", "Server certificate"),
    "clock": ("Jam komputer", "Clock"),
    "disk": ("Ruang disk", "Disk space"),
    "spool": ("Basis data antrean", "Spool database"),
    "printers": ("Printer", "Printers"),
    "printer_a4": ("Printer A4", "A4 printer"),
    "printer_receipt": ("Printer struk", "Receipt printer"),
    "cups_preserve": ("Salinan dokumen di CUPS", "Document copies in CUPS"),
}


def render_text(checks: Sequence[Check], *, home: str, version: str = "") -> str:
    """One block per check, then a summary line (Indonesian first, English second)."""
    lines = [f"cedoka doctor{' ' + version if version else ''} — {home}", ""]
    pad = " " * 8
    for c in checks:
        title = TITLES.get(c.check_id)
        named = f"{c.check_id} — {title[0]} / {title[1]}" if title else c.check_id
        lines.append(f"{'[' + LABELS[c.status] + ']':<8}{named}")
        lines += [f"{pad}id: {c.text_id}", f"{pad}en: {c.text_en}"]
        if c.status in (Status.FAIL, Status.WARN) and (c.fix_id or c.fix_en):
            if c.fix_id == c.fix_en:
                lines.append(f"{pad}Perbaiki / Fix: {c.fix_id}")
            else:
                lines += [f"{pad}Perbaiki / Fix:", f"{pad}  id: {c.fix_id}",
                          f"{pad}  en: {c.fix_en}"]  # fmt: skip
    counts = {s: sum(1 for c in checks if c.status is s) for s in Status}
    lines += [
        "",
        f"Ringkasan / Summary: {counts[Status.OK]} OK, {counts[Status.WARN]} AWAS/warning, "
        f"{counts[Status.FAIL]} GAGAL/failed, {counts[Status.SKIP]} LEWAT/skipped.",
    ]
    if counts[Status.FAIL]:
        lines.append("Ada masalah yang harus diperbaiki (GAGAL). / Some checks failed (GAGAL): "
                     "fix them.")  # fmt: skip
    elif counts[Status.WARN]:
        lines.append("Kiosk bisa bekerja; perhatikan peringatan (AWAS). / The kiosk can work; "
                     "mind the warnings (AWAS).")  # fmt: skip
    else:
        lines.append("Semua baik. / All good.")
    return "\n".join(lines)
