"""The installed version both command lines print."""

from __future__ import annotations

from importlib import metadata

import pytest

from cedoka_io import version


def test_the_installed_distribution_names_its_version() -> None:
    assert version.package_version() == metadata.version("cedoka")


def test_a_source_tree_that_was_not_installed_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(version, "DISTRIBUTION", "cedoka-not-installed-anywhere")
    assert version.package_version() == "unknown (not installed)"
