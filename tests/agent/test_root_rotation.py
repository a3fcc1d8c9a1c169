"""Rotating the district root (ADR 0033) with real agents on the real server on 127.0.0.1:
the root is offline (a folder stands for each USB stick), every rotation is a request signed
on the 'signing machine' by the current and the new root and imported; the enrolled kiosk
follows the chain, pins the new root and keeps printing jobs signed under the keyrings the
new root signs; a kiosk offline during two rotations catches up; enrolment codes carry the
new fingerprint; the self-update (python-tuf) still verifies, for a kiosk that trusted the
old TUF root and for one that never checked before."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.update import ReleaseSource
from district import cli as district_cli
from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.keystore import KeyStore
from district.notifier import FeedNotifier
from district.releases import ReleaseRepo, write_archive
from district.service import DistrictService
from kiosk.enroll import parse_enroll_code
from kiosk.issue import sign_keyring
from kiosk.jose import sign_compact
from kiosk.keys import fingerprint_code, parse_ed25519_jwk, thumbprint
from kiosk.limits import TYP_ROOT
from kiosk.model import ReleaseMode
from kiosk.rootchain import RootStatement, root_claims
from tests.agent.harness import OFFICE, Kiosk, nik_pdf, wait_for
from tests.district.conftest import Server, serving
from tests.sim.district import RESIDENT, fixed_key

OTHER = "74.08.01.2003"


def _cli(home: Path, *argv: str) -> str:
    assert district_cli.main(["--home", str(home), *argv]) == 0, argv
    return ""


@pytest.fixture
def offline_server(tmp_path: Path) -> Iterator[Server]:
    """A district whose root is in ``tmp_path/usb1`` (never in the home), serving."""
    home, usb = tmp_path / "district", tmp_path / "usb1"
    _cli(home, "root", "init", "--out", str(usb))
    _cli(home, "init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08",
         "--root-pub", str(usb / "root.pub.pem"))  # fmt: skip
    _sign_keyring(home, usb, tmp_path / "k1")
    _cli(home, "office", "add", OFFICE, "--name", "Desa Pitulua")
    _cli(home, "office", "add", OTHER, "--name", "Desa Lametuna")
    _cli(home, "release", "--keys", str(usb), "init")
    keys = Keys.open(home)
    served = [Keys.open(home), Keys.open(home)]
    app = build_app(DistrictService(served[1]), FeedNotifier(served[0].store),
                    releases=ReleaseRepo.of_home(home))  # fmt: skip
    try:
        with serving(lambda _port: app) as base_url:
            yield Server(base_url, home, keys, DistrictAdmin(keys), FeedNotifier(keys.store), app)
    finally:
        for opened in (keys, *served):
            opened.store.close()


def _sign_keyring(home: Path, usb: Path, stem: Path) -> None:
    _cli(home, "keyring", "export", "--out", f"{stem}.json")
    _cli(home, "root", "sign-keyring", f"{stem}.json", "--key", str(usb), "--out", f"{stem}.jws")
    _cli(home, "keyring", "import", f"{stem}.jws")


def _rotate(home: Path, old: Path, new: Path) -> None:
    """One offline rotation: a new root on a new stick, request, sign with both, import."""
    _cli(home, "root", "init", "--out", str(new))
    request, signed = new.with_suffix(".request.json"), new.with_suffix(".signed.json")
    _cli(home, "rotate-root", "--new-pub", str(new / "root.pub.pem"), "--out", str(request))
    _cli(home, "root", "sign-rotation", str(request), "--key", str(old), "--new-key", str(new),
         "--out", str(signed))  # fmt: skip
    _cli(home, "rotate-root", "--import", str(signed))


def _key(usb: Path) -> Ed25519PublicKey:
    return KeyStore(usb).load("root").public_key()


def _status_root(kiosk: Kiosk) -> tuple[str, int | None]:
    """The pinned root as ``cedoka status --json`` shows it: fingerprint and version."""
    trust = json.loads(kiosk.cli("status", "--json").stdout)["trust"]
    return trust["root_fingerprint"], trust["root_version"]


def _root_of(usb: Path) -> str:
    return thumbprint(KeyStore(usb).load("root").public_key())


def _pinned(kiosk: Kiosk) -> tuple[str, int | None]:
    """The kiosk's pinned root (thumbprint) and its version, from its spool."""
    with sqlite3.connect(kiosk.home / "spool.db") as conn:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN "
                                 "('root_jwk', 'root_version')").fetchall())  # fmt: skip
    version = rows.get("root_version")
    root = parse_ed25519_jwk(json.loads(rows["root_jwk"]))
    return thumbprint(root), None if version is None else int(version)


def _enrol(server: Server, tmp: Path, office: str) -> Kiosk:
    """A real kiosk enrolled (``cedoka enroll``) for ``office``."""
    tmp.mkdir()
    out = tmp / "printed"
    out.mkdir()
    kiosk = Kiosk(server, tmp / "kiosk", out)
    code = server.admin.new_enroll_code(office, valid_s=3600)
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                     "--printer", f"a4=virtual:{out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return kiosk


