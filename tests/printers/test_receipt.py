"""The receipt layout (printers/receipt.py): pure, table-driven, no printer involved."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printers.receipt import (
    MIN_WIDTH,
    Receipt,
    ascii_safe,
    format_time,
    receipt_lines,
    zone_label,
)

WITA = 8 * 3600
T_2025_03_05_0630_UTC = 1741156200  # 05-03-2025 14:30 WITA

SAMPLE = Receipt(
    office_name="Kantor Desa Lapai, Kecamatan Ngapa",
    printed_at_s=T_2025_03_05_0630_UTC,
    utc_offset_s=WITA,
    documents=("Kartu Keluarga", "Akta Kelahiran"),
    job_ref="9F3K2M7Q",
    operator="Andi Ma\u2019ruf Dg. Mappiare",
    language="id",
)

GOLDEN_ID_32 = """\
      TANDA TERIMA DOKUMEN
  Kantor Desa Lapai, Kecamatan
             Ngapa
--------------------------------
Tanggal: 05-03-2025 14:30 WITA
Dokumen yang diserahkan:
 1. Kartu Keluarga
 2. Akta Kelahiran
Ref: 9F3K2M7Q
Petugas: Andi Ma'ruf Dg.
         Mappiare
--------------------------------
Simpan tanda terima ini sebagai
bukti penyerahan dokumen."""

GOLDEN_EN_48 = """\
                DOCUMENT RECEIPT
       Kantor Desa Lapai, Kecamatan Ngapa
------------------------------------------------
Date: 05-03-2025 14:30 WITA
Documents handed over:
 1. Kartu Keluarga
 2. Akta Kelahiran
