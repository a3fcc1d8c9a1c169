"""The installed version of the ``cedoka`` distribution, as both command lines print it."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "cedoka"


def package_version() -> str:
    """Return the installed version of the ``cedoka`` distribution (never raises: a source
    tree that was not installed answers ``unknown (not installed)``)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
