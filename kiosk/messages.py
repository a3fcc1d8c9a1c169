"""Human messages for every rejection reason: Bahasa Indonesia first, English second.

Village staff are not IT people: a message says what happened and what to do, without
jargon. The kiosk screen shows ``text(reason, "id")``; logs keep the machine-readable
``Reason`` value. Every ``Reason`` has an entry (a test enforces it).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from kiosk.errors import Reason

_R = Reason
_FORGED = (
    "Data dari kabupaten tidak lolos pemeriksaan keamanan dan tidak akan dicetak. "
    "Hubungi Disdukcapil.",
    "Data from the district failed a security check and will not be printed. Contact Disdukcapil.",
)
_BROKEN = (
    "Data dari kabupaten rusak atau tidak lengkap dan tidak akan dicetak. "
    "Sistem akan meminta ulang.",
    "Data from the district is damaged or incomplete and will not be printed. "
    "It will be requested again.",
)

MESSAGES: Final = MappingProxyType(
    {
        _R.TOO_LARGE: _BROKEN,
        _R.MALFORMED: _BROKEN,
        _R.DUPLICATE_KEY: _FORGED,
        _R.BAD_TYPE: _BROKEN,
        _R.UNSUPPORTED_VERSION: (
            "Versi aplikasi ini terlalu lama untuk data ini. "
            "Minta petugas IT kabupaten memperbarui.",
            "This version of the application is too old for this data. Ask district IT to update.",
        ),
        _R.BAD_ALG: _FORGED,
        _R.MISSING_KID: _FORGED,
        _R.UNKNOWN_KID: _FORGED,
        _R.BAD_TYP: _FORGED,
        _R.BAD_CRIT: _FORGED,
        _R.FORBIDDEN_HEADER: _FORGED,
        _R.BAD_SIGNATURE: _FORGED,
        _R.KEY_NOT_VALID: _FORGED,
        _R.WRONG_ISSUER: _FORGED,
        _R.WRONG_AUDIENCE: (
            "Dokumen ini dikirim untuk kantor desa lain dan tidak dicetak di sini.",
            "This document was sent to another village office and is not printed here.",
        ),
        _R.EXPIRED: (
            "Masa berlaku pencetakan dokumen ini sudah habis. Warga perlu mengajukan ulang.",
            "This document's printing period has ended. The resident needs to apply again.",
        ),
        _R.ISSUED_IN_FUTURE: (
            "Jam komputer ini tidak tepat. Perbaiki tanggal dan jam, lalu coba lagi.",
            "This computer's clock is wrong. Correct the date and time, then try again.",
        ),
        _R.LIFETIME_TOO_LONG: _FORGED,
        _R.BAD_CLAIM: _BROKEN,
        _R.REPLAYED: (
            "Dokumen ini sudah pernah diterima. Tidak dicetak dua kali.",
            "This document was received before. It is not printed twice.",
        ),
        _R.CANCELLED: (
            "Pencetakan dokumen ini dibatalkan oleh Disdukcapil.",
            "Printing of this document was cancelled by Disdukcapil.",
        ),
        _R.SEQ_BEYOND_HEAD: _BROKEN,
        _R.NOT_PRINTABLE_AT_VILLAGE: (
            "KTP-el dan KIA tidak bisa dicetak di kantor desa (perlu blangko khusus). "
            "Diantar kurir atau diambil di Disdukcapil.",
            "KTP-el and KIA cards cannot be printed at the village office (they need special "
            "blanks). They come by courier or are collected at Disdukcapil.",
        ),
        _R.HEAD_ROLLBACK: _FORGED,
        _R.HEAD_REPLAYED: _FORGED,
        _R.HEAD_EXPIRED: (
            "Belum ada konfirmasi dari kabupaten sejak terakhir tersambung. Dokumen yang sudah "
            "diterima tetap bisa dicetak.",
            "No confirmation from the district since the last connection. Documents already "
            "received can still be printed.",
        ),
        _R.KEYRING_ROLLBACK: _FORGED,
        _R.ROOT_MISMATCH: (
            "Kode pendaftaran tidak cocok dengan server kabupaten. Periksa alamat server dan kode.",
            "The enrolment code does not match the district server. Check the server address "
            "and the code.",
        ),
        _R.UNKNOWN_DEVICE: (
            "Komputer ini belum terdaftar di kabupaten. Daftarkan ulang.",
            "This computer is not registered with the district. Enrol it again.",
        ),
        _R.DEVICE_REVOKED: (
            "Komputer ini dicabut oleh kabupaten. Perlu pendaftaran ulang oleh petugas IT.",
            "This computer was revoked by the district. District IT must enrol it again.",
        ),
        _R.REQUEST_MISMATCH: _FORGED,
        _R.BODY_MISMATCH: _FORGED,
        _R.ENROLL_CODE_MALFORMED: (
            "Kode pendaftaran tidak lengkap atau salah ketik. Periksa lagi (35 huruf/angka).",
            "The enrolment code is incomplete or mistyped. Check it again (35 characters).",
        ),
        _R.ENROLL_CODE_INVALID: (
            "Kode pendaftaran tidak berlaku (salah, sudah dipakai, atau kedaluwarsa). "
            "Minta kode baru ke kabupaten.",
            "The enrolment code is not valid (wrong, used, or expired). Ask the district for a "
            "new one.",
        ),
        _R.ENROLL_MAC_INVALID: (
            "Kode pendaftaran tidak cocok. Periksa kode atau minta kode baru.",
            "The enrolment code does not match. Check it or ask for a new one.",
        ),
        _R.SIZE_MISMATCH: _BROKEN,
        _R.HASH_MISMATCH: _BROKEN,
        _R.OPEN_FAILED: _FORGED,
        _R.NOT_PDF: _BROKEN,
        _R.PDF_INVALID: _BROKEN,
        _R.BLOB_NOT_FOUND: (
            "Dokumen ini tidak ditemukan di server kabupaten dan tidak akan dicetak. "
            "Hubungi Disdukcapil.",
            "This document was not found on the district server and will not be printed. "
            "Contact Disdukcapil.",
        ),
        _R.CLAIM_MALFORMED: (
            "Kode pengambilan salah ketik. Periksa lagi 12 angka dari pesan WhatsApp.",
            "The claim code is mistyped. Check the 12 digits from the WhatsApp message again.",
        ),
        _R.CLAIM_WRONG: (
            "Kode pengambilan tidak cocok dengan dokumen yang menunggu di sini.",
            "The claim code does not match any document waiting here.",
        ),
        _R.CLAIM_LOCKED: (
            "Terlalu banyak kode salah. Pengambilan dikunci sementara; coba lagi nanti.",
            "Too many wrong codes. Release is locked for a while; try again later.",
        ),
        _R.CLAIM_USED: (
            "Kode sudah dipakai: dokumennya sudah dicetak atau sudah diserahkan. "
            "Lihat antrean dan riwayat hari ini.",
            "This code was used already: its documents were printed or handed over. "
            "See the queue and today's history.",
        ),
        _R.CLAIM_CANCELLED: (
            "Kode ini untuk dokumen yang dibatalkan oleh Disdukcapil. Tidak ada yang dicetak.",
            "This code is for documents Disdukcapil cancelled. Nothing is printed.",
        ),
        _R.CLAIM_EXPIRED: (
            "Masa berlaku kode ini sudah habis; dokumennya tidak dicetak. "
            "Warga perlu mengajukan ulang.",
            "This code's printing period has ended; its documents were not printed. "
            "The resident needs to apply again.",
        ),
    }
)


def text(reason: Reason, language: str = "id") -> str:
    """The message for ``reason`` in ``language`` ("id" or "en")."""
    indonesian, english = MESSAGES[reason]
    return english if language == "en" else indonesian


# What the printer pre-flight check says, by ``PrinterNotReadyError.reason`` (printers/base.py):
# what is wrong and what to do, shown *before* anything is printed.
PRINTER_MESSAGES: Final = MappingProxyType(
    {
        "offline": (
            "Printer tidak menyala atau tidak tersambung — nyalakan printer, periksa kabel, "
            "lalu tekan Coba lagi.",
            "The printer is off or not connected — switch it on, check the cable, then press "
            "Try again.",
        ),
        "stopped": (
            "Antrean printer dihentikan — tekan Aktifkan printer, lalu Coba lagi.",
            "The printer queue is stopped — press Enable printer, then Try again.",
        ),
        "not_accepting": (
            "Printer tidak menerima cetakan baru — tekan Aktifkan printer, lalu Coba lagi.",
            "The printer refuses new jobs — press Enable printer, then Try again.",
        ),
        "media_empty": (
            "Kertas habis — isi kertas A4 lalu tekan Coba lagi.",
            "Out of paper — load A4 paper, then press Try again.",
        ),
        "media_not_a4": (
            "Kertas di printer bukan A4 (mungkin F4/Folio) — ganti dengan kertas A4 lalu tekan "
            "Coba lagi.",
            "The paper loaded is not A4 (maybe F4/Folio) — load A4 paper, then press Try again.",
        ),
        "no_queue": (
            "Printer belum diatur di komputer ini — hubungi petugas IT kabupaten.",
            "This printer is not set up on this PC — call the district IT staff.",
        ),
        "cups_unavailable": (
            "Layanan cetak komputer tidak berjalan — nyalakan ulang komputer; jika tetap, "
            "hubungi petugas IT kabupaten.",
            "The PC's print service is not running — restart the PC; if it persists, call the "
            "district IT staff.",
        ),
        "cups_missing": (
            "CUPS tidak terpasang di komputer ini — printer A4 tidak bisa dipakai. Hubungi "
            "petugas IT kabupaten.",
            "CUPS is not installed on this PC — the A4 printer cannot be used. Call the "
            "district IT staff.",
        ),
        "escpos_missing": (
            "Program printer struk tidak terpasang di komputer ini — hubungi petugas IT kabupaten.",
            "The receipt printer program is not installed on this PC — call the district IT staff.",
        ),
        "no_printer": (
            "Belum ada printer untuk dokumen ini — hubungi petugas IT kabupaten.",
            "No printer is set up for this document — call the district IT staff.",
        ),
        "busy": (
            "Printer sedang mencetak dokumen lain — dokumen ini menunggu giliran dan dicetak "
            "otomatis sesudahnya.",
            "The printer is printing another job — this one waits its turn and prints by "
            "itself right after it.",
        ),
    }
)

# A job released while the printer is stuck on another one (agent.dispatch.PrinterBusyError
# with the printer's reason): said before the printer's own message.
STUCK_ON_ANOTHER: Final = (
    "Printer tertahan pada dokumen lain; dokumen ini sudah siap dan akan dicetak otomatis "
    "setelah printer jalan lagi.",
    "The printer is stuck on another job; this one is released and prints by itself once "
    "the printer runs again.",
)


def printer_text(reason: str, language: str = "id") -> str:
    """The pre-flight message for a printer ``reason``; a generic one for an unknown code."""
    indonesian, english = PRINTER_MESSAGES.get(
        reason,
        ("Printer belum siap — periksa printer lalu tekan Coba lagi.",
         "The printer is not ready — check it, then press Try again."),
    )  # fmt: skip
    return english if language == "en" else indonesian


def busy_text(reason: str, language: str = "id") -> str:
    """What to say when the printer is on another job: ``busy`` (it is coming out), or the
    printer's ``reason`` why that job is stuck, after :data:`STUCK_ON_ANOTHER`."""
    if reason == "busy":
        return printer_text(reason, language)
    stuck = STUCK_ON_ANOTHER[1] if language == "en" else STUCK_ON_ANOTHER[0]
    return f"{stuck} {printer_text(reason, language)}"
