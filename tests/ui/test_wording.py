"""The kiosk speaks plain village-office Indonesian (issue 16): no calques of the English
"release" and "job" in what staff read — the screens, the messages, the guides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ_BY_STAFF = [
    *sorted((ROOT / "ui" / "static").glob("*.js")),
    ROOT / "ui" / "static" / "index.html",
    ROOT / "ui" / "errors.py",
    ROOT / "ui" / "views.py",
    ROOT / "kiosk" / "messages.py",
    ROOT / "docs" / "operations.md",
    ROOT / "docs" / "kiosk-api.md",
]
# "Pelepasan", "Dilepas tanpa kode" (release), "Pekerjaan petugas", "menolak pekerjaan" (job).
CALQUES = re.compile(r"\b(pelepasan|dilepas|melepas|pekerjaan petugas|menolak pekerjaan)\b", re.I)


@pytest.mark.parametrize("path", READ_BY_STAFF, ids=lambda p: p.name)
def test_no_calques_in_what_staff_read(path: Path) -> None:
    found = [
        f"{path.name}:{n}: {m.group(0)}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if (m := CALQUES.search(line))
    ]
    assert found == []
