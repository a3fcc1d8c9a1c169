"""An install without the ``printers`` extra, for the tests: pycups (``cups``) and
python-escpos (``escpos``, with pyusb's ``usb``) cannot be imported.

The extra is the only thing that brings these three distributions (setup.cfg); nothing else in
the project imports them, and every import of them is a lazy ``import`` inside
``printers/``. A finder placed first on :data:`sys.meta_path` that refuses exactly these
names makes each such ``import`` raise :class:`ModuleNotFoundError`, the same exception,
at the same place, that a virtualenv without the extra raises; every other module loads
from the same virtualenv as usual.

A subprocess gets it by this directory first on ``PYTHONPATH`` (:func:`env_without_printers`;
Python imports ``sitecustomize`` at start-up); a test in this process uses
:func:`refuse_printer_drivers`."""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

REFUSED = ("cups", "escpos", "usb")


class RefusePrinterDrivers(importlib.abc.MetaPathFinder):
    """Refuses the modules of the printers extra, as if they were not installed."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> None:  # fmt: skip
        if fullname.partition(".")[0] in REFUSED:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def env_without_printers(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with this directory first on PYTHONPATH."""
    base = dict(os.environ if env is None else env)
    here = str(Path(__file__).parent)
    rest = base.get("PYTHONPATH", "")
    base["PYTHONPATH"] = here + (os.pathsep + rest if rest else "")
    return base


def refuse_printer_drivers(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the rest of a test, this process behaves as an install without the extra: the
    finder goes first on :data:`sys.meta_path` and the drivers already imported by earlier
    tests are forgotten (both undone after the test)."""
    monkeypatch.setattr(sys, "meta_path", [RefusePrinterDrivers(), *sys.meta_path])
    for name in list(sys.modules):
        if name.partition(".")[0] in REFUSED:
            monkeypatch.delitem(sys.modules, name)


if __name__ == "sitecustomize":
    sys.meta_path.insert(0, RefusePrinterDrivers())
