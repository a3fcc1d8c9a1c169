"""The official region codes (Kemendagri's *kode wilayah*) as a CSV: which rows are the
villages and kelurahan of one regency (issue 17 item 1: offices imported from a CSV).

The file has a header ``kode,nama,level,jenis`` and one row per province, regency, district
(kecamatan) and village (``desa/kelurahan``), e.g. ``74.08.01.2002,Pitulua,desa/kelurahan,
desa``. Pure: the text in, the offices and the rows it skipped (with their line numbers and
why) out; :meth:`district.admin.DistrictAdmin.import_offices` stores them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Final

from kiosk.errors import OperatorError
from kiosk.ids import OFFICE_CODE

HEADER: Final = ("kode", "nama", "level", "jenis")
VILLAGE_LEVEL: Final = "desa/kelurahan"
MAX_CSV_BYTES: Final = 16 * 1024 * 1024  # all of Indonesia's 83,762 villages fit
MAX_NAME_CHARS: Final = 80
_PREFIX: Final = {"desa": "Desa", "kelurahan": "Kelurahan"}


@dataclass(frozen=True, slots=True)
class Village:
    code: str
    name: str  # "Desa Pitulua", "Kelurahan Talang Ubi Timur"


@dataclass(frozen=True, slots=True)
class RegionRows:
    villages: tuple[Village, ...]
    skipped: tuple[tuple[int, str], ...]  # (line number, why) of village rows not taken
    other_regencies: int  # village rows of other regencies (not an error: a national file)


def read_villages(data: bytes, *, district_code: str) -> RegionRows:
    """The villages of ``district_code`` in a region-code CSV. Raises OperatorError when the
    file is not one (size, encoding, header)."""
    if len(data) > MAX_CSV_BYTES:
        raise OperatorError(f"the CSV is over {MAX_CSV_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OperatorError("the CSV is not UTF-8 text") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None or tuple(h.strip().lower() for h in header[:4]) != HEADER:
        raise OperatorError(f"the CSV's first line must be {','.join(HEADER)}")
    villages: dict[str, Village] = {}
    skipped: list[tuple[int, str]] = []
    others = 0
    for line, row in enumerate(rows, start=2):
        if len(row) < len(HEADER) or row[2].strip() != VILLAGE_LEVEL:
            continue  # a province, regency or kecamatan row, or a blank line
        code, name, kind = row[0].strip(), " ".join(row[1].split()), row[3].strip().lower()
        if not code.startswith(district_code + "."):
            others += 1
            continue
        if not OFFICE_CODE.fullmatch(code):
            skipped.append((line, f"{code!r} is not a village code"))
            continue
        full = f"{_PREFIX[kind]} {name}" if kind in _PREFIX else name
        if not name or len(full) > MAX_NAME_CHARS or not full.isprintable():
            skipped.append((line, f"{code}: the name is empty or too long"))
            continue
        if code in villages:
            skipped.append((line, f"{code} appears twice"))
            continue
        villages[code] = Village(code, full)
    return RegionRows(tuple(villages.values()), tuple(skipped), others)
