"""Rotating the district root (ADR 0033): one link of the root chain, the keyring the new
root signs, and the TUF repository's next ``root.json`` signed by both roots.

Offline, in three steps that match ``keyring export`` / ``root sign-keyring`` / ``keyring
import``:

1. on the server, ``rotate-root --new-pub FILE --out REQUEST`` writes a *request*
   (:func:`rotation_request`): the root statement's claims, the next keyring's claims and
   the unsigned next TUF root;
2. on the signing machine, ``root sign-rotation REQUEST --key OLD --new-key NEW --out
   SIGNED`` signs all three (:func:`sign_rotation`): the statement with both roots, the
   keyring with the new root, the TUF root with both;
3. on the server, ``rotate-root --import SIGNED`` checks everything against what the server
   trusts now, then writes the TUF root and serves the chain and the keyring
   (:func:`import_rotation`).

With the root online, ``rotate-root`` does the three steps at once (:func:`rotate_online`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import Metadata, Root

from district.keyring import Keys
from district.keystore import KeyStore
from district.releases import ReleaseRepo
from kiosk.errors import OperatorError, RejectedError
from kiosk.issue import sign_keyring
from kiosk.keys import thumbprint
from kiosk.rootchain import RootStatement, parse_root, root_claims, sign_root_link
from kiosk.strictjson import canonical_dumps, loads_object
from kiosk.wire import keyring_claims, parse_keyring

FORMAT = "cedoka-root-rotation/1"
MAX_ROTATION_BYTES = 256 * 1024


def rotation_request(keys: Keys, repo: ReleaseRepo, new_root: Ed25519PublicKey, *,
                     now_s: int) -> bytes:  # fmt: skip
    """What the offline roots sign for one rotation (canonical JSON)."""
    current = keys.root_public()
    if thumbprint(new_root) == thumbprint(current):
        raise OperatorError("the new root key is the current root key")
    statement = RootStatement(issuer=keys.district_code, version=keys.root_version + 1,
                              issued_at_s=now_s, previous_kid=thumbprint(current),
                              key=new_root)  # fmt: skip
    request: dict[str, object] = {
        "format": FORMAT,
        "root": root_claims(statement),
        "keyring": keyring_claims(keys.next_keyring(now_s=now_s)),
    }
    tuf_root = repo.next_root(new_root, now_s=now_s)
    if tuf_root is not None:
        request["tuf_root"] = tuf_root.signed.to_dict()
    return canonical_dumps(request)


def _read(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads_object(data, max_bytes=MAX_ROTATION_BYTES)
    except RejectedError as error:
        raise OperatorError(f"not a root rotation {what}: {error}") from None
    if value.get("format") != FORMAT:
        raise OperatorError(f"not a root rotation {what} (format {FORMAT})")
    return value


def sign_rotation(request: bytes, *, old: Ed25519PrivateKey, new: Ed25519PrivateKey) -> bytes:
    """The signing machine's part: sign a rotation request with the current root (``old``)
    and the new one (JSON: the link, the keyring token, the TUF root's bytes).

    Raises:
        OperatorError: not a request, or the keys are not the ones it names.
    """
    value = _read(request, "request")
    try:
        statement = parse_root(value["root"])
        keyring = parse_keyring(value["keyring"])
    except (KeyError, TypeError, RejectedError) as error:
        raise OperatorError(f"not a root rotation request: {error}") from None
    if thumbprint(old.public_key()) != statement.previous_kid:
        raise OperatorError("--key holds another root than the district's current one "
                            f"({statement.previous_kid[:12]}…)")  # fmt: skip
    if thumbprint(new.public_key()) != thumbprint(statement.key):
        raise OperatorError("--new-key holds another key than the request introduces")
    first, second = sign_root_link(statement, previous=old, new=new)
    signed: dict[str, object] = {
        "format": FORMAT,
        "root": [first.decode("ascii"), second.decode("ascii")],
        "keyring": sign_keyring(keyring, new).decode("ascii"),
    }
    if "tuf_root" in value:
        try:
            tuf_root: Metadata[Root] = Metadata.from_dict(
                {"signed": dict(value["tuf_root"]), "signatures": []}
            )
        except (KeyError, TypeError, ValueError) as error:
            raise OperatorError(f"the request's TUF root is not TUF root metadata: "
                                f"{error}") from None  # fmt: skip
        tuf_root.sign(CryptoSigner(old, SSlibKey.from_crypto(old.public_key())), append=True)
        tuf_root.sign(CryptoSigner(new, SSlibKey.from_crypto(new.public_key())), append=True)
        signed["tuf_root"] = tuf_root.to_bytes().decode("utf-8")
    return canonical_dumps(signed)


def import_rotation(keys: Keys, repo: ReleaseRepo, signed: bytes) -> int:
    """Check a signed rotation against what the server trusts now; then write the TUF root
    (when there is a repository) and serve the chain and the new keyring. Returns the new
    root's version.

    Raises:
        OperatorError: anything does not verify (nothing is changed then).
    """
    value = _read(signed, "answer")
    try:
        first, second = value["root"]
        link = (str(first).encode("ascii"), str(second).encode("ascii"))
        keyring_token = str(value["keyring"]).encode("ascii")
        tuf_root = value.get("tuf_root")
    except (KeyError, TypeError, ValueError, UnicodeEncodeError) as error:
        raise OperatorError(f"not a signed root rotation: {error}") from None
    statement, _ = keys.check_rotation(link, keyring_token)
    if repo.exists():
        if not isinstance(tuf_root, str):
            raise OperatorError("the district has a release repository: the rotation needs "
                                "its next root.json (make the request again)")  # fmt: skip
        repo.add_root(tuf_root.encode("utf-8"), new_root=statement.key)
    version = keys.accept_rotation(link, keyring_token)
    return version


def rotate_online(keys: Keys, repo: ReleaseRepo, home: Path, *, now_s: int) -> int:
    """An online root's rotation: a new ``root.pem``, the chain, the keyring, the TUF root.

    The new key is written first as ``root-next.pem``; once the chain names it, it becomes
    ``root.pem`` (:meth:`Keys.root_private` finishes that after a crash)."""
    if keys.root_offline:
        raise OperatorError("the root is offline: 'rotate-root --new-pub FILE --out REQUEST', "
                            "sign it with 'root sign-rotation', then 'rotate-root "
                            "--import'")  # fmt: skip
    store = KeyStore(home / "keys")
    old = keys.root_private()
    store.remove("root-next")
    new = store.create("root-next")
    request = rotation_request(keys, repo, new.public_key(), now_s=now_s)
    version = import_rotation(keys, repo, sign_rotation(request, old=old, new=new))
    keys.root_private()  # root-next.pem becomes root.pem
    return version
