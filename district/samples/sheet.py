"""One specimen document drawn with ReportLab: A4 pages that always carry the specimen marks.

The only module that touches ReportLab (which has no type information: the boundary is typed
here). Import it only after :mod:`district.samples` has checked that ReportLab is installed.

Invariants: the page is exactly A4 (portrait, or landscape for a KK); :meth:`Sheet.finish`
draws the diagonal watermark and the bilingual footer on the page before saving, so no
specimen leaves without them; drawing happens in memory with ReportLab's ``invariant`` mode,
so the same content gives the same bytes; only the standard Helvetica fonts are used (no
font files). Text that does not fit its box is shrunk, and refused below ``MIN_FONT_PT``.
"""

from __future__ import annotations

import enum
import functools
import io
import itertools
import math
from collections.abc import Sequence
from typing import Any, Final, NamedTuple, cast

from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

MM: Final = 72 / 25.4  # points per millimetre
MARGIN_PT: Final = 12 * MM
FOOTER_Y_PT: Final = 8 * MM
MIN_FONT_PT: Final = 5.0
WATERMARK: Final = "CONTOH / SPECIMEN"
FOOTER: Final = (
    "Dokumen contoh untuk demo Cedoka — data fiktif, tidak sah. / "
    "Specimen for the Cedoka demo — fictitious data, not valid."
)
# ASCII only: a QR code's 8-bit text is read as Latin-1 by many scanners.
QR_CONTENT: Final = "CEDOKA SPECIMEN - not an official document / CONTOH - bukan dokumen resmi"
_WATERMARK_GREY, _WATERMARK_ALPHA = 0.45, 0.16
_HEADER_GREY = 0.88
_QR_QUIET_MODULES = 4  # the white margin a QR code needs around it (ISO/IEC 18004)
_LEADING = 1.2  # line height as a multiple of the font size


class Font(enum.StrEnum):
    """The standard PDF fonts used (built into every PDF reader: nothing embedded)."""

    REGULAR = "Helvetica"
    BOLD = "Helvetica-Bold"
    ITALIC = "Helvetica-Oblique"


class Align(enum.Enum):
    LEFT = "left"
    CENTRE = "centre"
    RIGHT = "right"


class Column(NamedTuple):
    """A table column: ``heading`` lines are separated by ``\\n``."""

    heading: str
    width_pt: float
    align: Align = Align.LEFT


