"""``cedoka doctor``'s checks of printing: each role's printer (``printer_a4``,
``printer_receipt``: the pre-flight verdict and the health report) and whether CUPS keeps
copies of printed documents (``cups_preserve``, read from cupsd.conf by
:func:`preserve_job_files`)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Final

from kiosk.doctor.model import RANK, Check, Pair, Status, check, join
from kiosk.report import PrinterHealth

# --- 9. printers ---------------------------------------------------------------------------

# The IPP printer-state-reasons keywords (by prefix: "toner-low-warning" may come back as
# "toner-low-report") and the problem each one means.
_REASON_PROBLEMS: Final = (
    (("media-empty", "media-needed"), "media_empty"),
    (("media-jam", "paper-jam", "jam"), "jam"),
    (("cover-open", "door-open", "interlock-open"), "cover_open"),
    (("toner-empty", "marker-supply-empty", "marker-ink-empty"), "supply_empty"),
    (("toner-low", "marker-supply-low", "marker-ink-almost-empty", "marker-waste-almost-full"),
     "supply_low"),
    (("media-low",), "media_low"),
    (("offline", "shutdown"), "offline"),
    (("paused",), "stopped"),
    (("cups-unavailable",), "cups_unavailable"),
)  # fmt: skip
MARKER_LOW_PERCENT: Final = 10
A4_MEDIA: Final = "iso_a4_210x297mm"
# The pre-flight codes (printers.base.PrinterNotReadyError.reason) that mean "cannot print now".
_PREFLIGHT_FAIL: Final = frozenset({"cups_missing", "escpos_missing", "cups_unavailable",
                                    "no_queue", "offline", "stopped", "not_accepting",
                                    "media_empty"})  # fmt: skip
# Nothing else is known of a printer without its driver or its queue.
_PREFLIGHT_ONLY: Final = frozenset({"cups_missing", "escpos_missing", "cups_unavailable",
                                    "no_queue"})  # fmt: skip
_INSTALL_PRINTERS: Final = ("sudo ./install.sh (or, in a development tree: .venv/bin/pip "
                            "install -e '.[printers]')")  # fmt: skip


@dataclass(frozen=True, slots=True)
class PrinterFacts:
    role: str  # "a4" | "receipt"
    uri: str  # as configured, e.g. "cups:Epson_L3210"
    backend: str
    health: PrinterHealth | None = None
    preflight: str | None = None  # the pre-flight refusal's reason, None when ready
    unusable: str = ""  # the adapter could not be built (the error)
    queue: str = ""  # the CUPS queue name, for a CUPS-backed role


def _printer_problem(code: str, f: PrinterFacts, *, command: str, extra: str = "") -> tuple[
    Status, Pair, Pair
]:  # fmt: skip
    q = shlex.quote(f.queue) if f.queue else ""
    enable = (f" atau: cupsenable {q}", f" or: cupsenable {q}") if q else ("", "")
    accept = (f" atau: cupsaccept {q}", f" or: cupsaccept {q}") if q else ("", "")
    paper = (
        ("kertas A4", "A4 paper")
        if f.role == "a4"
        else ("gulungan kertas struk", "a receipt paper roll")
    )
    fail, warn = Status.FAIL, Status.WARN
    table: dict[str, tuple[Status, Pair, Pair]] = {
        "cups_missing": (fail, ("CUPS tidak terpasang: program pycups (extra printers) tidak "
                                "ada di instalasi ini.",
                                "CUPS is not installed: pycups (the printers extra) is not in "
                                "this installation."),
                         (f"Pasang extra printers: {_INSTALL_PRINTERS}.",
                          f"Install the printers extra: {_INSTALL_PRINTERS}.")),
        "escpos_missing": (fail, ("Program printer struk (python-escpos, extra printers) tidak "
                                  "terpasang.",
                                  "The receipt printer driver (python-escpos, the printers "
                                  "extra) is not installed."),
                           (f"Pasang extra printers: {_INSTALL_PRINTERS}.",
                            f"Install the printers extra: {_INSTALL_PRINTERS}.")),
        "cups_unavailable": (fail, ("Layanan cetak komputer (CUPS) tidak berjalan.",
                                    "The computer's print service (CUPS) is not running."),
                             ("Nyalakan layanan cetak: sudo systemctl restart cups (atau nyalakan "
                              "ulang komputer).",
                              "Start the print service: sudo systemctl restart cups (or restart "
                              "the computer).")),
        "no_queue": (fail, (f"Layanan cetak tidak punya antrean printer bernama {f.queue}.",
                            f"The print service has no printer queue named {f.queue}."),
                     (f"Pasang printer itu di CUPS, atau pilih antrean yang ada di Pengaturan "
                      f"kiosk ('{command} printers' menampilkan daftarnya).",
                      f"Add the printer in CUPS, or choose an existing queue in the kiosk "
                      f"settings ('{command} printers' lists them).")),
        "offline": (fail, ("Printer tidak menyala atau tidak tersambung.",
                           "The printer is off or not connected."),
                    ("Nyalakan printer dan periksa kabelnya.",
                     "Switch the printer on and check its cable.")),
        "stopped": (fail, ("Antrean printer dihentikan.", "The printer queue is stopped."),
                    ("Tekan Aktifkan printer di layar kiosk" + enable[0] + ".",
                     "Press Enable printer on the kiosk screen" + enable[1] + ".")),
        "not_accepting": (fail, ("Printer menolak pekerjaan baru.",
                                 "The printer refuses new jobs."),
                          ("Tekan Aktifkan printer di layar kiosk" + accept[0] + ".",
                           "Press Enable printer on the kiosk screen" + accept[1] + ".")),
        "media_empty": (fail, ("Kertas habis.", "Out of paper."),
                        (f"Isi {paper[0]}.", f"Load {paper[1]}.")),
        "jam": (fail, ("Kertas macet.", "Paper jam."),
                ("Buka printer dan keluarkan kertas yang macet dengan hati-hati.",
                 "Open the printer and carefully take out the jammed paper.")),
        "cover_open": (fail, ("Tutup printer terbuka.", "A printer cover is open."),
                       ("Tutup printer.", "Close the cover.")),
        "supply_empty": (fail, ("Tinta atau toner habis.", "Ink or toner is empty."),
                         ("Isi tinta atau ganti toner.", "Refill the ink or replace the toner.")),
        "supply_low": (warn, (f"Tinta atau toner hampir habis{extra}.",
                              f"Ink or toner is low{extra}."),
                       ("Siapkan tinta atau toner pengganti.", "Get ink or toner ready.")),
        "media_low": (warn, ("Kertas hampir habis.", "Paper is running low."),
                      (f"Siapkan {paper[0]}.", f"Get {paper[1]} ready.")),
        "media_not_a4": (warn, (f"Kertas di printer bukan A4{extra} (mungkin F4/Folio); dokumen "
                                "harus dicetak di kertas A4.",
                                f"The paper loaded is not A4{extra} (maybe F4/Folio); documents "
                                "must be printed on A4."),
                         ("Ganti dengan kertas A4.", "Load A4 paper.")),
        "printer_error": (fail, (f"Printer melaporkan masalah{extra}.",
                                 f"The printer reports a problem{extra}."),
                          ("Periksa layar atau lampu printer dan buku petunjuknya.",
                           "Check the printer's display or lights and its manual.")),
        "printer_warning": (warn, (f"Printer memberi peringatan{extra}.",
                                   f"The printer gives a warning{extra}."),
                            ("Periksa layar atau lampu printer dan buku petunjuknya.",
                             "Check the printer's display or lights and its manual.")),
    }  # fmt: skip
    return table[code]


def _problems_of(f: PrinterFacts) -> dict[str, str]:
    """Problem code → extra detail, from the pre-flight verdict and the health report."""
    found: dict[str, str] = {}
    if f.preflight in _PREFLIGHT_FAIL:
        found[f.preflight] = ""
        if f.preflight in _PREFLIGHT_ONLY:
            return found  # nothing else is known without the driver or the queue
    elif f.preflight == "media_not_a4":
        media = f.health.media if f.health and f.health.media else ""
        found["media_not_a4"] = f": {media}" if media else ""
    elif f.preflight:
        found["printer_error"] = f": {f.preflight}"
    h = f.health
    if h is None:
        return found
    if h.state in ("offline", "stopped"):
        found.setdefault(h.state, "")
    if not h.accepting and h.state != "offline":
        found.setdefault("not_accepting", "")
    for reason in h.reasons:
        code = next((c for prefixes, c in _REASON_PROBLEMS
                     if any(reason.startswith(p) for p in prefixes)), None)  # fmt: skip
        if code is None and reason.endswith("-error"):
            code = "printer_error"
        elif code is None and reason.endswith("-warning"):
            code = "printer_warning"
        if code in ("printer_error", "printer_warning"):
            kept = found.get(code, "")
            found[code] = f"{kept}, {reason}" if kept else f": {reason}"
        elif code is not None:
            found.setdefault(code, "")
    low = [f"{m.name} {m.level}%" for m in h.markers if 0 <= m.level <= MARKER_LOW_PERCENT]
    if low:
        found["supply_low"] = f" ({', '.join(low)})"
    if f.role == "a4" and h.media and h.media != A4_MEDIA:
        found.setdefault("media_not_a4", f": {h.media}")
    return found


def judge_printer(f: PrinterFacts, *, command: str) -> Check:
    """A role's printer: the pre-flight verdict the kiosk would give before printing, and the
    health the heartbeat reports (jam, cover, supplies, paper, the loaded media)."""
    check_id = f"printer_{f.role}"
    role = ("Printer A4", "A4 printer") if f.role == "a4" else ("Printer struk", "Receipt printer")
    head = (f"{role[0]} ({f.uri}): ", f"{role[1]} ({f.uri}): ")
    if f.unusable:
        return check(check_id, Status.FAIL, (
            f"{head[0]}tidak bisa dipakai: {f.unusable}.",
            f"{head[1]}cannot be used: {f.unusable}.",
        ), ("Pilih printer lain di Pengaturan kiosk.", "Choose another printer in the kiosk "
            "settings."))  # fmt: skip
    problems = _problems_of(f)
    if not problems:
        state = f.health.state if f.health else "?"
        test = (" Ini printer uji: menulis ke folder.", " This is a test printer: it writes into "
                "a folder.") if f.backend == "virtual" else ("", "")  # fmt: skip
        return check(
            check_id,
            Status.OK,
            (f"{head[0]}siap ({state}).{test[0]}", f"{head[1]}ready ({state}).{test[1]}"),
        )
    verdicts = [_printer_problem(code, f, command=command, extra=extra)
                for code, extra in problems.items()]  # fmt: skip
    status = max((v[0] for v in verdicts), key=RANK.__getitem__)
    found = join([v[1] for v in verdicts])
    fix = join([v[2] for v in verdicts])
    return check(check_id, status, (head[0] + found[0], head[1] + found[1]), fix)


# --- 10. cups_preserve ---------------------------------------------------------------------

_NO: Final = frozenset({"no", "off", "false", "disabled"})
_YES: Final = frozenset({"yes", "on", "true", "enabled"})
_TIME: Final = re.compile(r"([0-9]+(?:\.[0-9]*)?)\s*([smhdw]?)", re.IGNORECASE)


def preserve_job_files(conf: str) -> str | None:
    """The value of the last top-level ``PreserveJobFiles`` line of a cupsd.conf, or None.

    As cupsd reads the file: a ``#`` not escaped by a backslash starts a comment anywhere on
    a line; directive names are case-insensitive; lines inside ``<Location>``, ``<Policy>``
    … blocks are not server directives.
    """
    value: str | None = None
    depth = 0
    for raw in conf.splitlines():
        line = re.sub(r"(?<!\\)#.*", "", raw).strip()
        if not line:
            continue
        if line.startswith("</"):
            depth = max(0, depth - 1)
        elif line.startswith("<"):
            depth += 1
        elif depth == 0:
            name, *rest = line.split(maxsplit=1)
            if name.lower() == "preservejobfiles":
                value = rest[0] if rest else ""
    return value


def judge_cups_preserve(
    value: str | None, *, path: str, readable: bool = True, error: str = ""
) -> Check:
    """CUPS must keep no document files: ``PreserveJobFiles No`` (or a time of 0). Its
    default keeps them for a day (86400 s), so a missing line fails."""
    if not readable:
        return check("cups_preserve", Status.WARN, (
            f"Pengaturan CUPS {path} tidak bisa dibaca ({error}).",
            f"The CUPS settings {path} cannot be read ({error}).",
        ), (
            "Jalankan pemeriksaan ini sebagai root (sudo cedoka doctor), atau beri "
            "--cupsd-conf FILE.",
            "Run this check as root (sudo cedoka doctor), or give --cupsd-conf FILE.",
        ))  # fmt: skip
    fix = (f"Jalankan: sudo cupsctl PreserveJobFiles=No (atau tulis 'PreserveJobFiles No' di "
           f"{path}, lalu nyalakan ulang CUPS).",
           f"Run: sudo cupsctl PreserveJobFiles=No (or write 'PreserveJobFiles No' in {path}, "
           "then restart CUPS).")  # fmt: skip
    private = (
        "Dokumen itu berisi data pribadi warga.",
        "Those documents hold residents' personal data.",
    )
    if value is None:
        return check("cups_preserve", Status.FAIL, join([(
            f"CUPS menyimpan salinan setiap dokumen yang dicetak selama sehari "
            f"(PreserveJobFiles tidak diatur di {path}).",
            f"CUPS keeps a copy of every printed document for a day (PreserveJobFiles is not "
            f"set in {path}).",
        ), private]), fix)  # fmt: skip
    word = value.lower()
    timed = _TIME.fullmatch(value)
    if word in _NO or (timed is not None and float(timed.group(1)) == 0):
        return check("cups_preserve", Status.OK, (
            f"CUPS tidak menyimpan salinan dokumen yang dicetak (PreserveJobFiles {value} di "
            f"{path}).",
            f"CUPS keeps no copy of printed documents (PreserveJobFiles {value} in {path}).",
        ))  # fmt: skip
    return check("cups_preserve", Status.FAIL, join([(
        f"CUPS menyimpan salinan setiap dokumen yang dicetak (PreserveJobFiles {value} di "
        f"{path}).",
        f"CUPS keeps a copy of every printed document (PreserveJobFiles {value} in {path}).",
    ), private]), fix)  # fmt: skip
