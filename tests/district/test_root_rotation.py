"""Rotating the district root (ADR 0033), on both stores: ``rotate-root`` with the root online
(one step) and offline (request, ``root sign-rotation`` on the signing folder, ``--import``);
what the feed then serves (the chain with the keyring), what enrolment codes carry, the TUF
repository's next root, and the refusals, each in one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from district import rootrotation
from district.keyring import Keys
from district.keystore import KeyStore
from district.releases import ReleaseRepo
from district.service import DistrictService
from kiosk.enroll import parse_enroll_code
from kiosk.errors import OperatorError
from kiosk.feed import parse_feed
from kiosk.keys import fingerprint_code, thumbprint
from kiosk.rootchain import follow_root_chain
from kiosk.verify import verify_keyring
from tests.district.test_cli import OFFICE, District

STORES = ("sqlite", "postgresql")  # every test on both stores (conftest)


@pytest.fixture
def blank(tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str | None) -> District:
    return District(tmp_path / "district", tmp_path, capsys, [], db_url)


def _keys(district: District) -> Keys:
    return Keys.open(district.home, district.db_url)


def _root_thumbprint(district: District) -> str:
    keys = _keys(district)
    try:
        return thumbprint(keys.root_public())
    finally:
        keys.store.close()


def test_an_online_root_rotates_in_one_step(blank: District) -> None:
    district = blank
    district.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    district.ok("office", "add", OFFICE, "--name", "Desa Pitulua")
    district.ok("release", "init")
    device = district.enrol()
    old = KeyStore(district.home / "keys").load("root").public_key()
    out = district.ok("rotate-root").out
    assert "rotated to version 2" in out
    new = KeyStore(district.home / "keys").load("root").public_key()
    assert thumbprint(new) != thumbprint(old) and _root_thumbprint(district) == thumbprint(new)
    assert not (district.home / "keys" / "root-next.pem").exists()
    # new enrolment codes carry the new root's fingerprint
    code = parse_enroll_code(district.ok("enroll-code", OFFICE).out.strip())
    assert code.root_fingerprint == fingerprint_code(new)
    assert fingerprint_code(new)[:5] in out
    # the feed for a kiosk on keyring 1 carries the chain with the keyring the new root signed
    keys = _keys(district)
    try:
        service = DistrictService(keys)
        feed = parse_feed(service.feed(device, after=0, keyring_version=1))
        assert feed.root is not None and feed.keyring is not None
        root, version = follow_root_chain(feed.root, district_code="74.08", root_key=old)
        assert thumbprint(root) == thumbprint(new) and version == 2
        keyring = verify_keyring(feed.keyring, district_code="74.08", root_key=new, current=None)
        assert keyring.version == 2
        up_to_date = parse_feed(service.feed(device, after=0, keyring_version=2))
        assert up_to_date.keyring is None and up_to_date.root is None
        # a signer rotation afterwards: the next keyring is signed by the new root, online
        keys.rotate(now_s=int(time.time()))
        version_3, token = keys.keyring(now_s=int(time.time()))
        assert version_3 == 3
        verify_keyring(token, district_code="74.08", root_key=new, current=keyring)
    finally:
        keys.store.close()
    # TUF: 2.root.json is signed by both roots, as python-tuf checks it
    metadata = district.home / "tuf" / "metadata"
    first: Metadata[Root] = Metadata.from_bytes((metadata / "1.root.json").read_bytes())
    second: Metadata[Root] = Metadata.from_bytes((metadata / "2.root.json").read_bytes())
    first.verify_delegate("root", second)
    second.verify_delegate("root", second)
    assert len(second.signatures) == 2
    district.ok("rotate-root")
    assert _root_thumbprint(district) != thumbprint(new) and (metadata / "3.root.json").exists()


def test_an_interrupted_online_rotation_is_finished_by_the_next_use(
    blank: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    district = blank
    district.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")

    def crash(self: KeyStore, name: str, to: str) -> None:
        raise RuntimeError("power cut")

    keys = _keys(district)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(KeyStore, "rename", crash)
            with pytest.raises(RuntimeError):
                rootrotation.rotate_online(keys, ReleaseRepo.of_home(district.home),
                                           district.home, now_s=int(time.time()))  # fmt: skip
        assert (district.home / "keys" / "root-next.pem").exists()  # the chain names it
    finally:
        keys.store.close()
    district.ok("rotate-key")  # signs the next keyring: finishes the rotation first
    keys = _keys(district)
    try:
        root = KeyStore(district.home / "keys").load("root")
        assert thumbprint(root.public_key()) == thumbprint(keys.root_public())
        assert not (district.home / "keys" / "root-next.pem").exists()
        _, token = keys.keyring(now_s=int(time.time()))
        verify_keyring(token, district_code="74.08", root_key=root.public_key(), current=None)
    finally:
        keys.store.close()


def _offline(district: District) -> Path:
    usb = district.tmp / "usb1"
    district.ok("root", "init", "--out", str(usb))
    district.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08",
                "--root-pub", str(usb / "root.pub.pem"))  # fmt: skip
    request, token = district.tmp / "k1.json", district.tmp / "k1.jws"
    district.ok("keyring", "export", "--out", str(request))
    district.ok("root", "sign-keyring", str(request), "--key", str(usb), "--out", str(token))
    district.ok("keyring", "import", str(token))
    return usb


def test_an_offline_rotation_and_its_refusals(blank: District) -> None:
    district = blank
    usb1 = _offline(district)
    district.ok("release", "--keys", str(usb1), "init")
    usb2, other = district.tmp / "usb2", district.tmp / "other"
    district.ok("root", "init", "--out", str(usb2))
    district.ok("root", "init", "--out", str(other))
    request, signed = district.tmp / "rotation.json", district.tmp / "rotation.signed.json"
    assert "the root is offline" in district.refused("rotate-root")
    assert "needs --out" in district.refused("rotate-root", "--new-pub",
                                             str(usb2 / "root.pub.pem"))  # fmt: skip
    district.ok("rotate-root", "--new-pub", str(usb2 / "root.pub.pem"), "--out", str(request))
    # the signing machine checks it holds the roots the request names
    assert "--key holds another root" in district.refused(
        "root", "sign-rotation", str(request), "--key", str(other), "--new-key", str(usb2),
        "--out", str(signed))  # fmt: skip
    assert "--new-key holds another key" in district.refused(
        "root", "sign-rotation", str(request), "--key", str(usb1), "--new-key", str(other),
        "--out", str(signed))  # fmt: skip
    # a chain signed by a key that is not the district's root is refused by the server
    forged = json.loads(request.read_bytes())
    forged["root"]["prev"] = thumbprint(KeyStore(other).load("root").public_key())
    forged_file = district.tmp / "forged.signed.json"
    forged_file.write_bytes(rootrotation.sign_rotation(
        json.dumps(forged).encode(), old=KeyStore(other).load("root"),
        new=KeyStore(usb2).load("root"),
    ))  # fmt: skip
    assert "root rotation refused (unknown_kid)" in district.refused(
        "rotate-root", "--import", str(forged_file))  # fmt: skip
    assert _root_thumbprint(district) == thumbprint(KeyStore(usb1).load("root").public_key())
    assert not (district.home / "tuf" / "metadata" / "2.root.json").exists()
    # the genuine rotation
    district.ok("root", "sign-rotation", str(request), "--key", str(usb1), "--new-key",
                str(usb2), "--out", str(signed))  # fmt: skip
    assert (usb2 / "tuf-targets.pem").exists()  # moved with the root for 'release --keys'
    assert "rotated to version 2" in district.ok("rotate-root", "--import", str(signed)).out
    new = KeyStore(usb2).load("root").public_key()
    assert _root_thumbprint(district) == thumbprint(new)
    assert "root rotation refused" in district.refused("rotate-root", "--import", str(signed))
    # the home holds no root private key, and its public copy follows the rotation
    keys_dir = district.home / "keys"
    for path in keys_dir.iterdir():
        assert not path.name.startswith("root") or b"PRIVATE KEY" not in path.read_bytes()
    assert KeyStore(keys_dir).load_public("root").public_bytes_raw() == new.public_bytes_raw()
    # releases are signed with the new stick from now on
    archive = district.tmp / "cedoka-0.2.0.tar.gz"
    from district.releases import write_archive

    write_archive(archive, "0.2.0", [], [])
    district.ok("release", "--keys", str(usb2), "publish", str(archive), "--version", "0.2.0")


def test_a_rotation_request_for_a_stale_state_is_refused(blank: District) -> None:
    district = blank
    usb1 = _offline(district)
    usb2 = district.tmp / "usb2"
    district.ok("root", "init", "--out", str(usb2))
    keys = _keys(district)
    try:
        request = rootrotation.rotation_request(
            keys, ReleaseRepo.of_home(district.home), KeyStore(usb2).load("root").public_key(),
            now_s=int(time.time()),
        )  # fmt: skip
        signed = rootrotation.sign_rotation(request, old=KeyStore(usb1).load("root"),
                                            new=KeyStore(usb2).load("root"))  # fmt: skip
        with pytest.raises(OperatorError, match="the new root key is the current"):
            rootrotation.rotation_request(keys, ReleaseRepo.of_home(district.home),
                                          keys.root_public(), now_s=0)  # fmt: skip
    finally:
        keys.store.close()
    # a release repository created after the request: the rotation needs its TUF root too
    district.ok("release", "--keys", str(usb1), "init")
    path = district.tmp / "signed.json"
    path.write_bytes(signed)
    assert "needs its next root.json" in district.refused("rotate-root", "--import", str(path))


def test_the_signing_machine_needs_no_district_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``root init`` / ``root sign-rotation`` run where there is no district (no --home, no
    $CEDOKA_DISTRICT_HOME); a file that is not a request is refused in one line."""
    from district import cli

    monkeypatch.delenv(cli.HOME_ENV, raising=False)
    old, new = tmp_path / "usb1", tmp_path / "usb2"
    assert cli.main(["root", "init", "--out", str(old)]) == 0
    assert cli.main(["root", "init", "--out", str(new)]) == 0
    assert (old / "root.pem").stat().st_mode & 0o777 == 0o600
    junk = tmp_path / "junk.json"
    junk.write_text('{"format": "cedoka-root-rotation/1", "root": "x", "keyring": 1}')
    capsys.readouterr()
    assert cli.main(["root", "sign-rotation", str(junk), "--key", str(old), "--new-key",
                     str(new), "--out", str(tmp_path / "out.json")]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a root rotation request" in err
    assert "Traceback" not in err


def test_an_import_interrupted_after_its_record_is_finished_by_the_next_command(
    blank: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the rotation was recorded but before the keyring was served: the next
    command (any Keys) finishes it, so the chain and the keyring never disagree for long."""
    district = blank
    usb1 = _offline(district)
    usb2 = district.tmp / "usb2"
    district.ok("root", "init", "--out", str(usb2))
    request, signed = district.tmp / "rotation.json", district.tmp / "rotation.signed.json"
    district.ok("rotate-root", "--new-pub", str(usb2 / "root.pub.pem"), "--out", str(request))
    district.ok("root", "sign-rotation", str(request), "--key", str(usb1), "--new-key",
                str(usb2), "--out", str(signed))  # fmt: skip

    def crash(self: Keys, token: bytes, keyring: object) -> None:
        raise RuntimeError("power cut")

    keys = _keys(district)
    try:
        with monkeypatch.context() as patched:
            patched.setattr(Keys, "_serve_keyring", crash)
            with pytest.raises(RuntimeError):
                rootrotation.import_rotation(keys, ReleaseRepo.of_home(district.home),
                                             signed.read_bytes())  # fmt: skip
        assert keys.store.get_meta("keyring_version") == "1"  # not served yet
    finally:
        keys.store.close()
    new = KeyStore(usb2).load("root").public_key()
    keys = _keys(district)  # the next command's Keys finishes the rotation
    try:
        assert keys.root_version == 2 and thumbprint(keys.root_public()) == thumbprint(new)
        version, token, chain = keys.keyring_and_chain(now_s=int(time.time()))
        assert version == 2 and len(chain) == 1
        verify_keyring(token, district_code="74.08", root_key=new, current=None)
        assert not keys.store.get_meta("root_rotation")
    finally:
        keys.store.close()
