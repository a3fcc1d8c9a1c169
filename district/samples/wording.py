"""Indonesian wording of the specimen documents: dates in figures and in words, ordinals.

A kutipan akta spells its dates out ("DUA PULUH SATU NOVEMBER DUA RIBU DUA PULUH ENAM") so
that nobody can alter a figure; a KK prints them as ``DD-MM-YYYY``. Pure functions.
"""

from __future__ import annotations

import datetime
from typing import Final

MONTHS: Final = (
    "JANUARI", "FEBRUARI", "MARET", "APRIL", "MEI", "JUNI", "JULI", "AGUSTUS", "SEPTEMBER",
    "OKTOBER", "NOVEMBER", "DESEMBER",
)  # fmt: skip
_UNITS: Final = (
    "", "SATU", "DUA", "TIGA", "EMPAT", "LIMA", "ENAM", "TUJUH", "DELAPAN", "SEMBILAN",
    "SEPULUH", "SEBELAS",
)  # fmt: skip
MAX_WORDS: Final = 9999
_TEENS_FROM: Final = 12  # DUA BELAS; 10 and 11 have their own words
_TENS_FROM: Final = 20  # DUA PULUH


def number_words(n: int) -> str:
    """``21`` → ``"DUA PULUH SATU"``, ``2026`` → ``"DUA RIBU DUA PULUH ENAM"`` (1 to 9999).

    Raises:
        ValueError: n outside 1..9999.
    """
    if not 1 <= n <= MAX_WORDS:
        raise ValueError(f"{n} is outside 1..{MAX_WORDS}")
    return _words(n)


def _words(n: int) -> str:
    parts: list[str] = []
    for size, one, name in ((1000, "SERIBU", "RIBU"), (100, "SERATUS", "RATUS")):
        count, n = divmod(n, size)
        if count:
            parts.append(one if count == 1 else f"{_UNITS[count]} {name}")
    if n >= _TENS_FROM:
        tens, n = divmod(n, 10)
        parts.append(f"{_UNITS[tens]} PULUH")
    if n >= _TEENS_FROM:
        parts.append(f"{_UNITS[n - 10]} BELAS")
    elif n:
        parts.append(_UNITS[n])
    return " ".join(parts)


def date_in_words(day: datetime.date) -> str:
    """``2026-11-21`` → ``"DUA PULUH SATU NOVEMBER DUA RIBU DUA PULUH ENAM"``."""
    return f"{number_words(day.day)} {MONTHS[day.month - 1]} {number_words(day.year)}"


def date_long(day: datetime.date) -> str:
    """``2026-11-21`` → ``"21 NOVEMBER 2026"``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def date_figures(day: datetime.date | None) -> str:
    """``2026-11-21`` → ``"21-11-2026"``; None → ``"-"`` (as a KK prints an empty field)."""
    return "-" if day is None else f"{day:%d-%m-%Y}"


def ordinal(n: int) -> str:
    """``1`` → ``"PERTAMA"``, ``2`` → ``"KEDUA"``, ``11`` → ``"KESEBELAS"``."""
    return "PERTAMA" if n == 1 else "KE" + number_words(n)
