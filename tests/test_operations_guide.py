"""docs/operations.md stays true to the code: every message the kiosk screen can show is in
its tables, word for word, under its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.errors import Reason
from kiosk.messages import MESSAGES, PRINTER_MESSAGES
from ui.errors import STAFF_TEXTS

GUIDE = (Path(__file__).resolve().parent.parent / "docs" / "operations.md").read_text()
SCREEN: list[tuple[str, str, str]] = [
    *((r.value, *MESSAGES[r]) for r in Reason),
    *((code, *texts) for code, texts in PRINTER_MESSAGES.items()),
    *(("not_found" if code == "no_job" else code, i, e) for code, (_, i, e) in STAFF_TEXTS.items()),
]


@pytest.mark.parametrize(("code", "indonesian", "english"), SCREEN, ids=[s[0] for s in SCREEN])
def test_every_screen_message_is_in_the_guide(code: str, indonesian: str, english: str) -> None:
    rows = [line for line in GUIDE.splitlines() if line.startswith("|") and f"`{code}`" in line]
    assert rows, f"docs/operations.md has no row for `{code}`"
    assert any(indonesian in row and english in row for row in rows), (
        f"docs/operations.md: the row of `{code}` does not carry the current texts"
    )
