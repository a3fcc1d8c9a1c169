"""The private CUPS + ippeveprinter stack, once per test session (≈0.2 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.printers.cupslab import CupsLab, cups_lab


@pytest.fixture(scope="session")
def lab() -> Iterator[CupsLab]:
    import cups

    with cups_lab() as running:
        cups.setServer(running.socket)  # this process only; subprocesses get CUPS_SERVER
        yield running


@pytest.fixture
def clean_lab(lab: CupsLab) -> Iterator[CupsLab]:
    """The lab with no faults, an enabled queue, nothing received yet."""
    lab.reset()
    yield lab
    lab.clear_faults()


from tests.district.conftest import server  # noqa: E402 (the real district server fixture)

__all__ = ["clean_lab", "lab", "server"]