Ref: 9F3K2M7Q
Officer: Andi Ma'ruf Dg. Mappiare
------------------------------------------------
Keep this receipt as proof of the documents
handed over."""


@pytest.mark.parametrize(
    ("language", "width", "golden"),
    [("id", 32, GOLDEN_ID_32), ("en", 48, GOLDEN_EN_48)],
)
def test_golden_layout(language: str, width: int, golden: str) -> None:
    receipt = dataclasses.replace(SAMPLE, language=language)
    assert "\n".join(receipt_lines(receipt, width=width)) == golden


LONG_TITLE = "Kutipan Akta Kematian (salinan kedua untuk ahli waris almarhum)"
HOSTILE = "Budi\x1b@\x1dV\x00\x10\x04\x04 \u201cSiti\u201d\tNur\nAini \U0001f600"
CASES = [
    pytest.param(SAMPLE, id="sample"),
    pytest.param(dataclasses.replace(SAMPLE, documents=(LONG_TITLE,)), id="long-title"),
    pytest.param(dataclasses.replace(SAMPLE, documents=("X" * 100,)), id="unbreakable-word"),
    pytest.param(
        dataclasses.replace(SAMPLE, documents=tuple(f"Dokumen {n}" for n in range(1, 13))),
        id="twelve-documents",
    ),
    pytest.param(
        dataclasses.replace(SAMPLE, operator=HOSTILE, office_name=HOSTILE), id="hostile-names"
    ),
    pytest.param(dataclasses.replace(SAMPLE, utc_offset_s=19800), id="odd-zone"),
    pytest.param(
        dataclasses.replace(SAMPLE, office_name="Desa " + "Panjang" * 20), id="long-office"
    ),
]


@pytest.mark.parametrize("width", [24, 32, 48, 80])
@pytest.mark.parametrize("language", ["id", "en"])
@pytest.mark.parametrize("receipt", CASES)
def test_every_line_fits_and_is_plain_ascii(receipt: Receipt, language: str, width: int) -> None:
    lines = receipt_lines(dataclasses.replace(receipt, language=language), width=width)
    for line in lines:
        assert len(line) <= width, line
        assert all(" " <= c <= "~" for c in line), repr(line)
        assert line == line.rstrip(), "no trailing spaces"
    assert lines[0].strip() in ("TANDA TERIMA DOKUMEN", "DOCUMENT RECEIPT")
    assert f"Ref: {receipt.job_ref}" in lines


@pytest.mark.parametrize(("width", "language"), [(32, "id"), (48, "id"), (32, "en"), (48, "en")])
def test_the_parts_in_order(width: int, language: str) -> None:
    receipt = dataclasses.replace(SAMPLE, language=language)
    text = "\n".join(receipt_lines(receipt, width=width))
    labels = {
        "id": ("TANDA TERIMA DOKUMEN", "Tanggal: ", "Dokumen", "Petugas: ", "Simpan tanda terima"),
        "en": ("DOCUMENT RECEIPT", "Date: ", "Documents", "Officer: ", "Keep this receipt"),
    }[language]
    title, date, documents, operator, closing = labels
    order = [
        title,
        "Kantor Desa Lapai",
        date + "05-03-2025 14:30 WITA",
        documents,
        " 1. Kartu Keluarga",
        " 2. Akta Kelahiran",
        "Ref: 9F3K2M7Q",
        operator + "Andi Ma'ruf",
        closing,
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


def test_wrapped_document_titles_hang_under_their_number() -> None:
    receipt = dataclasses.replace(SAMPLE, documents=(LONG_TITLE, "Kartu Keluarga"))
    lines = receipt_lines(receipt, width=32)
    start = lines.index(" 1. Kutipan Akta Kematian")
    assert lines[start + 1 : start + 4] == [
        "    (salinan kedua untuk ahli",
        "    waris almarhum)",
        " 2. Kartu Keluarga",
    ]


def test_ten_or_more_documents_keep_the_numbers_aligned() -> None:
    receipt = dataclasses.replace(SAMPLE, documents=tuple(f"Dok {n}" for n in range(1, 11)))
    lines = receipt_lines(receipt, width=32)
    assert "  1. Dok 1" in lines
    assert " 10. Dok 10" in lines


def test_hostile_characters_never_reach_the_lines() -> None:
    lines = receipt_lines(dataclasses.replace(SAMPLE, operator=HOSTILE), width=32)
    start = next(n for n, line in enumerate(lines) if line.startswith("Petugas: "))
    end = lines.index("-" * 32, start)
    operator = " ".join(line.strip() for line in lines[start:end])
    assert operator == 'Petugas: Budi@V "Siti" Nur Aini ?'


@pytest.mark.parametrize(
    ("offset_s", "at_s", "expected"),
    [
        (7 * 3600, T_2025_03_05_0630_UTC, "05-03-2025 13:30 WIB"),
        (8 * 3600, T_2025_03_05_0630_UTC, "05-03-2025 14:30 WITA"),
        (9 * 3600, T_2025_03_05_0630_UTC, "05-03-2025 15:30 WIT"),
        (9 * 3600, T_2025_03_05_0630_UTC + 10 * 3600, "06-03-2025 01:30 WIT"),  # next day
        (0, T_2025_03_05_0630_UTC, "05-03-2025 06:30 UTC+00:00"),
        (19800, T_2025_03_05_0630_UTC, "05-03-2025 12:00 UTC+05:30"),
        (-3600, 0, "31-12-1969 23:00 UTC-01:00"),
    ],
)
def test_local_time_and_zone(offset_s: int, at_s: int, expected: str) -> None:
    assert format_time(at_s, offset_s) == expected
    assert zone_label(offset_s) == expected.rsplit(" ", 1)[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ma'ruf", "Ma'ruf"),
        ("Ma\u2019ruf", "Ma'ruf"),  # right single quotation mark
        ("Ma\u02bcruf", "Ma'ruf"),  # modifier letter apostrophe
        ("Ma\u02bfruf", "Ma'ruf"),  # modifier letter left half ring (ʿain)
        ("Ma\u00b4ruf", "Ma'ruf"),  # acute accent used as an apostrophe
        ("Dg. Mappiare", "Dg. Mappiare"),
        ("Ngurah Ayu \u1e62a\u1e0d", "Ngurah Ayu Sad"),  # precomposed Ṣ, ḍ
        ("Ngurah Ayu S\u0323ad\u0323", "Ngurah Ayu Sad"),  # decomposed
        ("Nguy\u1ec5n \u00c9lise Fran\u00e7ois", "Nguyen Elise Francois"),
        ("\u201cKartu Keluarga\u201d", '"Kartu Keluarga"'),
        ("\u201eAkta\u201c \u00abKK\u00bb", '"Akta" "KK"'),
        ("\u2018kutip\u2019", "'kutip'"),
        ("2020\u20132024 \u2014 selesai \u2212 1", "2020-2024 - selesai - 1"),
        ("tunggu\u2026", "tunggu..."),
        ("a\tb", "a b"),
        ("a\nb\r\nc", "a b  c"),
        ("a\u00a0b\u2028c", "a b c"),  # no-break space, line separator
        ("a\x1b@b", "a@b"),  # ESC dropped: no command rides in on a name
        ("\x1dV\x00cut", "Vcut"),
        ("\x00\x07\x08\x7f", ""),  # NUL, BEL, BS, DEL
        ("\x9bC1", "C1"),  # C1 control (CSI)
        ("a\u200bb\u200dc\u202ed\u00ade", "abcde"),  # zero-width, ZWJ, bidi override, soft hyphen
        ("Siti \U0001f600", "Siti ?"),
        ("\U0001f468\u200d\U0001f469\u200d\U0001f467", "???"),  # ZWJ family: ZWJs dropped
        ("\u2764\ufe0f", "?"),  # emoji presentation selector dropped
        ("\uff33\uff49\uff54\uff49", "Siti"),  # fullwidth
        ("\ufb01tri \u00bd \u00b2", "fitri 1/2 2"),  # ligature, vulgar fraction, superscript
        ("Stra\u00dfe \u0141\u00f3d\u017a \u00c6sir \u00d8ster", "Strasse Lodz AEsir Oster"),
        ("\u0130stanbul \u0131", "Istanbul i"),
        ("\u4e2d\u6587 \u0627\u0644\u0639", "?? ???"),
        ("\ue000", "?"),  # private use
        ("\udc80", "?"),  # lone surrogate
        ("", ""),
    ],
)
def test_ascii_safe(text: str, expected: str) -> None:
    assert ascii_safe(text) == expected


@given(st.text())
def test_ascii_safe_always_gives_printable_ascii_and_is_idempotent(text: str) -> None:
    safe = ascii_safe(text)
    assert all(" " <= c <= "~" for c in safe)
    assert ascii_safe(safe) == safe


@given(
    office=st.text(min_size=1, max_size=120).filter(lambda s: ascii_safe(s).strip() != ""),
    operator=st.text(min_size=1, max_size=60).filter(lambda s: ascii_safe(s).strip() != ""),
    documents=st.lists(
        st.text(min_size=1, max_size=80).filter(lambda s: ascii_safe(s).strip() != ""),
        min_size=1,
        max_size=12,
    ),
    width=st.integers(24, 80),
    language=st.sampled_from(["id", "en"]),
)
def test_any_receipt_fits_any_width(
    office: str, operator: str, documents: list[str], width: int, language: str
) -> None:
    receipt = Receipt(
        office_name=office,
        printed_at_s=T_2025_03_05_0630_UTC,
        utc_offset_s=WITA,
        documents=tuple(documents),
        job_ref="9F3K2M7Q",
        operator=operator,
        language=language,  # type: ignore[arg-type]
    )
    for line in receipt_lines(receipt, width=width):
        assert len(line) <= width
        assert all(" " <= c <= "~" for c in line)


def test_a_receipt_has_no_place_for_personal_data() -> None:
    names = {f.name for f in dataclasses.fields(Receipt)}
    assert names == {
        "office_name", "printed_at_s", "utc_offset_s", "documents", "job_ref", "operator",
        "language", "test",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"documents": ()}, "documents"),
        ({"documents": ["Kartu Keluarga"]}, "documents"),
        ({"documents": ("Kartu Keluarga", " \t")}, "titles"),
        ({"office_name": "\x1b\x00"}, "office_name"),
        ({"operator": ""}, "operator"),
        ({"job_ref": ""}, "job_ref"),
        ({"job_ref": "../../etc"}, "job_ref"),
        ({"job_ref": "ABCD 1234"}, "job_ref"),
        ({"job_ref": "X" * 33}, "job_ref"),
        ({"printed_at_s": -1}, "printed_at_s"),
        ({"utc_offset_s": 15 * 3600}, "utc_offset_s"),
        ({"language": "fr"}, "language"),
    ],
)
def test_a_malformed_receipt_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SAMPLE, **change)  # type: ignore[arg-type]


@pytest.mark.parametrize("width", [0, 23, 81])
def test_width_out_of_range(width: int) -> None:
    with pytest.raises(ValueError, match="width"):
        receipt_lines(SAMPLE, width=width)


@pytest.mark.parametrize("module", ["printers.receipt", "printers.escpos"])
def test_python_escpos_is_imported_lazily(module: str) -> None:
    code = f"import sys, {module}; sys.exit('escpos' in sys.modules or 'cups' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("width", [MIN_WIDTH, 32, 48])
@pytest.mark.parametrize(("language", "mark", "not_a_receipt"), [
    ("id", "*** STRUK UJI / TEST ***", "BUKAN tanda terima"),
    ("en", "*** TEST RECEIPT ***", "NOT a receipt"),
])  # fmt: skip
def test_a_test_receipt_is_marked_test_top_and_bottom(
    width: int, language: str, mark: str, not_a_receipt: str
) -> None:
    """Issue 16: the settings' test receipt looked like a real hand-over receipt."""
    test = dataclasses.replace(SAMPLE, language=language, test=True)
    lines = receipt_lines(test, width=width)
    text = " ".join(" ".join(lines).split())
    assert text.startswith(mark) and text.endswith(mark)
    assert "TEST" in lines[0] and "TEST" in lines[-1]
    assert not_a_receipt in text
    assert "TANDA TERIMA DOKUMEN" not in text and "DOCUMENT RECEIPT" not in text
    assert all(len(line) <= width for line in lines)
