"""The specimen documents: Kartu Keluarga (A4 landscape), Kutipan Akta Kelahiran and Kutipan
Akta Kematian (A4 portrait), laid out after the TTE-signed documents Disdukcapil issues since
Permendagri 109/2019, with fictitious data (:mod:`district.samples.people`).

Unlike a real document they are not signed, name no real official, carry a QR code that says
"specimen" (never a link to a verifier) and are marked as specimens on every page
(:class:`~district.samples.sheet.Sheet`). Each function returns the PDF's bytes; the same
input gives the same bytes.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Final

from district.samples.people import (
    DISTRICT,
    PROVINCE,
    REGENCY,
    VILLAGE,
    Birth,
    Death,
    Family,
    Person,
)
from district.samples.sheet import MARGIN_PT, Align, Column, Font, Sheet
from district.samples.wording import date_figures, date_in_words, date_long, ordinal

OFFICIAL_TITLE: Final = (
    "KEPALA DINAS KEPENDUDUKAN DAN",
    "PENCATATAN SIPIL",
    f"KABUPATEN {REGENCY}",
)
OFFICIAL_NAME: Final = "NAMA PEJABAT (CONTOH)"  # never a real official's name
OFFICIAL_NIP: Final = "NIP. 000000000000000000"
NOT_SIGNED: Final = (
    "Dokumen contoh: tidak ditandatangani secara elektronik;",
    "kode QR ini bukan alat verifikasi.",
    "Specimen: not signed; this QR code verifies nothing.",
)
QR_SIZE_PT: Final = 80.0
KK_MAX_MEMBERS: Final = 7  # what fits one landscape page above the QR code and footer
AKTA_LABEL_X, AKTA_VALUE_X = 60.0, 250.0  # a kutipan akta's two columns

KK_MEMBERS: Final = (
    Column("No", 22, Align.CENTRE), Column("Nama Lengkap", 142), Column("NIK", 86),
    Column("Jenis\nKelamin", 58), Column("Tempat Lahir", 76),
    Column("Tanggal\nLahir", 58, Align.CENTRE), Column("Agama", 46),
    Column("Pendidikan", 118), Column("Jenis Pekerjaan", 112),
    Column("Golongan\nDarah", 55, Align.CENTRE),
)  # fmt: skip
KK_STATUS: Final = (
    Column("No", 22, Align.CENTRE), Column("Status\nPerkawinan", 92),
    Column("Tanggal\nPerkawinan", 70, Align.CENTRE),
    Column("Status Hubungan\nDalam Keluarga", 108), Column("Kewarganegaraan", 78, Align.CENTRE),
    Column("No. Paspor", 64, Align.CENTRE), Column("No. KITAP", 64, Align.CENTRE),
    Column("Nama Ayah", 138), Column("Nama Ibu", 137),
)  # fmt: skip


def kartu_keluarga(family: Family, *, issued: datetime.date) -> bytes:
    """The family's Kartu Keluarga on one A4 landscape page.

    Raises:
        ValueError: more than KK_MAX_MEMBERS members (the tables would run into the footer).
    """
    if not 1 <= len(family.members) <= KK_MAX_MEMBERS:
        raise ValueError(f"a specimen KK holds 1 to {KK_MAX_MEMBERS} members")
    sheet = Sheet(title="Kartu Keluarga", landscape_page=True)
    width, top = sheet.width_pt, sheet.height_pt - 42
    sheet.text(width / 2, top, "KARTU KELUARGA", size=16, font=Font.BOLD, align=Align.CENTRE)
    sheet.text(width / 2, top - 17, f"No. {family.no_kk}", size=11, font=Font.BOLD,
               align=Align.CENTRE)  # fmt: skip
    left = (
        ("Nama Kepala Keluarga", family.head.name), ("Alamat", family.street),
        ("RT/RW", family.rt_rw), ("Kode Pos", "-"),
    )  # fmt: skip
    right = (
        ("Desa/Kelurahan", VILLAGE), ("Kecamatan", DISTRICT), ("Kabupaten/Kota", REGENCY),
        ("Provinsi", PROVINCE),
    )  # fmt: skip
    _fields(sheet, MARGIN_PT, top - 43, left, value_x=MARGIN_PT + 110)
    _fields(sheet, width / 2 + 90, top - 43, right, value_x=width / 2 + 175)
    bottom = sheet.table(MARGIN_PT, top - 95, KK_MEMBERS, [
        (str(i), p.name, p.nik, p.sex.value, p.birth_place, date_figures(p.born), p.religion,
         p.education, p.occupation, p.blood_type)
        for i, p in enumerate(family.members, 1)
    ])  # fmt: skip
    bottom = sheet.table(MARGIN_PT, bottom - 14, KK_STATUS, [
        (str(i), p.marital_status, date_figures(p.married), p.relation, p.nationality, "-", "-",
         p.father, p.mother)
        for i, p in enumerate(family.members, 1)
    ])  # fmt: skip
    sheet.text(MARGIN_PT, bottom - 20, f"Dikeluarkan Tanggal : {date_figures(issued)}", size=8.5)
    head_x = MARGIN_PT + 130
    sheet.text(head_x, bottom - 42, "KEPALA KELUARGA", size=8.5, align=Align.CENTRE)
    sheet.text(head_x, bottom - 100, family.head.name, size=8.5, font=Font.BOLD,
               align=Align.CENTRE)  # fmt: skip
    _official(sheet, width / 2 + 30, bottom - 42, size=8.5)
    _specimen_qr(sheet)
    return sheet.finish()


def akta_kelahiran(birth: Birth) -> bytes:
    """The Kutipan Akta Kelahiran of ``birth.child`` on one A4 portrait page."""
    child = birth.child
    sheet = Sheet(title="Kutipan Akta Kelahiran")
    top = _akta_heading(sheet, "KUTIPAN AKTA KELAHIRAN", "EXCERPT OF BIRTH CERTIFICATE")
    _fields(sheet, AKTA_LABEL_X, top, [("NIK", child.nik)], value_x=AKTA_VALUE_X, size=11,
            font=Font.BOLD)  # fmt: skip
    last = _akta_body(sheet, top - 40, [
        ("Berdasarkan Akta Kelahiran Nomor", "By virtue of Birth Certificate Number",
         birth.act_number),
        ("bahwa di", "that in", birth.place),
        ("pada tanggal", "on", date_in_words(child.born)),
        ("telah lahir", "was born", child.name),
        ("anak ke", "child no.", f"{ordinal(birth.order)}, {child.sex.value}"),
        ("dari ayah", "of father", child.father),
        ("dan ibu", "and mother", child.mother),
    ])  # fmt: skip
    _akta_issued(sheet, last - 55, birth.registered)
    return sheet.finish()


def akta_kematian(death: Death) -> bytes:
    """The Kutipan Akta Kematian of ``death.deceased`` on one A4 portrait page."""
    person: Person = death.deceased
    sheet = Sheet(title="Kutipan Akta Kematian")
    top = _akta_heading(sheet, "KUTIPAN AKTA KEMATIAN", "EXCERPT OF DEATH CERTIFICATE")
    last = _akta_body(sheet, top, [
        ("Berdasarkan Akta Kematian Nomor", "By virtue of Death Certificate Number",
         death.act_number),
        ("bahwa di", "that in", death.place),
        ("pada tanggal", "on", date_in_words(death.died)),
        ("telah meninggal dunia", "passed away", person.name),
        ("NIK", "personal identity number", person.nik),
        ("lahir di", "born in", person.birth_place),
        ("pada tanggal", "on", date_in_words(person.born)),
        ("jenis kelamin", "sex", person.sex.value),
    ])  # fmt: skip
    _akta_issued(sheet, last - 55, death.registered)
    return sheet.finish()


def _fields(
    sheet: Sheet,
    x: float,
    y: float,
    fields: Sequence[tuple[str, str]],
    *,
    value_x: float,
    size: float = 8.5,
    font: Font = Font.REGULAR,
) -> None:
    """``label : value`` lines (a KK's heading, an akta's NIK)."""
    for label, value in fields:
        sheet.text(x, y, label, size=size)
        sheet.text(value_x - 8, y, ":", size=size)
        sheet.text(value_x, y, value, size=size, font=font,
                   max_width_pt=sheet.width_pt - MARGIN_PT - value_x)  # fmt: skip
        y -= size + 3.5


def _akta_heading(sheet: Sheet, title: str, title_en: str) -> float:
    """The heading of a kutipan akta; returns the y where its body starts."""
    centre, y = sheet.width_pt / 2, sheet.height_pt - 62
    sheet.text(centre, y, "PENCATATAN SIPIL", size=14, font=Font.BOLD, align=Align.CENTRE)
    sheet.text(centre, y - 11, "REGISTRY OFFICE", size=8, font=Font.ITALIC, align=Align.CENTRE)
    _fields(sheet, AKTA_LABEL_X, y - 45, [("WARGA NEGARA", "INDONESIA")], value_x=AKTA_VALUE_X,
            size=10, font=Font.BOLD)  # fmt: skip
    sheet.text(AKTA_LABEL_X, y - 54, "NATIONALITY", size=7, font=Font.ITALIC)
    sheet.text(centre, y - 92, title, size=16, font=Font.BOLD, align=Align.CENTRE)
    sheet.text(centre, y - 103, title_en, size=8, font=Font.ITALIC, align=Align.CENTRE)
    return y - 140


def _akta_body(sheet: Sheet, top: float, rows: Sequence[tuple[str, str, str]]) -> float:
    """The lines of a kutipan akta: Indonesian label, English gloss, value; returns the y of
    the last line."""
    y = top
    for label, gloss, value in rows:
        sheet.text(AKTA_LABEL_X, y, label, size=10)
        sheet.text(AKTA_LABEL_X, y - 10, gloss, size=7.5, font=Font.ITALIC)
        sheet.text(AKTA_VALUE_X, y, value, size=11, font=Font.BOLD,
                   max_width_pt=sheet.width_pt - MARGIN_PT - AKTA_VALUE_X)  # fmt: skip
        y -= 38
    return y + 38


def _akta_issued(sheet: Sheet, y: float, issued: datetime.date) -> None:
    """Where and when the kutipan was issued, the official's block and the QR code."""
    x = sheet.width_pt - 190
    sheet.text(x, y, f"Kutipan ini diterbitkan di {REGENCY}", size=9, align=Align.CENTRE)
    sheet.text(x, y - 11, f"pada tanggal {date_long(issued)}", size=9, align=Align.CENTRE)
    _official(sheet, x, y - 32, size=9)
    _specimen_qr(sheet)


def _official(sheet: Sheet, x: float, y: float, *, size: float) -> None:
    """The Kepala Dinas block, centred on ``x`` from ``y`` down (no signature: a TTE
    document carries its QR code instead)."""
    for i, line in enumerate(OFFICIAL_TITLE):
        sheet.text(x, y - i * (size + 2), line, size=size, align=Align.CENTRE)
    sheet.text(x, y - 58, OFFICIAL_NAME, size=size, font=Font.BOLD, align=Align.CENTRE)
    sheet.text(x, y - 58 - size - 2, OFFICIAL_NIP, size=size, align=Align.CENTRE)


def _specimen_qr(sheet: Sheet) -> None:
    """The QR code at the bottom right, with the note that it verifies nothing."""
    x, y = sheet.width_pt - MARGIN_PT - QR_SIZE_PT, 14 * 72 / 25.4
    sheet.qr(x, y, QR_SIZE_PT)
    for i, line in enumerate(NOT_SIGNED):
        sheet.text(x - 6, y + 40 - i * 9, line, size=7, font=Font.ITALIC, align=Align.RIGHT)
