"""The freeze rule (protocol 9.8, ``kiosk.freshness``), table-driven at its edges."""

from __future__ import annotations

import pytest

from kiosk.freshness import Freshness, freshness
from kiosk.model import FeedHead

T0 = 1_790_000_000
HEAD = FeedHead(device_id="dev_01JD0000000000000000000001", issuer="74.08", seq=3,
                issued_at_s=T0 - 600, expires_at_s=T0, cancelled=frozenset(),
                keyring_version=1)  # fmt: skip


@pytest.mark.parametrize(
    ("head", "refused", "now", "frozen"),
    [
        (None, None, T0, False),  # just enrolled: nothing to confirm yet
        (None, "head_expired", T0, True),  # the first head the kiosk got had expired
        (None, "bad_signature", T0, False),  # an error, not a freeze
        (HEAD, None, T0 - 1, False),  # the last confirmation still holds
        (HEAD, None, T0, True),  # it ran out (exp is exclusive), however the answers went
        (HEAD, "head_replayed", T0 - 1, False),  # an older head came, the last one holds
        (HEAD, "head_replayed", T0, True),  # … and no newer one verified since
        (HEAD, "head_expired", T0 - 1, True),  # the newest head the district sends expired
        (HEAD, "", T0 - 1, False),  # "" is "not refused", as stored after a verified head
    ],
)  # fmt: skip
def test_frozen(head: FeedHead | None, refused: str | None, now: int, frozen: bool) -> None:
    seen = freshness(head, refused=refused, trusted_now_s=now)
    assert seen.frozen is frozen
    assert seen.refused == (refused or None)


def test_the_last_confirmation_is_the_last_verified_head() -> None:
    assert freshness(HEAD, refused=None, trusted_now_s=T0) == Freshness(
        confirmed_s=T0 - 600, confirmed_until_s=T0, refused=None, frozen=True
    )
    assert freshness(None, refused=None, trusted_now_s=T0) == Freshness(None, None, None, False)
