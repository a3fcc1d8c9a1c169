"""The root chain (ADR 0033, protocol §6.5): how a kiosk follows a rotation of the district
root without re-enrolment.

The root pinned at enrolment is *version 1* of the district root, or whatever version was
current then. Each rotation adds one **link**: a root statement (``cedoka-root+jwt``: ``v``,
``iss``, ``ver``, ``iat``, ``prev``, ``jwk``) introducing root version ``ver`` (its public key
``jwk``), as two compact JWS over the *same* payload bytes: the first signed by the previous
root (``kid`` = ``prev``, its thumbprint), the second by the new root (``kid`` = the thumbprint
of ``jwk``). So a new root needs the old one's consent and proves it holds its own key, like
TUF's root versions.

:func:`follow_root_chain` walks the chain from the kiosk's pinned root: it is pure (no I/O)
and raises one :class:`~kiosk.errors.RejectedError` for the first failed check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk import PROTOCOL_VERSION
from kiosk.errors import Reason, RejectedError
from kiosk.fields import Fields
from kiosk.ids import DISTRICT_CODE, KID
from kiosk.jose import read_unverified_header, sign_compact, verify_compact
from kiosk.keys import parse_ed25519_jwk, public_jwk, thumbprint
from kiosk.limits import MAX_ROOT_BYTES, MAX_ROOT_LINKS, TYP_ROOT
from kiosk.model import Keyring
from kiosk.verify import verify_keyring

RootLink = tuple[bytes, bytes]  # (signed by root ver - 1, signed by root ver), same payload


@dataclass(frozen=True, slots=True)
class RootStatement:
    """Root version ``version`` of district ``issuer`` is ``key``; the one before it had the
    thumbprint ``previous_kid``."""

    issuer: str
    version: int
    issued_at_s: int
    previous_kid: str
    key: Ed25519PublicKey


def root_claims(statement: RootStatement) -> dict[str, object]:
    """The claims both tokens of a link sign."""
    return {
        "v": PROTOCOL_VERSION,
        "iss": statement.issuer,
        "ver": statement.version,
        "iat": statement.issued_at_s,
        "prev": statement.previous_kid,
        "jwk": public_jwk(statement.key),
    }


def parse_root(claims: dict[str, object]) -> RootStatement:
    """Parse root statement claims, in the order ``v``, ``iss``, ``ver``, ``iat``, ``prev``,
    ``jwk``.

    Raises:
        WireError: UNSUPPORTED_VERSION, BAD_CLAIM.
    """
    f = Fields(claims, "root")
    f.version()
    return RootStatement(
        issuer=f.text("iss", pattern=DISTRICT_CODE, max_len=5),
        version=f.integer("ver", low=2),
        issued_at_s=f.integer("iat"),
        previous_kid=f.text("prev", pattern=KID, max_len=64),
        key=parse_ed25519_jwk(f.raw("jwk")),
    )


def sign_root_link(statement: RootStatement, *, previous: Ed25519PrivateKey,
                   new: Ed25519PrivateKey) -> RootLink:  # fmt: skip
    """Sign a root statement with the previous root and the new one (the district side).

    Raises:
        ValueError: the keys are not the statement's (``prev`` / ``jwk``).
    """
    if thumbprint(previous.public_key()) != statement.previous_kid:
        raise ValueError("the previous root key is not the one the statement names")
    if thumbprint(new.public_key()) != thumbprint(statement.key):
        raise ValueError("the new root key is not the one the statement introduces")
    claims = root_claims(statement)
    return (
        sign_compact(claims, typ=TYP_ROOT, kid=statement.previous_kid, key=previous),
        sign_compact(claims, typ=TYP_ROOT, kid=thumbprint(statement.key), key=new),
    )


def verify_root_link(link: RootLink, *, district_code: str,
                     root_key: Ed25519PublicKey) -> RootStatement:  # fmt: skip
    """Verify one link against the root it must start from (checks R2-R7 of §9.10).

    Raises:
        RejectedError: JWS reasons (``unknown_kid`` when the first token is not signed by
            ``root_key``, or the second not by the key it introduces), UNSUPPORTED_VERSION,
            BAD_CLAIM, WRONG_ISSUER.
    """
    root_kid = thumbprint(root_key)
    first = verify_compact(link[0], typ=TYP_ROOT, max_bytes=MAX_ROOT_BYTES,
                           keys=lambda kid: root_key if kid == root_kid else None)  # fmt: skip
    statement = parse_root(first.claims)
    if statement.issuer != district_code:
        raise RejectedError(Reason.WRONG_ISSUER, "root statement of another district")
    if statement.previous_kid != root_kid:
        raise RejectedError(Reason.BAD_CLAIM, "root.prev: not the root that signed it")
    new_kid = thumbprint(statement.key)
    if new_kid == root_kid:
        raise RejectedError(Reason.BAD_CLAIM, "root.jwk: the same key as the previous root")
    verify_compact(link[1], typ=TYP_ROOT, max_bytes=MAX_ROOT_BYTES,
                   keys=lambda kid: statement.key if kid == new_kid else None)  # fmt: skip
    if link[0].split(b".")[1] != link[1].split(b".")[1]:
        raise RejectedError(Reason.BAD_CLAIM, "the two tokens of a root link sign other claims")
    return statement


def follow_root_chain(
    chain: Sequence[RootLink], *, district_code: str, root_key: Ed25519PublicKey
) -> tuple[Ed25519PublicKey, int | None]:
    """The newest root the chain leads to from ``root_key`` (the pinned root), with its
    version; ``(root_key, None)`` when the kiosk holds the newest root already.

    Raises:
        RejectedError: the chain does not pass through the pinned root (``unknown_kid``), or
            a link from there on fails (see :func:`verify_root_link`; a version that does not
            follow the previous link's by one: ``bad_claim``).
    """
    if not chain:
        return root_key, None
    if len(chain) > MAX_ROOT_LINKS:
        raise RejectedError(Reason.BAD_CLAIM, f"root chain: more than {MAX_ROOT_LINKS} links")
    root_kid = thumbprint(root_key)
    if read_unverified_header(chain[-1][1], max_bytes=MAX_ROOT_BYTES).get("kid") == root_kid:
        return root_key, None  # the pinned root is the newest
    kids = [read_unverified_header(link[0], max_bytes=MAX_ROOT_BYTES).get("kid")
            for link in chain]  # fmt: skip
    if root_kid not in kids:
        raise RejectedError(Reason.UNKNOWN_KID, "the root chain does not start from the "
                            "pinned root")  # fmt: skip
    current, version = root_key, None
    for link in chain[kids.index(root_kid) :]:
        statement = verify_root_link(link, district_code=district_code, root_key=current)
        if version is not None and statement.version != version + 1:
            raise RejectedError(Reason.BAD_CLAIM, "root.ver: not the previous link's + 1")
        current, version = statement.key, statement.version
    return current, version


def verify_keyring_with_chain(
    token: bytes, chain: Sequence[RootLink] | None, *, district_code: str,
    root_key: Ed25519PublicKey, current: Keyring | None,
) -> tuple[Keyring, tuple[Ed25519PublicKey, int] | None]:  # fmt: skip
    """A feed's keyring, verified under the root its root chain leads to from ``root_key``
    (protocol §6.2 step 1, §9.10): the keyring, and the new root with its version when the
    chain led to one (to pin together with the keyring), else None.

    Raises:
        RejectedError: the chain's or the keyring's first failed check.
    """
    new_root, version = follow_root_chain(chain or (), district_code=district_code,
                                          root_key=root_key)  # fmt: skip
    keyring = verify_keyring(token, district_code=district_code, root_key=new_root,
                             current=current)  # fmt: skip
    return keyring, None if version is None else (new_root, version)
