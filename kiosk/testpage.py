"""The A4 test page a supervisor prints from the kiosk's settings: does the printer print
A4 at 100 %, with nothing cut off?

It shows a 100 mm ruler with millimetre ticks (measure it: anything but 100 mm means the
printer or driver scales), a frame 10 mm inside every edge (a missing side means the page
is cut off or shifted), and the office and the time. Text is in both languages. Pure: the
PDF is built in memory (pypdf) with the standard Helvetica font.
"""

from __future__ import annotations

import io

A4_PT = (595.28, 841.89)
MM = 72 / 25.4


def _escape(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _text(x: float, y: float, size: int, text: str) -> str:
    return f"BT /F1 {size} Tf {x:.2f} {y:.2f} Td ({_escape(text)}) Tj ET"


def make_test_page(*, office: str, when: str) -> bytes:
    """One A4 page; ``office`` and ``when`` are printed as given (ASCII)."""
    width, height = A4_PT
    ops = [
        "0.8 w",
        f"{10 * MM:.2f} {10 * MM:.2f} {width - 20 * MM:.2f} {height - 20 * MM:.2f} re S",
    ]
    x0, y0 = 55 * MM, 150 * MM
    ops.append(f"0.5 w {x0:.2f} {y0:.2f} m {x0 + 100 * MM:.2f} {y0:.2f} l S")
    for mm in range(101):
        tick = 6 if mm % 10 == 0 else 4 if mm % 5 == 0 else 2.5
        x = x0 + mm * MM
        ops.append(f"{x:.2f} {y0:.2f} m {x:.2f} {y0 + tick * MM:.2f} l S")
        if mm % 10 == 0:
            ops.append(_text(x - 3, y0 - 12, 9, str(mm // 10)))
    lines = [
        (24, "Halaman uji Cedoka / Cedoka test page"),
        (13, office),
        (11, when),
        (11, ""),
        (11, "Garis di bawah harus tepat 100 mm (10 cm). Jika tidak, printer mengubah"),
        (11, "ukuran cetak: setel ke ukuran asli (100 %), kertas A4."),
        (11, "The line below must measure exactly 100 mm. If not, the printer scales:"),
        (11, "set it to actual size (100 %), A4 paper."),
        (11, ""),
        (11, "Bingkai 10 mm dari tepi harus terlihat utuh di keempat sisi."),
        (11, "The frame 10 mm inside the edges must show whole on all four sides."),
    ]
    y = height - 40 * MM
    for size, line in lines:
        if line:
            ops.append(_text(25 * MM, y, size, line))
        y -= size * 1.6
    ops.append(_text(x0, y0 - 26, 9, "cm"))
    from pypdf import PdfWriter  # lazily: an idle agent never loads pypdf
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width, height)
    font = DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
    })  # fmt: skip
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)}),
    })  # fmt: skip
    stream = DecodedStreamObject()
    stream.set_data("\n".join(ops).encode("ascii"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
