"""The kiosk API's refusals: an HTTP status, a machine code, and the text the screen shows
in Bahasa Indonesia and English (``{"error": {"code", "message_id", "message_en", ...}}``)."""

from __future__ import annotations

from typing import Any

from agent.desk_model import DeskError
from kiosk.errors import CedokaError, Reason
from kiosk.messages import printer_text
from kiosk.messages import text as reason_text


class ApiError(CedokaError):
    def __init__(self, status: int, code: str, message_id: str, message_en: str,
                 **extra: Any) -> None:  # fmt: skip
        super().__init__(code)
        self.status, self.code = status, code
        self.message_id, self.message_en, self.extra = message_id, message_en, extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message_id": self.message_id,
                          "message_en": self.message_en, **self.extra}}  # fmt: skip


def reason_error(status: int, reason: Reason, **extra: Any) -> ApiError:
    return ApiError(status, reason.value, reason_text(reason, "id"), reason_text(reason, "en"),
                    **extra)  # fmt: skip


def printer_error(reason: str, role: str | None = None) -> ApiError:
    return ApiError(409, reason, printer_text(reason, "id"), printer_text(reason, "en"),
                    role=role)  # fmt: skip


# Staff-facing refusals of the operator flows (code -> (status, Indonesian, English)).
STAFF_TEXTS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "Petugas tidak dikenal.", "Unknown operator."),
    "pin_wrong": (403, "PIN salah — coba lagi.", "Wrong PIN — try again."),
    "operator_locked": (423, "Terlalu banyak PIN salah — tunggu sebentar.",
                        "Too many wrong PINs — please wait."),
    "not_supervisor": (403, "Hanya penyelia yang boleh mengubah pengaturan.",
                       "Only a supervisor may change the settings."),
    "not_allowed": (409, "Tidak bisa dilakukan sekarang.", "Not possible in this state."),
    "changed": (409, "Status berubah — muat ulang.", "The job changed meanwhile — reload."),
    "job_cancelled": (409, "Dibatalkan oleh Disdukcapil — jangan dicetak atau diserahkan.",
                      "Cancelled by Disdukcapil — do not print or hand it over."),
    "no_job": (404, "Dokumen tidak ditemukan.", "No such job."),
    "reprint_limit": (409, "Batas cetak ulang sudah tercapai — dokumen ini tidak bisa dicetak "
                      "ulang lagi. Minta kabupaten mengirim ulang dokumennya.",
                      "The reprint limit is reached — this document cannot be printed again. "
                      "Ask the district to send the document again."),
    "bad_setting": (400, "Pengaturan tidak valid.", "Invalid setting."),
    "printer_not_allowed": (403, "Printer folder (virtual) hanya untuk demo dan uji coba.",
                            "A folder (virtual) printer is only for demos and tests."),
    "operator_removed": (401, "Petugas ini sudah dihapus — sesi berakhir.",
                         "This operator was removed — the session ended."),
    "operator_disabled": (403, "Petugas ini dinonaktifkan oleh kabupaten.",
                          "This operator was disabled by the district."),
    "pin_change_required": (409, "PIN sekali pakai benar — buat PIN Anda sendiri dulu.",
                            "One-time PIN accepted — choose your own PIN first."),
    "pin_expired": (403, "PIN sekali pakai sudah kedaluwarsa — minta PIN baru ke kabupaten.",
                    "The one-time PIN has expired — ask the district for a new one."),
    "pin_same": (400, "PIN baru harus berbeda dari PIN lama.",
                 "The new PIN must differ from the old one."),
    "bad_pin": (400, "PIN harus 4 sampai 8 angka, bukan angka sama atau berurutan.",
                "A PIN is 4 to 8 digits, not one digit repeated nor a run like 1234."),
    "taken": (409, "ID petugas sudah dipakai.", "That operator id is taken."),
    "bad_id": (400, "ID petugas tidak valid.", "Invalid operator id."),
    "bad_name": (400, "Nama tidak valid.", "Invalid name."),
    "bad_role": (400, "Peran tidak valid.", "Invalid role."),
    "operator_central": (409, "Petugas ini dikelola kabupaten — hanya kabupaten yang dapat "
                         "menonaktifkannya.", "This operator is managed by the district — only "
                         "the district can disable them."),
}  # fmt: skip


def staff_error(code: str, **extra: Any) -> ApiError:
    status, message_id, message_en = STAFF_TEXTS[code]
    return ApiError(status, "not_found" if code == "no_job" else code, message_id, message_en,
                    **extra)  # fmt: skip


# A refused claim code: its HTTP status (a malformed code is a bad request, not a guess; a
# spent one opened a job that is no longer held).
CLAIM_STATUS: dict[Reason, int] = {Reason.CLAIM_LOCKED: 423, Reason.CLAIM_MALFORMED: 400,
                                   Reason.CLAIM_USED: 409, Reason.CLAIM_CANCELLED: 409,
                                   Reason.CLAIM_EXPIRED: 409}  # fmt: skip


def desk_error(error: DeskError) -> ApiError:
    """The HTTP refusal of a staff action the desk refused."""
    if error.kind == "printer":
        return printer_error(error.code, error.role)
    extra: dict[str, Any] = {"retry_after_s": error.retry_after_s} if error.retry_after_s else {}
    if error.kind == "claim":
        reason = Reason(error.code)
        if reason is Reason.CLAIM_LOCKED:
            extra = {"retry_after_s": error.retry_after_s}
        return reason_error(CLAIM_STATUS.get(reason, 403), reason, **extra)
    if error.field is not None:
        extra["field"] = error.field
    return staff_error(error.code, **extra)