def _prints(server: Server, kiosk: Kiosk, office: str, count: int) -> None:
    """An auto-release job for ``office`` prints on its kiosk (its ``count``-th document)."""
    server.admin.push(office_code=office, resident=RESIDENT, release=ReleaseMode.AUTO,
                      documents=[("KK", nik_pdf(1, f"doc-{count}"))], copies=1,
                      lifetime_s=72 * 3600)  # fmt: skip
    wait_for(f"{count} documents printed", lambda: len(kiosk.printed()) == count, timeout_s=60)


def _release(home: Path, usb: Path, version: str) -> None:
    """Publish an (empty) release for every kiosk, signed with the keys on ``usb``."""
    archive = home.parent / f"cedoka-{version}.tar.gz"
    write_archive(archive, version, [], [])
    _cli(home, "release", "--keys", str(usb), "publish", str(archive), "--version", version)
    _cli(home, "release", "--keys", str(usb), "promote", version, "--percent", "100")


def _offer(kiosk: Kiosk, base_url: str) -> str | None:
    source = ReleaseSource(kiosk.home, base_url=base_url)
    try:
        offer = source.check("0.1.0").offer
    finally:
        source.close()
    return None if offer is None else offer.version


def test_kiosks_follow_two_offline_root_rotations(offline_server: Server, tmp_path: Path) -> None:
    server, home = offline_server, offline_server.home
    usb1, usb2, usb3 = (tmp_path / f"usb{n}" for n in (1, 2, 3))
    online = _enrol(server, tmp_path / "a", OFFICE)
    away = _enrol(server, tmp_path / "b", OTHER)  # enrolled, then away during both rotations
    assert _pinned(online) == (_root_of(usb1), None)
    assert _status_root(online) == (fingerprint_code(_key(usb1)), None)
    # the kiosk that checks for updates trusts TUF's 1.root.json (the first root) from now
    _release(home, usb1, "0.2.0")
    assert _offer(online, server.base_url) == "0.2.0"
    agent = online.start()
    try:
        _prints(server, online, OFFICE, 1)
        _rotate(home, usb1, usb2)
        wait_for("the kiosk pins root 2", lambda: _pinned(online) == (_root_of(usb2), 2))
        _prints(server, online, OFFICE, 2)  # the keyring root 2 signed lists the same signer
        # a signer rotation after the root rotation: the keyring is signed by root 2 only
        _cli(home, "rotate-key")
        _sign_keyring(home, usb2, tmp_path / "k-after")
        _prints(server, online, OFFICE, 3)
        _rotate(home, usb2, usb3)
        wait_for("the kiosk pins root 3", lambda: _pinned(online) == (_root_of(usb3), 3))
        _prints(server, online, OFFICE, 4)
    finally:
        assert online.stop(agent) == 0
    assert "event=root_rotated version=3" in online.log_text()
    assert _status_root(online) == (fingerprint_code(_key(usb3)), 3)
    # the server home never held a root private key, old or new
    for path in (home / "keys").iterdir():
        assert path.name != "root.pem" and not path.name.startswith("root-next"), path
        if not path.name.startswith(("signer-", "tuf-")):
            assert b"PRIVATE KEY" not in path.read_bytes(), path
    assert sorted((home / "tuf" / "metadata").glob("*.root.json")) == [
        home / "tuf" / "metadata" / f"{n}.root.json" for n in (1, 2, 3)
    ]
    # the kiosk that was away catches up with both rotations in one answer
    assert _pinned(away) == (_root_of(usb1), None)
    agent = away.start()
    try:
        _prints(server, away, OTHER, 1)
        assert _pinned(away) == (_root_of(usb3), 3)
    finally:
        assert away.stop(agent) == 0
    # enrolment codes issued now carry the new root's fingerprint, and a new kiosk pins it
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    assert parse_enroll_code(code).root_fingerprint == fingerprint_code(_key(usb3))
    late = _enrol(server, tmp_path / "c", OFFICE)
    assert _pinned(late) == (_root_of(usb3), None)
    # the self-update still verifies: python-tuf follows 2.root.json and 3.root.json from
    # the cached first root; kiosks that never checked start from the root they pinned
    _release(home, usb3, "0.3.0")
    for kiosk in (online, away, late):
        assert _offer(kiosk, server.base_url) == "0.3.0"
    trusted = json.loads((online.home / "update" / "metadata" / "root.json").read_bytes())
    assert trusted["signed"]["version"] == 3


