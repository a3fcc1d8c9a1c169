"""Checks on an opened document before it may be printed: PDF magic, parse, page sizes.

The signed PDF is never modified (re-rendering would break its electronic signature);
this only reads it. pypdf parses from memory: no file is written. pypdf (and the Pillow it
brings, ~10 MiB) is imported at the first check, not at import: an idle agent never loads it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from kiosk.errors import Reason, RejectedError
from kiosk.limits import MAX_PDF_PAGES

PDF_MAGIC = b"%PDF-"
A4_PT = (595.28, 841.89)  # 210 x 297 mm in PostScript points
A4_TOLERANCE_PT = 3.0


@dataclass(frozen=True, slots=True)
class PdfFacts:
    """What a document is, as read from the PDF itself."""

    page_count: int
    page_sizes_pt: tuple[tuple[float, float], ...]  # (width, height) after /Rotate

    @property
    def all_pages_a4(self) -> bool:
        """Every page is A4, portrait or landscape (e.g. a KK is often landscape)."""
        return all(is_a4(w, h) for w, h in self.page_sizes_pt)


def is_a4(width_pt: float, height_pt: float) -> bool:
    """Whether a page of this size is A4 in either orientation."""
    short, long_ = sorted((width_pt, height_pt))
    return abs(short - A4_PT[0]) <= A4_TOLERANCE_PT and abs(long_ - A4_PT[1]) <= A4_TOLERANCE_PT


def inspect_pdf(data: bytes) -> PdfFacts:
    """Parse a PDF held in memory.

    Raises:
        RejectedError: NOT_PDF when it does not start with ``%PDF-``; PDF_INVALID when it
            does not parse, has no page, more than MAX_PDF_PAGES, or is encrypted.
    """
    if not data.startswith(PDF_MAGIC):
        raise RejectedError(Reason.NOT_PDF, "no %PDF- header")
    from pypdf import PdfReader  # lazily: see the module's docstring

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=True)
            if reader.is_encrypted:
                raise RejectedError(Reason.PDF_INVALID, "encrypted PDF")
            count = len(reader.pages)
            if not 1 <= count <= MAX_PDF_PAGES:
                raise RejectedError(Reason.PDF_INVALID, f"{count} pages")
            sizes = []
            for page in reader.pages:
                box = page.mediabox
                width, height = float(box.width), float(box.height)
                if int(page.rotation) % 180:
                    width, height = height, width
                sizes.append((width, height))
    except RejectedError:
        raise
    except Exception:  # hostile input: any parser failure means "not a valid PDF"
        raise RejectedError(Reason.PDF_INVALID, "PDF does not parse") from None
    return PdfFacts(page_count=count, page_sizes_pt=tuple(sizes))
