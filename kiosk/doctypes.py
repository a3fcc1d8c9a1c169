"""Civil-registration document types: codes, names, and which may be printed at a village.

Since Permendagri 109/2019 these documents are TTE-signed PDFs printed on plain A4 paper,
so a village office may print them. KTP-el and KIA are chip/plastic cards that need
security blanks and card printers: they go by courier or are picked up, never printed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

DOCUMENT_TYPES_PRINTABLE: Final = frozenset(
    {
        "KK",
        "BIODATA",
        "AKTA_LAHIR",
        "AKTA_MATI",
        "AKTA_KAWIN",
        "AKTA_CERAI",
        "AKTA_AKUI_ANAK",
        "AKTA_SAH_ANAK",
        "SKPWNI",
        "SKET",
    }
)
DOCUMENT_TYPES_CARD: Final = frozenset({"KTP_EL", "KIA"})
DOCUMENT_TYPES_ALL: Final = DOCUMENT_TYPES_PRINTABLE | DOCUMENT_TYPES_CARD
CARD_NOT_PRINTABLE: Final = (
    "KTP-el and KIA are cards: they need card printers and security blanks, "
    "so they go by courier or pickup and are never printed at a village"
)


class DocumentName(NamedTuple):
    """A document type's name in Bahasa Indonesia (``id``) and English (``en``)."""

    id: str
    en: str


DOCUMENT_NAMES: Final[Mapping[str, DocumentName]] = MappingProxyType(
    {
        "KK": DocumentName("Kartu Keluarga", "Family Card"),
        "BIODATA": DocumentName("Biodata Penduduk", "Resident Biodata"),
        "AKTA_LAHIR": DocumentName("Kutipan Akta Kelahiran", "Birth Certificate Extract"),
        "AKTA_MATI": DocumentName("Kutipan Akta Kematian", "Death Certificate Extract"),
        "AKTA_KAWIN": DocumentName("Kutipan Akta Perkawinan", "Marriage Certificate Extract"),
        "AKTA_CERAI": DocumentName("Kutipan Akta Perceraian", "Divorce Certificate Extract"),
        "AKTA_AKUI_ANAK": DocumentName("Akta Pengakuan Anak", "Child Acknowledgement Certificate"),
        "AKTA_SAH_ANAK": DocumentName("Akta Pengesahan Anak", "Child Legitimation Certificate"),
        "SKPWNI": DocumentName("Surat Keterangan Pindah", "Certificate of Moving"),
        "SKET": DocumentName("Surat Keterangan Kependudukan", "Population Certificate"),
        "KTP_EL": DocumentName("KTP-el", "Electronic ID Card"),
        "KIA": DocumentName("Kartu Identitas Anak", "Child ID Card"),
    }
)


def is_printable_at_village(code: str) -> bool:
    """True for a known type that may be printed on plain A4 at a village office."""
    return code in DOCUMENT_TYPES_PRINTABLE


def document_name(code: str, language: str) -> str:
    """The name of document type ``code`` in ``language`` ("id" or "en").

    Raises:
        KeyError: unknown document type.
        ValueError: unknown language.
    """
    names = DOCUMENT_NAMES[code]
    if language == "id":
        return names.id
    if language == "en":
        return names.en
    raise ValueError("language must be 'id' or 'en'")
