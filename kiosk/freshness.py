"""How fresh the district's confirmation is: the freeze rule of protocol 9.8, as one pure
judgement for ``cedoka status``, ``cedoka doctor`` and the kiosk screen.

Every feed answer carries a freshly signed head that lives at most an hour (the reference
district: ten minutes). A kiosk whose link works therefore always holds an unexpired head.
The feed is **frozen** when the kiosk has no fresh confirmation although it keeps asking:

- the last verified head has expired at trusted now — no newer head verified for a whole
  head lifetime, whatever the answers brought (a head that *stops advancing*: the same
  head again, refused as ``head_expired`` once its ``exp`` passes, or an older one, refused
  as ``head_replayed`` / ``head_rollback``; or no answer at all); or
- the newest head the kiosk got was refused as ``head_expired`` (also before any head was
  verified, e.g. just after enrolment).

Meanwhile the kiosk prints only what it verified before, and shows "no confirmation from
the district since <the last verified head's iat>".
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.errors import Reason
from kiosk.model import FeedHead


@dataclass(frozen=True, slots=True)
class Freshness:
    """The district's last confirmation, as the kiosk sees it at one moment."""

    confirmed_s: int | None  # iat of the last verified head (None before the first)
    confirmed_until_s: int | None  # its exp: the confirmation holds until then
    refused: str | None  # the Reason the newest head was refused for (None: verified / none yet)
    frozen: bool  # no fresh confirmation (9.8): show "no confirmation since confirmed_s"


def freshness(head: FeedHead | None, *, refused: str | None, trusted_now_s: int) -> Freshness:
    """Judge the stored head (the last verified one) and the reason the newest head was
    refused (None when it was verified, or none came yet) at ``trusted_now_s``."""
    expired = head is not None and head.expires_at_s <= trusted_now_s
    return Freshness(
        confirmed_s=None if head is None else head.issued_at_s,
        confirmed_until_s=None if head is None else head.expires_at_s,
        refused=refused or None,
        frozen=expired or refused == Reason.HEAD_EXPIRED.value,
    )
