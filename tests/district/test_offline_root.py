"""The offline district root (ADR 0033), on both stores: ``root init`` on a signing folder,
``init --root-pub``, and every keyring signed by exporting a request, signing it with
``root sign-keyring`` and importing the token. The server home never holds ``root.pem``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from district.keyring import Keys
from district.service import DistrictService
from kiosk.enroll import (
    EnrollRequest,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.keys import fingerprint_code
from kiosk.verify import verify_keyring
from tests.district.test_cli import NONCE, OFFICE, District
from tests.sim.district import fixed_key, fixed_seal_key

STORES = ("sqlite", "postgresql")  # every test on both stores (conftest)


def _sign_offline(district: District, usb: Path, name: str) -> Path:
    request, token = district.tmp / f"{name}.json", district.tmp / f"{name}.jws"
    district.ok("keyring", "export", "--out", str(request))
    district.ok("root", "sign-keyring", str(request), "--key", str(usb), "--out", str(token))
    return token


@pytest.fixture
def blank(tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str | None) -> District:
    return District(tmp_path / "district", tmp_path, capsys, [], db_url)


def _offline(bare: District) -> tuple[District, Path]:
    usb = bare.tmp / "usb"
    out = bare.ok("root", "init", "--out", str(usb)).out
    assert (usb / "root.pem").is_file() and (usb / "root.pub.pem").is_file()
    init = bare.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08",
                   "--root-pub", str(usb / "root.pub.pem")).out  # fmt: skip
    assert init.splitlines()[0].split(": ")[1].split()[0] in out
    return bare, usb


def test_offline_root_keyrings_are_signed_off_the_server(blank: District) -> None:
    district, usb = _offline(blank)
    keys_dir = district.home / "keys"
    names = sorted(p.name for p in keys_dir.iterdir())
    assert "root.pem" not in names and "root.pub.pem" in names
    for path in keys_dir.iterdir():  # no private root key anywhere in the home
        if path.name.startswith("signer-"):
            continue
        assert b"PRIVATE KEY" not in path.read_bytes(), path
    # before the first import there is nothing to serve, and saying so is one line
    with_keys = Keys.open(district.home, district.db_url)
    try:
        assert with_keys.root_offline
    finally:
        with_keys.store.close()
    assert "no keyring signed" in district.refused("serve", "--listen", "127.0.0.1:9")
    district.ok("keyring", "import", str(_sign_offline(district, usb, "v1")))
    district.ok("office", "add", OFFICE, "--name", "Desa Pitulua")

    # a kiosk enrols and pins the offline root; the served keyring verifies under it
    code = parse_enroll_code(district.ok("enroll-code", OFFICE).out.strip())
    auth, seal = fixed_key("device-auth").public_key(), fixed_seal_key("device-seal").public_key()
    request = EnrollRequest(code.code_id, auth, seal, "cedoka/0.1.0", NONCE)
    keys = Keys.open(district.home, district.db_url)
    try:
        answer = parse_enroll_response(
            DistrictService(keys).enroll(enroll_request_body(request, code), remote="test"),
            code=code, nonce=NONCE,
        )  # fmt: skip
    finally:
        keys.store.close()
    usb_root = load_pem_public_key((usb / "root.pub.pem").read_bytes())
    assert fingerprint_code(answer.root_key) == fingerprint_code(usb_root)  # type: ignore[arg-type]
    first = verify_keyring(answer.keyring_token, district_code="74.08", root_key=answer.root_key,
                           current=None)  # fmt: skip
    assert first.version == 1

    # a signer rotation waits for the root: the old keyring is served until the import
    district.ok("rotate-key")
    keys = Keys.open(district.home, district.db_url)
    try:
        assert keys.keyring(now_s=first.issued_at_s)[0] == 1
    finally:
        keys.store.close()
    district.ok("keyring", "import", str(_sign_offline(district, usb, "v2")))
    # the TUF repository's root.json is signed by the same offline root (ADR 0031's --keys)
    district.ok("release", "--keys", str(usb), "init")
    assert not (district.home / "keys" / "root.pem").exists()
    assert (usb / "tuf-targets.pem").is_file()
    keys = Keys.open(district.home, district.db_url)
    try:
        version, token = keys.keyring(now_s=first.issued_at_s)
    finally:
        keys.store.close()
    second = verify_keyring(token, district_code="74.08", root_key=answer.root_key, current=first)
    assert version == second.version == 2 and len(second.keys) == 2


def test_a_keyring_signed_by_another_key_is_refused(blank: District) -> None:
    district, usb = _offline(blank)
    other = district.tmp / "other"
    district.ok("root", "init", "--out", str(other))
    request, token = district.tmp / "req.json", district.tmp / "forged.jws"
    district.ok("keyring", "export", "--out", str(request))
    district.ok("root", "sign-keyring", str(request), "--key", str(other), "--out", str(token))
    assert "keyring refused" in district.refused("keyring", "import", str(token))
    # the genuine one is taken; importing it twice is refused (not newer)
    genuine = district.tmp / "genuine.jws"
    district.ok("root", "sign-keyring", str(request), "--key", str(usb), "--out", str(genuine))
    district.ok("keyring", "import", str(genuine))
    assert "not newer" in district.refused("keyring", "import", str(genuine))
    assert "no keyring waits" in district.refused("keyring", "export", "--out", str(request))


def test_offline_tools_refuse_bad_files_in_one_line(blank: District) -> None:
    bare = blank
    usb = bare.tmp / "usb"
    bare.ok("root", "init", "--out", str(usb))
    assert "exists already" in bare.refused("root", "init", "--out", str(usb))
    junk = bare.tmp / "junk.json"
    junk.write_bytes(b"[1]")
    out = str(bare.tmp / "x.jws")
    assert "not a keyring request" in bare.refused("root", "sign-keyring", str(junk), "--key",
                                                   str(usb), "--out", out)  # fmt: skip
    assert "cannot read public key" in bare.refused(
        "init", "--name", "X", "--code", "74.08", "--root-pub", str(junk)
    )
