"""Known-answer self-test of the cryptographic stack.

The agent and the server call :func:`require_selftest` at start-up and refuse to run if
it raises: a wrong answer here means the installed ``cryptography`` / ``joserfc`` cannot
be trusted to sign or open what the wire carries. Every check is a small private
function returning ``True`` on success; :data:`_CHECKS` fixes their names and order.

Vectors:

* RFC 8037, Appendix A.1-A.5: the Ed25519 key, its RFC 7638 thumbprint (A.3) and the
  deterministic JWS of "Example of Ed25519 signing" under ``{"alg":"EdDSA"}``. Our wire
  pins RFC 9864's fully-specified ``Ed25519``; the checks show both names are the same
  primitive and that a verifier pinned to ``Ed25519`` refuses ``EdDSA``.
* RFC 9180, Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
  Base mode, first encryption (sequence number 0) - the only one a one-shot API can open.

Pure: no I/O. The only randomness is the ephemeral key of the HPKE round trip.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import OKPKey

from kiosk.errors import SelfTestError

__all__ = ["require_selftest", "run_selftest"]

# RFC 8037, Appendix A.1 (key), A.3 (thumbprint), A.4 (signing) and A.5 (validation).
_RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
_RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
_RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
_RFC8037_PAYLOAD = b"Example of Ed25519 signing"
_RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)

# RFC 9180, Appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305,
# Base Setup Information (mode 0, kem_id 32, kdf_id 1, aead_id 3) and its Encryptions,
# sequence number 0.
_RFC9180_INFO = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")
_RFC9180_SKEM = bytes.fromhex("f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600")
_RFC9180_PKEM = bytes.fromhex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
_RFC9180_SKRM = bytes.fromhex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb")
_RFC9180_PKRM = bytes.fromhex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a")
_RFC9180_ENC = bytes.fromhex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a")
_RFC9180_PT = bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479")
_RFC9180_AAD = bytes.fromhex("436f756e742d30")  # "Count-0"
_RFC9180_NONCE = bytes.fromhex("5c4d98150661b848853b547f")  # = base_nonce; derived internally
_RFC9180_CT = bytes.fromhex(
    "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"
)

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_ENC_LEN = 32
_TAG_LEN = 16


def _b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _flip_bit(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def _private_jwk() -> OKPKey:
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "d": _RFC8037_D, "x": _RFC8037_X})


def _public_jwk() -> OKPKey:
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": _RFC8037_X})


def _sign_compact(alg: str) -> str:
    with warnings.catch_warnings():  # joserfc warns that "EdDSA" is deprecated (RFC 9864)
        warnings.simplefilter("ignore", SecurityWarning)
        return jws.serialize_compact({"alg": alg}, _RFC8037_PAYLOAD, _private_jwk(), [alg])


def _verify_compact(value: str, alg: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        obj = jws.deserialize_compact(value, _public_jwk(), [alg])
    return obj.payload == _RFC8037_PAYLOAD and obj.protected == {"alg": alg}


def _raises(exc: type[Exception], action: Callable[[], object]) -> bool:
    """True if ``action`` raises ``exc``; any other outcome is a failed check."""
    try:
        action()
    except exc:
        return True
    return False


# --- RFC 8037: Ed25519 JWS -----------------------------------------------------------


def _rfc8037_public_from_private() -> bool:
    private = Ed25519PrivateKey.from_private_bytes(_b64u_decode(_RFC8037_D))
    return private.public_key().public_bytes_raw() == _b64u_decode(_RFC8037_X)


def _rfc8037_thumbprint() -> bool:
    members = '{"crv":"Ed25519","kty":"OKP","x":"' + _RFC8037_X + '"}'  # RFC 7638 order
    ours = _b64u_encode(hashlib.sha256(members.encode("ascii")).digest())
    return ours == _RFC8037_THUMBPRINT and _public_jwk().thumbprint() == _RFC8037_THUMBPRINT


def _rfc8037_jws_sign() -> bool:
    return _sign_compact("EdDSA") == _RFC8037_JWS


def _rfc8037_jws_verify() -> bool:
    return _verify_compact(_RFC8037_JWS, "EdDSA")


def _rfc8037_jws_rejects_flipped_bit() -> bool:
    head, payload, signature = _RFC8037_JWS.split(".")
    forged = f"{head}.{payload}.{_b64u_encode(_flip_bit(_b64u_decode(signature), 0))}"
    return _raises(BadSignatureError, lambda: _verify_compact(forged, "EdDSA"))


def _jws_ed25519_same_primitive() -> bool:
    compact = _sign_compact("Ed25519")
    head, payload, signature = compact.split(".")
    signing_input = f"{head}.{payload}".encode("ascii")
    raw = Ed25519PrivateKey.from_private_bytes(_b64u_decode(_RFC8037_D)).sign(signing_input)
    legacy = jws.JWSRegistry.algorithms["EdDSA"].sign(signing_input, _private_jwk())
    return (
        _b64u_decode(head) == b'{"alg":"Ed25519"}'
        and _b64u_decode(signature) == raw == legacy
        and _verify_compact(compact, "Ed25519")
    )


def _jws_pinned_refuses_eddsa() -> bool:
    return _raises(JoseError, lambda: _verify_compact(_RFC8037_JWS, "Ed25519"))


# --- RFC 9180: HPKE ------------------------------------------------------------------


def _recipient() -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(_RFC9180_SKRM)


def _rfc9180_public_from_private() -> bool:
    pk_r = _recipient().public_key().public_bytes_raw()
    pk_e = X25519PrivateKey.from_private_bytes(_RFC9180_SKEM).public_key().public_bytes_raw()
    return pk_r == _RFC9180_PKRM and pk_e == _RFC9180_PKEM == _RFC9180_ENC


def _open_vector(aad: bytes) -> bytes:
    return rust_openssl.hpke._decrypt_with_aad(
        _SUITE, _RFC9180_ENC + _RFC9180_CT, _recipient(), info=_RFC9180_INFO, aad=aad
    )


def _rfc9180_open() -> bool:
    return _open_vector(_RFC9180_AAD) == _RFC9180_PT


def _rfc9180_rejects_wrong_aad() -> bool:
    return _raises(InvalidTag, lambda: _open_vector(b"Count-1"))


def _sealed() -> bytes:
    return _SUITE.encrypt(_RFC9180_PT, _recipient().public_key(), info=_RFC9180_INFO)


def _hpke_roundtrip() -> bool:
    return _SUITE.decrypt(_sealed(), _recipient(), info=_RFC9180_INFO) == _RFC9180_PT


def _hpke_rejects_wrong_info() -> bool:
    sealed = _sealed()
    return _raises(InvalidTag, lambda: _SUITE.decrypt(sealed, _recipient(), info=b"other"))


def _hpke_rejects_flipped_bit() -> bool:
    forged = _flip_bit(_sealed(), _ENC_LEN + 1)
    return _raises(InvalidTag, lambda: _SUITE.decrypt(forged, _recipient(), info=_RFC9180_INFO))


def _hpke_rejects_truncated() -> bool:
    short = _sealed()[:-1]
    return _raises(InvalidTag, lambda: _SUITE.decrypt(short, _recipient(), info=_RFC9180_INFO))


def _hpke_rejects_wrong_key() -> bool:
    sealed = _sealed()
    other = X25519PrivateKey.from_private_bytes(_RFC9180_SKEM)
    return _raises(InvalidTag, lambda: _SUITE.decrypt(sealed, other, info=_RFC9180_INFO))


def _hpke_sizes() -> bool:
    return (
        len(_RFC9180_ENC) == hpke.KEM.X25519.enc_length() == _ENC_LEN
        and len(_RFC9180_CT) == len(_RFC9180_PT) + _TAG_LEN
        and len(_sealed()) == len(_RFC9180_PT) + _ENC_LEN + _TAG_LEN
    )


_CHECKS: tuple[tuple[str, Callable[[], bool]], ...] = (
    ("rfc8037-a1-public-from-private", _rfc8037_public_from_private),
    ("rfc8037-a3-thumbprint", _rfc8037_thumbprint),
    ("rfc8037-a4-jws-sign", _rfc8037_jws_sign),
    ("rfc8037-a5-jws-verify", _rfc8037_jws_verify),
    ("rfc8037-a5-rejects-flipped-bit", _rfc8037_jws_rejects_flipped_bit),
    ("jws-ed25519-same-primitive", _jws_ed25519_same_primitive),
    ("jws-pinned-refuses-eddsa", _jws_pinned_refuses_eddsa),
    ("rfc9180-a2.1-public-from-private", _rfc9180_public_from_private),
    ("rfc9180-a2.1-open", _rfc9180_open),
    ("rfc9180-a2.1-rejects-wrong-aad", _rfc9180_rejects_wrong_aad),
    ("hpke-roundtrip", _hpke_roundtrip),
    ("hpke-rejects-wrong-info", _hpke_rejects_wrong_info),
    ("hpke-rejects-flipped-bit", _hpke_rejects_flipped_bit),
    ("hpke-rejects-truncated", _hpke_rejects_truncated),
    ("hpke-rejects-wrong-key", _hpke_rejects_wrong_key),
    ("hpke-sizes", _hpke_sizes),
)


def run_selftest() -> list[tuple[str, bool]]:
    """Run every known-answer check; return ``(name, passed)`` in a fixed order.

    Never raises for a failing check: an exception inside a check counts as a failure.
    """
    results: list[tuple[str, bool]] = []
    for name, check in _CHECKS:
        try:
            passed = check() is True
        except Exception:  # any surprise is a failed check, never a crash
            passed = False
        results.append((name, passed))
    return results


def selftest_report() -> tuple[list[str], bool]:
    """The lines the ``selftest`` commands print (one per check) and whether all passed."""
    results = run_selftest()
    lines = [f"{'ok' if ok else 'FAIL':<4} {name}" for name, ok in results]
    if not results:
        return ["FAIL selftest ran no checks"], False
    return lines, all(ok for _, ok in results)


def require_selftest() -> None:
    """Raise :class:`SelfTestError` naming every failed check; return if all pass."""
    failed = [name for name, passed in run_selftest() if not passed]
    if failed:
        raise SelfTestError("crypto self-test failed: " + ", ".join(failed))
