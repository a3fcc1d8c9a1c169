"""The start-up known-answer self-test: it passes here, and it can fail."""

from __future__ import annotations

import pytest

from kiosk import selftest
from kiosk.errors import SelfTestError


def test_every_check_passes() -> None:
    results = selftest.run_selftest()
    assert results, "no checks ran"
    assert [name for name, passed in results if not passed] == []


def test_require_selftest_passes() -> None:
    selftest.require_selftest()


def test_check_names_are_unique_and_in_fixed_order() -> None:
    names = [name for name, _ in selftest.run_selftest()]
    assert len(names) == len(set(names))
    assert names == [name for name, _ in selftest._CHECKS]
    assert names[:3] == [
        "rfc8037-a1-public-from-private",
        "rfc8037-a3-thumbprint",
        "rfc8037-a4-jws-sign",
    ]
    for expected in (
        "rfc9180-a2.1-open",
        "hpke-roundtrip",
        "hpke-rejects-wrong-info",
        "hpke-rejects-flipped-bit",
        "hpke-rejects-truncated",
        "hpke-rejects-wrong-key",
        "hpke-sizes",
    ):
        assert expected in names


def _failed() -> list[str]:
    return [name for name, passed in selftest.run_selftest() if not passed]


def test_a_wrong_jws_signature_fails_sign_check(monkeypatch: pytest.MonkeyPatch) -> None:
    head, payload, signature = selftest._RFC8037_JWS.split(".")
    wrong = signature[:-2] + ("AA" if not signature.endswith("AA") else "BA")
    monkeypatch.setattr(selftest, "_RFC8037_JWS", f"{head}.{payload}.{wrong}")
    failed = _failed()
    assert "rfc8037-a4-jws-sign" in failed
    assert "rfc8037-a5-jws-verify" in failed
    assert not any(name.startswith(("rfc9180", "hpke")) for name in failed)
    with pytest.raises(SelfTestError, match="rfc8037-a4-jws-sign"):
        selftest.require_selftest()


def test_a_wrong_thumbprint_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "_RFC8037_THUMBPRINT", "A" * 43)
    assert _failed() == ["rfc8037-a3-thumbprint"]


def test_a_wrong_hpke_plaintext_fails_open_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "_RFC9180_PT", b"Beauty is truth, truth beautz")
    assert _failed() == ["rfc9180-a2.1-open"]
    with pytest.raises(SelfTestError, match=r"rfc9180-a2\.1-open"):
        selftest.require_selftest()


def test_a_wrong_hpke_ciphertext_fails_open_check(monkeypatch: pytest.MonkeyPatch) -> None:
    ct = bytearray(selftest._RFC9180_CT)
    ct[0] ^= 0x80
    monkeypatch.setattr(selftest, "_RFC9180_CT", bytes(ct))
    assert "rfc9180-a2.1-open" in _failed()


def test_a_wrong_recipient_key_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selftest, "_RFC9180_PKRM", bytes(32))
    assert _failed() == ["rfc9180-a2.1-public-from-private"]


def test_an_exception_inside_a_check_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> bool:
        raise RuntimeError("broken backend")

    monkeypatch.setattr(selftest, "_CHECKS", (("ok", lambda: True), ("boom", boom)))
    assert selftest.run_selftest() == [("ok", True), ("boom", False)]
    with pytest.raises(SelfTestError, match="boom"):
        selftest.require_selftest()


def test_a_must_raise_check_fails_when_nothing_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # If decryption under a wrong info silently succeeded, the check must fail.
    class LenientSuite:
        def encrypt(self, pt: bytes, pk: object, info: bytes) -> bytes:
            return bytes(48) + pt

        def decrypt(self, ct: bytes, sk: object, info: bytes) -> bytes:
            return ct[48:]

    monkeypatch.setattr(selftest, "_SUITE", LenientSuite())
    failed = _failed()
    for name in (
        "hpke-rejects-wrong-info",
        "hpke-rejects-flipped-bit",
        "hpke-rejects-truncated",
        "hpke-rejects-wrong-key",
    ):
        assert name in failed
