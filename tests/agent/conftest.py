"""The agent's tests run against the real district server (tests/district/conftest.py)."""

from __future__ import annotations

from tests.district.conftest import server

__all__ = ["server"]
