"""The *Tanda Terima* (document receipt): a pure layout, no I/O.

A receipt says which documents were handed over, where, when and by whom, with a short
job reference (printed and as a QR code) that staff can look up later. It never carries
the resident's name or NIK: :class:`Receipt` has no field for them.

Everything printed goes through :func:`ascii_safe` first. Receipt printers print bytes in
their current code page, and names arrive with typographic apostrophes (U+2019 in ``Ma'ruf``),
accents (``Ṣaḍ``) or worse; a stray ``ESC`` inside a name would even be obeyed as a
printer command. Plain ASCII prints the same on every code page of every printer.

:func:`receipt_bytes` renders the layout to ESC/POS with python-escpos's ``Dummy`` printer
(a formatting library that only collects bytes), imported lazily so this module stays
importable without the driver.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal, Protocol, cast

from kiosk.config import PrinterTarget
from kiosk.report import PrinterHealth

Language = Literal["id", "en"]
PaperStatus = Literal["ok", "near_end", "out", "unknown"]

MIN_WIDTH: Final = 24  # the longest fixed word ("TANDA TERIMA DOKUMEN") fits unbroken
MAX_WIDTH: Final = 80
_JOB_REF: Final = re.compile(r"[0-9A-Za-z_-]{1,32}")  # safe as a file name and QR payload
_MIN_OFFSET_S: Final = -12 * 3600
_MAX_OFFSET_S: Final = 14 * 3600

# Indonesia's three zones; any other offset is written as UTC+hh:mm.
_ZONES: Final = {7 * 3600: "WIB", 8 * 3600: "WITA", 9 * 3600: "WIT"}

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "id": {
        "title": "TANDA TERIMA DOKUMEN",
        "date": "Tanggal",
        "documents": "Dokumen yang diserahkan:",
        "operator": "Petugas",
        "closing": "Simpan tanda terima ini sebagai bukti penyerahan dokumen.",
        "test_title": "*** STRUK UJI / TEST ***",
        "test_closing": "Struk uji printer: BUKAN tanda terima, tidak ada dokumen diserahkan.",
    },
    "en": {
        "title": "DOCUMENT RECEIPT",
        "date": "Date",
        "documents": "Documents handed over:",
        "operator": "Officer",
        "closing": "Keep this receipt as proof of the documents handed over.",
        "test_title": "*** TEST RECEIPT ***",
        "test_closing": "A printer test: NOT a receipt, no documents were handed over.",
    },
}

# Characters NFKD leaves alone (or turns into something unhelpful) and their ASCII form.
_ASCII_MAP: Final = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035\u02b9\u02bb\u02bc\u02bd", "'"),
        **dict.fromkeys("\u02be\u02bf\u00b4\u2039\u203a\uff07", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\uff02", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58", "-"),
        "\u2026": "...",
        "\u2022": "*",
        "\u00b7": ".",
        "\u2044": "/",
        "\u00df": "ss",
        "\u1e9e": "SS",
        "\u00e6": "ae",
        "\u00c6": "AE",
        "\u0153": "oe",
        "\u0152": "OE",
        "\u00f8": "o",
        "\u00d8": "O",
        "\u0111": "d",
        "\u0110": "D",
        "\u00f0": "d",
        "\u00d0": "D",
        "\u0142": "l",
        "\u0141": "L",
        "\u0131": "i",
        "\u00fe": "th",
        "\u00de": "Th",
    }
)
# Not str.isspace(): it also counts the separators FS, GS, RS, US (0x1C..0x1F), and GS is
# an ESC/POS command byte: those are dropped like every other control character.
_WHITESPACE_CONTROLS: Final = frozenset("\t\n\v\f\r\x85")
_SPACE_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp"})
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Mn", "Me"})  # controls, format, marks


def ascii_safe(text: str) -> str:
    """``text`` as printable ASCII (0x20..0x7E), safe on any printer code page.

    Typographic quotes, apostrophes and dashes become ``'``, ``"`` and ``-``; accents are
    stripped (NFKD, then combining marks dropped: ``Ṣaḍ`` -> ``Sad``); every whitespace
    character (tab, newline, no-break space …) becomes a space; other control and format
    characters (``ESC``, ``NUL``, ``DEL``, zero-width joiners, bidi marks …) are dropped, so
    no printer command can ride in on a name; anything else (emoji, other scripts) is ``?``.
    Idempotent; it neither strips nor collapses spaces.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_MAP)).translate(_ASCII_MAP)
    out: list[str] = []
    for char in decomposed:
        if " " <= char <= "~":
            out.append(char)
        elif char in _WHITESPACE_CONTROLS or unicodedata.category(char) in _SPACE_CATEGORIES:
            out.append(" ")
        elif unicodedata.category(char) not in _DROPPED_CATEGORIES:
            out.append("?")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one *Tanda Terima* says. No resident name or NIK, by construction."""

    office_name: str  # e.g. "Kantor Desa Bontomarannu"
    printed_at_s: int  # Unix seconds
    utc_offset_s: int  # the office's offset from UTC, e.g. WITA = 28800
    documents: tuple[str, ...]  # titles handed over, e.g. ("Kartu Keluarga", "Akta Kelahiran")
    job_ref: str  # short job reference as given, e.g. the job id's last 8 chars, uppercase
    operator: str  # the staff member who handed the documents over
    language: Language  # "id" (Bahasa Indonesia) or "en"
    test: bool = False  # a printer test from the settings: marked TEST, top and bottom

    def __post_init__(self) -> None:
        for name in ("office_name", "operator"):
            if not ascii_safe(getattr(self, name)).strip():
                raise ValueError(f"receipt {name} is empty")
        if not isinstance(self.documents, tuple) or not self.documents:
            raise ValueError("receipt documents must be a non-empty tuple")
        if not all(isinstance(d, str) and ascii_safe(d).strip() for d in self.documents):
            raise ValueError("receipt document titles must be non-empty strings")
        if not _JOB_REF.fullmatch(self.job_ref):
            raise ValueError("receipt job_ref must be 1..32 of [0-9A-Za-z_-]")
        if isinstance(self.printed_at_s, bool) or self.printed_at_s < 0:
            raise ValueError("receipt printed_at_s must be a non-negative integer")
        if not _MIN_OFFSET_S <= self.utc_offset_s <= _MAX_OFFSET_S:
            raise ValueError("receipt utc_offset_s must be between -12 h and +14 h")
        if self.language not in _TEXTS:
            raise ValueError("receipt language must be 'id' or 'en'")


class ReceiptPrinter(Protocol):
    """The ``receipt`` role: ESC/POS (:mod:`printers.escpos`) or a folder
    (:mod:`printers.virtual_receipt`)."""

    @property
    def target(self) -> PrinterTarget: ...
    def health(self) -> PrinterHealth: ...
    def preflight(self) -> None:
        """Raise :class:`printers.base.PrinterNotReadyError` (``offline``, ``media_empty`` …)."""

    def paper_status(self) -> PaperStatus: ...
    def print_receipt(self, receipt: Receipt) -> None:
        """Print ``receipt``; raise :class:`printers.base.PrintSubmitError` when it could
        not be sent."""


def zone_label(utc_offset_s: int) -> str:
    """``WIB`` / ``WITA`` / ``WIT`` for Indonesia's zones, else ``UTC+hh:mm``."""
    if utc_offset_s in _ZONES:
        return _ZONES[utc_offset_s]
    sign = "-" if utc_offset_s < 0 else "+"
    hours, rest = divmod(abs(utc_offset_s), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def format_time(printed_at_s: int, utc_offset_s: int) -> str:
    """``dd-mm-yyyy HH:MM ZONE`` in the office's local time."""
    zone = timezone(timedelta(seconds=utc_offset_s)) if utc_offset_s else UTC
    local = datetime.fromtimestamp(printed_at_s, tz=zone)
    return f"{local:%d-%m-%Y %H:%M} {zone_label(utc_offset_s)}"


def _clean(text: str) -> str:
    """ASCII, with runs of whitespace collapsed to one space and the ends trimmed."""
    return " ".join(ascii_safe(text).split())


def _wrap(text: str, width: int, *, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text, width, initial_indent=first, subsequent_indent=rest, break_long_words=True
    )


def _layout(r: Receipt, width: int) -> list[tuple[str, bool]]:
    """(line, is_title) pairs; every line ASCII and at most ``width`` characters."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"receipt width must be {MIN_WIDTH}..{MAX_WIDTH} columns")
    t = _TEXTS[r.language]
    rule = "-" * width
    title = t["test_title"] if r.test else t["title"]
    lines: list[tuple[str, bool]] = [(x.center(width).rstrip(), True) for x in _wrap(title, width)]
    lines += [(x.center(width).rstrip(), False) for x in _wrap(_clean(r.office_name), width)]
    lines.append((rule, False))
    date_label = f"{t['date']}: "
    when = format_time(r.printed_at_s, r.utc_offset_s)
    lines += [(x, False) for x in _wrap(when, width, first=date_label, rest="  ")]
    lines.append((t["documents"], False))
    number_width = len(str(len(r.documents)))
    for n, title in enumerate(r.documents, start=1):
        first = f" {n:>{number_width}}. "
        lines += [
            (x, False) for x in _wrap(_clean(title), width, first=first, rest=" " * len(first))
        ]
    lines.append((f"Ref: {r.job_ref}", False))
    operator_label = f"{t['operator']}: "
    lines += [
        (x, False)
        for x in _wrap(
            _clean(r.operator), width, first=operator_label, rest=" " * len(operator_label)
        )
    ]
    lines.append((rule, False))
    lines += [(x, False) for x in _wrap(t["test_closing" if r.test else "closing"], width)]
    if r.test:
        lines += [(x.center(width).rstrip(), True) for x in _wrap(t["test_title"], width)]
    return [(ascii_safe(line), title) for line, title in lines]


def receipt_lines(r: Receipt, *, width: int = 32) -> list[str]:
    """The receipt as text lines, word-wrapped to ``width`` columns (32 on 58 mm paper,
    48 on 80 mm), each ASCII (:func:`ascii_safe`) and at most ``width`` long.

    Raises:
        ValueError: ``width`` outside 24..80.
    """
    return [line for line, _ in _layout(r, width)]


def receipt_bytes(r: Receipt, *, width: int = 32) -> bytes:
    """The receipt as one ESC/POS byte stream: ``ESC @`` (init), the lines of
    :func:`receipt_lines` (the title bold and double height), a native QR code of
    ``job_ref`` (``GS ( k``), centred with ``ESC a``, then feed and cut (``GS V``).

    Raises:
        ValueError: ``width`` outside 24..80.
    """
    layout = _layout(r, width)
    from escpos.constants import QR_ECLEVEL_M
    from escpos.printer import Dummy

    dummy = Dummy()
    dummy.hw("INIT")
    for line, is_title in layout:
        if is_title:
            dummy.set(bold=True, double_height=True)
            dummy.textln(line)
            dummy.set(bold=False, normal_textsize=True)
        else:
            dummy.textln(line)
    dummy.ln()
    # qr(native=True, center=True) raises NotImplementedError: centre with ESC a instead.
    dummy.set(align="center")
    dummy.qr(r.job_ref, native=True, size=6, ec=QR_ECLEVEL_M)
    dummy.set(align="left")
    dummy.cut()
    return cast(bytes, dummy.output)
