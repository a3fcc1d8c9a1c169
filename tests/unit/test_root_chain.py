"""The root chain (protocol §6.5, §9.10; ADR 0033), pure: ``kiosk.rootchain`` and the way
``apply_feed`` pins a rotated root only together with a keyring it signed."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.errors import Reason, RejectedError, WireError
from kiosk.feed import FeedResponse, feed_body, parse_feed
from kiosk.issue import sign_keyring
from kiosk.jose import sign_compact
from kiosk.keys import thumbprint
from kiosk.limits import MAX_ROOT_LINKS, TYP_ROOT
from kiosk.rootchain import (
    RootLink,
    RootStatement,
    follow_root_chain,
    root_claims,
    sign_root_link,
)
from kiosk.strictjson import canonical_dumps
from kiosk.sync_step import FeedOutcome, apply_feed
from tests.sim.district import DistrictSim, KioskHarness, fixed_key

DISTRICT = "74.08"


def _link(old: Ed25519PrivateKey, new: Ed25519PrivateKey, version: int, *,
          district: str = DISTRICT) -> RootLink:  # fmt: skip
    statement = RootStatement(district, version, 1_800_000_000,
                              thumbprint(old.public_key()), new.public_key())  # fmt: skip
    return sign_root_link(statement, previous=old, new=new)


def _roots(count: int) -> list[Ed25519PrivateKey]:
    return [fixed_key(f"root-{n}") for n in range(1, count + 1)]


def _chain(roots: list[Ed25519PrivateKey]) -> tuple[RootLink, ...]:
    return tuple(_link(roots[i - 1], roots[i], i + 1) for i in range(1, len(roots)))


def _follow(chain: tuple[RootLink, ...], pinned: Ed25519PrivateKey) -> tuple[str, int | None]:
    key, version = follow_root_chain(chain, district_code=DISTRICT, root_key=pinned.public_key())
    return thumbprint(key), version


def _refused(chain: tuple[RootLink, ...], pinned: Ed25519PrivateKey) -> Reason:
    with pytest.raises(RejectedError) as caught:
        follow_root_chain(chain, district_code=DISTRICT, root_key=pinned.public_key())
    return caught.value.reason


def test_a_kiosk_follows_the_chain_from_the_root_it_pinned() -> None:
    roots = _roots(4)
    chain = _chain(roots)
    newest = thumbprint(roots[3].public_key())
    assert _follow(chain, roots[0]) == (newest, 4)  # away during three rotations
    assert _follow(chain, roots[2]) == (newest, 4)  # enrolled after the second
    assert _follow(chain, roots[3]) == (newest, None)  # holds the newest already
    assert _follow((), roots[0]) == (thumbprint(roots[0].public_key()), None)


def test_a_chain_that_does_not_start_from_the_pinned_root_is_refused() -> None:
    roots, stranger = _roots(2), fixed_key("not-a-root")
    forged = (_link(stranger, fixed_key("attacker-root"), 2),)
    assert _refused(forged, roots[0]) is Reason.UNKNOWN_KID
    # naming the pinned root as signer does not help without its key
    statement = RootStatement(DISTRICT, 2, 0, thumbprint(roots[0].public_key()),
                              fixed_key("attacker-root").public_key())  # fmt: skip
    claims = root_claims(statement)
    fake = (sign_compact(claims, typ=TYP_ROOT, kid=statement.previous_kid, key=stranger),
            sign_compact(claims, typ=TYP_ROOT, kid=thumbprint(statement.key),
                         key=fixed_key("attacker-root")))  # fmt: skip
    assert _refused((fake,), roots[0]) is Reason.BAD_SIGNATURE


def test_each_check_of_a_link() -> None:
    old, new, other = fixed_key("root-1"), fixed_key("root-2"), fixed_key("other")
    good = _link(old, new, 2)
    # the new root must sign too (with its own kid)
    claims = root_claims(RootStatement(DISTRICT, 2, 1_800_000_000,
                                       thumbprint(old.public_key()), new.public_key()))  # fmt: skip
    by_other = sign_compact(claims, typ=TYP_ROOT, kid=thumbprint(other.public_key()), key=other)
    assert _refused(((good[0], by_other),), old) is Reason.UNKNOWN_KID
    # both tokens sign the same payload bytes
    moved = canonical_dumps({**claims, "iat": 1})
    assert moved != canonical_dumps(claims)
    later = sign_compact({**claims, "iat": 1}, typ=TYP_ROOT, kid=thumbprint(new.public_key()),
                         key=new)  # fmt: skip
    assert _refused(((good[0], later),), old) is Reason.BAD_CLAIM
    # another district's chain, a keyring's typ, a version that skips
    assert _refused((_link(old, new, 2, district="74.09"),), old) is Reason.WRONG_ISSUER
    wrong_typ = sign_compact(claims, typ="cedoka-keyring+jwt", kid=thumbprint(old.public_key()),
                             key=old)  # fmt: skip
    assert _refused(((wrong_typ, good[1]),), old) is Reason.BAD_TYP
    third = fixed_key("root-3")
    assert _refused((good, _link(new, third, 4)), old) is Reason.BAD_CLAIM
    assert _refused(tuple([good] * (MAX_ROOT_LINKS + 1)), old) is Reason.BAD_CLAIM
    with pytest.raises(ValueError):
        sign_root_link(RootStatement(DISTRICT, 2, 0, thumbprint(old.public_key()),
                                     new.public_key()), previous=other, new=new)  # fmt: skip


def test_the_feed_member_root_round_trips_and_a_bad_shape_is_refused() -> None:
    sim = DistrictSim()
    chain = _chain(_roots(3))
    body = feed_body(FeedResponse(head=sim.head(), jobs=(), keyring=sim.keyring_token(),
                                  root=chain))  # fmt: skip
    assert parse_feed(body).root == chain
    assert parse_feed(feed_body(FeedResponse(sim.head(), (), None))).root is None
    for bad in ('[["a.b.c"]]', '"a.b.c"', "[]", '[["a.b.c", 1]]'):
        text = body.decode().replace(body.decode().split('"root":')[1].split(',"v"')[0], bad)
        with pytest.raises(WireError):
            parse_feed(text.encode())


def _rotated(sim: DistrictSim, new_root: Ed25519PrivateKey) -> RootLink:
    link = _link(sim.root, new_root, 2, district=sim.district_code)
    sim.root, sim.keyring_version = new_root, sim.keyring_version + 1
    return link


def _outcome(kiosk: KioskHarness, sim: DistrictSim, feed: FeedResponse) -> FeedOutcome:
    return apply_feed(
        kiosk.state, feed, local_now_s=sim.now_s, is_known=lambda _: False,
        manifest_digest=lambda _: None, docs_taken=lambda _: set(), seal_keys=kiosk.seal_keys,
        max_document_bytes=2**20,
    )  # fmt: skip


def test_apply_feed_pins_the_new_root_with_the_keyring_it_signed() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    old_root, new_root = sim.root, fixed_key("root-2")
    link = _rotated(sim, new_root)
    out = _outcome(kiosk, sim, FeedResponse(sim.head(), (), sim.keyring_token(), root=(link,)))
    assert out.keyring_refused is None and out.keyring_token is not None
    assert out.new_root is not None and out.new_root[1] == 2
    assert thumbprint(out.trust.root_key) == thumbprint(new_root.public_key())
    # from then on a keyring the old root signs is refused: its kid is no longer trusted
    kiosk.trust = out.trust
    sim.keyring_version += 1
    by_old = sign_keyring(sim.keyring(), old_root)
    refused = _outcome(kiosk, sim, FeedResponse(sim.head(), (), by_old, root=(link,)))
    assert refused.keyring_refused is Reason.UNKNOWN_KID and refused.keyring_token is None
    assert refused.new_root is None and refused.trust.keyring == out.trust.keyring


def test_a_chain_without_a_keyring_signed_by_its_root_changes_nothing() -> None:
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    old_root = sim.root
    link = _rotated(sim, fixed_key("root-2"))
    # the chain arrives, but the keyring is still the old root's: nothing is pinned
    stale = sign_keyring(sim.keyring(), old_root)
    out = _outcome(kiosk, sim, FeedResponse(sim.head(), (), stale, root=(link,)))
    assert out.keyring_refused is Reason.UNKNOWN_KID and out.new_root is None
    assert thumbprint(out.trust.root_key) == thumbprint(old_root.public_key())
    # a forged chain with a keyring signed by the forger's root: refused, nothing pinned
    forger = fixed_key("forger")
    forged = _link(fixed_key("not-a-root"), forger, 2)
    forged_keyring = sign_keyring(sim.keyring(), forger)
    out = _outcome(kiosk, sim, FeedResponse(sim.head(), (), forged_keyring, root=(forged,)))
    assert out.keyring_refused is Reason.UNKNOWN_KID and out.new_root is None
    assert out.trust.root_key == kiosk.state.root_key
    assert out.trust.keyring == kiosk.state.keyring
