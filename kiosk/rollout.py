"""Agent releases and their staged roll-out (issue 19, ADR 0031): the rules that the district's
TUF repository (``district/releases.py``) writes and the agent (``agent/update.py``) reads.

A release is one TUF target, ``cedoka-<V>.tar.gz``, whose ``custom`` member holds
``{"cedoka": {"version": V, "percent": P, "offices": [CODE, …]}}``. A kiosk may take it
when its office is listed, or when its bucket (:func:`rollout_bucket`) is below ``P``.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kiosk.errors import OperatorError

VERSION = re.compile(r"(0|[1-9][0-9]{0,3})(\.(0|[1-9][0-9]{0,3})){1,3}")
CUSTOM = "cedoka"
BUCKETS = 100
MAX_OFFICES = 1000


def parse_version(text: str) -> tuple[int, ...]:
    """``"0.2.0"`` → ``(0, 2, 0)``: 2 to 4 dot-separated numbers without leading zeros."""
    if not VERSION.fullmatch(text):
        raise OperatorError(f"{text!r} is not a release version: 2-4 numbers joined by dots, "
                            "e.g. 0.2.0")  # fmt: skip
    return tuple(int(part) for part in text.split("."))


def newer(candidate: str, current: str) -> bool:
    """True when ``candidate`` is a higher version than ``current`` (an unparsable current
    version, e.g. a development tree's, is older than any release)."""
    try:
        have = parse_version(current)
    except OperatorError:
        return True
    return parse_version(candidate) > have


def target_name(version: str) -> str:
    """The TUF target path of a release: ``cedoka-<V>.tar.gz``."""
    return f"cedoka-{version}.tar.gz"


def rollout_bucket(device_id: str) -> int:
    """A device's place in a percentage roll-out, 0…99, the same for every release (the same
    kiosks go first each time): the first 4 bytes of SHA-256(``cedoka-rollout`` NUL device
    id), big-endian, modulo 100."""
    digest = hashlib.sha256(b"cedoka-rollout\x00" + device_id.encode("ascii")).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


@dataclass(frozen=True)
class Stage:
    """Who may take a release: offices by code, and devices whose bucket is < ``percent``."""

    percent: int
    offices: tuple[str, ...]

    def admits(self, *, device_id: str, office: str) -> bool:
        return office in self.offices or rollout_bucket(device_id) < self.percent

    def describe(self) -> str:
        if not self.offices:
            return f"{self.percent}%"
        return f"{self.percent}% + {', '.join(self.offices)}"


def custom_of(version: str, stage: Stage) -> dict[str, object]:
    """The target's ``custom`` member for a release at ``stage``."""
    return {CUSTOM: {"version": version, "percent": stage.percent,
                     "offices": list(stage.offices)}}  # fmt: skip


def parse_stage(path: str, custom: object) -> tuple[str, Stage] | None:
    """A target's release version and stage, or None when the target is not a release (a
    ``custom`` that is not ours, or a path that is not ``target_name(version)``): a kiosk
    ignores such a target."""
    ours = custom.get(CUSTOM) if isinstance(custom, dict) else None
    if not isinstance(ours, dict):
        return None
    version, percent, offices = ours.get("version"), ours.get("percent"), ours.get("offices")
    if (not isinstance(version, str) or not VERSION.fullmatch(version)
            or path != target_name(version)
            or not isinstance(percent, int) or isinstance(percent, bool)
            or not 0 <= percent <= BUCKETS
            or not isinstance(offices, list) or len(offices) > MAX_OFFICES
            or not all(isinstance(o, str) for o in offices)):  # fmt: skip
        return None
    return version, Stage(percent, tuple(offices))
