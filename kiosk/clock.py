"""Trusted time: a clock that cannot be set back.

Village PCs often have a wrong clock, and "set the clock back to revive an expired job" is
a threat. The kiosk therefore judges every time claim against

    trusted_now = max(local clock, highest signed time it has verified)

and the floor only moves forward: each verified feed head (signed by the district) raises
it to the head's ``iat``. The agent persists the floor with its state.
"""

from __future__ import annotations


def trusted_now(*, local_now_s: int, floor_s: int) -> int:
    """The time to judge signed claims by: never earlier than the last signed time seen."""
    return max(local_now_s, floor_s)


def raise_floor(floor_s: int, signed_time_s: int) -> int:
    """The new floor after verifying a message signed at ``signed_time_s``."""
    return max(floor_s, signed_time_s)