def fitted_size(text: str, font: Font, size: float, max_width_pt: float | None) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``max_width_pt``.

    Raises:
        ValueError: it would need less than MIN_FONT_PT.
    """
    while max_width_pt is not None and _width(text, font, size) > max_width_pt:
        size -= 0.25
        if size < MIN_FONT_PT:
            raise ValueError(f"{len(text)} characters do not fit in {max_width_pt:.0f} pt")
    return size


class Sheet:
    """A one-page A4 specimen being drawn; coordinates in points from the bottom left."""

    def __init__(self, *, title: str, landscape_page: bool = False) -> None:
        self._buffer = io.BytesIO()
        size = cast(tuple[float, float], landscape(A4) if landscape_page else A4)
        self.width_pt, self.height_pt = float(size[0]), float(size[1])
        canvas: Any = Canvas(self._buffer, pagesize=size, invariant=1, pageCompression=1)
        canvas.setTitle(f"{WATERMARK}: {title}")
        canvas.setAuthor("Cedoka demo")
        canvas.setSubject(FOOTER)
        canvas.setCreator("cedoka district.samples")
        self._canvas = canvas

    def text(
        self,
        x: float,
        y: float,
        text: str,
        *,
        size: float = 9.0,
        font: Font = Font.REGULAR,
        align: Align = Align.LEFT,
        max_width_pt: float | None = None,
    ) -> None:
        """Draw one line at baseline ``y``; ``x`` is its left edge, centre or right edge.

        Raises:
            ValueError: it does not fit ``max_width_pt`` even at MIN_FONT_PT.
        """
        canvas = self._canvas
        canvas.setFont(font.value, fitted_size(text, font, size, max_width_pt))
        if align is Align.CENTRE:
            canvas.drawCentredString(x, y, text)
        elif align is Align.RIGHT:
            canvas.drawRightString(x, y, text)
        else:
            canvas.drawString(x, y, text)

    def rule(self, x0: float, y0: float, x1: float, y1: float, *, width_pt: float = 0.6) -> None:
        """A straight line."""
        self._canvas.setLineWidth(width_pt)
        self._canvas.line(x0, y0, x1, y1)

    def table(
        self,
        x: float,
        top: float,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        *,
        size: float = 7.0,
        header_height_pt: float = 20.0,
        row_height_pt: float = 14.0,
    ) -> float:
        """A ruled table with a grey heading row; returns the y of its bottom edge.

        Raises:
            ValueError: a row with the wrong number of cells, or a cell that does not fit.
        """
        canvas = self._canvas
        width = sum(c.width_pt for c in columns)
        bottom = top - header_height_pt - row_height_pt * len(rows)
        canvas.setFillGray(_HEADER_GREY)
        canvas.rect(x, top - header_height_pt, width, header_height_pt, stroke=0, fill=1)
        canvas.setFillGray(0)
        canvas.setLineWidth(0.5)
        canvas.rect(x, bottom, width, top - bottom, stroke=1, fill=0)
        for y in (top - header_height_pt - row_height_pt * i for i in range(len(rows))):
            canvas.line(x, y, x + width, y)
        left = x
        for column in columns:
            if left > x:
                canvas.line(left, top, left, bottom)
            lines = column.heading.split("\n")
            first = top - header_height_pt / 2 + (len(lines) - 1) * size * _LEADING / 2
            for i, line in enumerate(lines):
                self.text(
                    left + column.width_pt / 2, first - i * size * _LEADING - size * 0.35, line,
                    size=size, font=Font.BOLD, align=Align.CENTRE,
                    max_width_pt=column.width_pt - 4,
                )  # fmt: skip
            left += column.width_pt
        for index, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(f"row {index + 1}: {len(row)} cells for {len(columns)} columns")
            baseline = top - header_height_pt - row_height_pt * (index + 0.5) - size * 0.35
            self._row(x, baseline, columns, row, size)
        return bottom

    def _row(
        self, x: float, baseline: float, columns: Sequence[Column], row: Sequence[str], size: float
    ) -> None:
        left = x
        for column, cell in zip(columns, row, strict=True):
            anchor = {
                Align.LEFT: left + 2.5,
                Align.CENTRE: left + column.width_pt / 2,
                Align.RIGHT: left + column.width_pt - 2.5,
            }[column.align]
            self.text(
                anchor, baseline, cell, size=size, align=column.align,
                max_width_pt=column.width_pt - 5,
            )  # fmt: skip
            left += column.width_pt

    def qr(self, x: float, y: float, size_pt: float) -> None:
        """The specimen QR code (QR_CONTENT, never a link), ``size_pt`` square at (x, y),
        with the standard quiet zone of 4 modules inside that square."""
        count, runs = _qr_runs()
        module = size_pt / (count + 2 * _QR_QUIET_MODULES)
        path = self._canvas.beginPath()
        for row, column, length in runs:
            path.rect(
                x + (column + _QR_QUIET_MODULES) * module,
                y + size_pt - (row + _QR_QUIET_MODULES + 1) * module,
                length * module, module,
            )  # fmt: skip
        self._canvas.setFillGray(0)
        self._canvas.drawPath(path, stroke=0, fill=1)

    def finish(self) -> bytes:
        """Draw the specimen marks over the page, close it and return the PDF."""
        self._marks()
        self._canvas.showPage()
        self._canvas.save()
        return self._buffer.getvalue()

    def _marks(self) -> None:
        canvas = self._canvas
        self.text(self.width_pt / 2, FOOTER_Y_PT, FOOTER, size=7.5, font=Font.BOLD,
                  align=Align.CENTRE, max_width_pt=self.width_pt - 2 * MARGIN_PT)  # fmt: skip
        diagonal = math.hypot(self.width_pt, self.height_pt)
        canvas.saveState()
        canvas.setFillGray(_WATERMARK_GREY)
        canvas.setFillAlpha(_WATERMARK_ALPHA)
        canvas.translate(self.width_pt / 2, self.height_pt / 2)
        canvas.rotate(math.degrees(math.atan2(self.height_pt, self.width_pt)))
        size = 0.7 * diagonal / _width(WATERMARK, Font.BOLD, 1)
        canvas.setFont(Font.BOLD.value, size)
        canvas.drawCentredString(0, -size * 0.35, WATERMARK)
        canvas.restoreState()


@functools.cache
def _qr_runs() -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """The QR code of QR_CONTENT as (modules per side, dark runs as (row, column, length)).

    Encoded once: ReportLab's own widget draws every run as a shape node, which made the QR
    code 90 % of the time spent on a document.
    """
    code: Any = QrCodeWidget(QR_CONTENT, barLevel="M").qr
    code.make()
    count = int(code.getModuleCount())
    runs = []
    for row in range(count):
        dark = [bool(code.isDark(row, column)) for column in range(count)]
        column = 0
        for is_dark, group in itertools.groupby(dark):
            length = len(list(group))
            if is_dark:
                runs.append((row, column, length))
            column += length
    return count, tuple(runs)


def _width(text: str, font: Font, size: float) -> float:
    return float(stringWidth(text, font.value, size))