def test_an_online_rotation_is_followed_and_a_forged_chain_is_refused(
    server: Server, tmp_path: Path
) -> None:
    """The usual online-root district: ``rotate-root`` while a real agent runs; then whoever
    holds the server but no root key serves a chain whose next link is not signed by the
    root the kiosk pinned (and a keyring signed by the forger's 'root'): refused."""
    home = server.home
    kiosk = _enrol(server, tmp_path / "a", OFFICE)
    old = KeyStore(home / "keys").load("root").public_key()
    agent = kiosk.start()
    try:
        _prints(server, kiosk, OFFICE, 1)
        _cli(home, "rotate-root")
        new = KeyStore(home / "keys").load("root").public_key()
        assert thumbprint(new) != thumbprint(old)
        wait_for("the kiosk pins root 2", lambda: _pinned(kiosk) == (thumbprint(new), 2))
        _prints(server, kiosk, OFFICE, 2)
        # the forgery: a link 'signed' for root 2 by another key, and the forger's keyring
        forger, stranger = fixed_key("forger-root"), fixed_key("stranger")
        statement = RootStatement("74.08", 3, int(time.time()), thumbprint(new),
                                  forger.public_key())  # fmt: skip
        claims = root_claims(statement)
        forged = (sign_compact(claims, typ=TYP_ROOT, kid=thumbprint(new), key=stranger),
                  sign_compact(claims, typ=TYP_ROOT, kid=thumbprint(forger.public_key()),
                               key=forger))  # fmt: skip
        store = server.keys.store
        chain = json.loads(store.get_meta("root_chain") or "[]")
        version = int(store.get_meta("keyring_version") or 0) + 1
        keyring = replace(server.keys.next_keyring(now_s=int(time.time())), version=version)
        store.set_meta("root_chain", json.dumps([*chain, [t.decode() for t in forged]]))
        store.set_meta("keyring_token", sign_keyring(keyring, forger).decode())
        store.set_meta("keyring_version", str(version))
        store.bump_all_feeds()
        wait_for("the forged chain refused",
                 lambda: "event=keyring_refused reason=bad_signature root_chain=yes"
                 in kiosk.log_text())  # fmt: skip
        # the server answers every poll at once (its keyring is newer): the kiosk backs off
        # instead of spinning, and jobs signed by the signer it knows still print
        time.sleep(3)
        assert kiosk.log_text().count("event=keyring_refused") <= 8
        _prints(server, kiosk, OFFICE, 3)
    finally:
        assert kiosk.stop(agent) == 0
    assert _pinned(kiosk) == (thumbprint(new), 2)
    assert "event=root_rotated version=2" in kiosk.log_text()
    assert "version=3" not in kiosk.log_text()


@pytest.mark.parametrize("point", ["sync.before_root_pinned", "sync.after_root_pinned"])
def test_a_power_cut_while_pinning_the_new_root_leaves_a_consistent_kiosk(
    server: Server, tmp_path: Path, point: str
) -> None:
    """SIGKILL just before / just after the one transaction that pins the new root with its
    keyring: the spool holds both old or both new (the kiosk's trust loads: ``cedoka status``
    works), and the restarted agent follows the rotation and prints."""
    home = server.home
    kiosk = _enrol(server, tmp_path / "a", OFFICE)
    old = KeyStore(home / "keys").load("root").public_key()
    crashed = kiosk.start(crash_at=point)
    try:
        _prints(server, kiosk, OFFICE, 1)
        _cli(home, "rotate-root")
        crashed.wait(timeout=30)
    finally:
        kiosk.stop_all()
    assert crashed.returncode == -9
    new = KeyStore(home / "keys").load("root").public_key()
    expected = (thumbprint(old), None) if point.startswith("sync.before") else (thumbprint(new), 2)
    assert _pinned(kiosk) == expected
    status = kiosk.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    agent = kiosk.start()
    try:
        wait_for("the kiosk pins root 2", lambda: _pinned(kiosk) == (thumbprint(new), 2))
        _prints(server, kiosk, OFFICE, 2)
    finally:
        assert kiosk.stop(agent) == 0


def test_the_doctor_judges_a_rotated_root_as_the_service_would(
    server: Server, tmp_path: Path
) -> None:
    """Between a rotation and the kiosk's next poll, ``cedoka doctor`` fetches the feed with
    the chain and the new keyring: it follows the chain as the service does (no refusal)."""
    kiosk = _enrol(server, tmp_path / "a", OFFICE)
    _cli(server.home, "rotate-root")
    done = kiosk.cli("doctor", "--json")
    checks = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["server"]["status"] == "ok", checks["server"]
    assert _pinned(kiosk)[1] is None  # the doctor changes nothing


def test_a_code_issued_before_a_rotation_is_refused_by_the_kiosk(
    server: Server, tmp_path: Path
) -> None:
    """An enrolment code carries the fingerprint of the root when it was issued: used after a
    rotation, the kiosk refuses the district's answer (``root_mismatch``) in one line, and a
    code issued after it works."""
    stale = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    _cli(server.home, "rotate-root")
    (tmp_path / "printed").mkdir()
    kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path / "printed")
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", stale,
                     "--printer", f"a4=virtual:{tmp_path / 'printed'}")  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "error: root_mismatch" in done.stderr.strip().splitlines()[-1], done.stderr
    fresh = _enrol(server, tmp_path / "b", OFFICE)
    assert _pinned(fresh)[0] == thumbprint(KeyStore(server.home / "keys").load("root")
                                           .public_key())  # fmt: skip
