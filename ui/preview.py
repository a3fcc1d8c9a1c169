"""First-page previews for the release screen: the opened PDF rendered in memory with
pdfium (pypdfium2) to a PNG thumbnail. Nothing is written to disk."""

from __future__ import annotations

import io


def first_page_png(pdf: bytes, *, width_px: int = 360) -> bytes:
    """A PNG of page 1, ``width_px`` wide (A4 portrait: about 1.41 times as tall)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        scale = width_px / page.get_width()
        image = page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return out.getvalue()
    finally:
        document.close()
