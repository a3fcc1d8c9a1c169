"""A real agent enrolled on a district whose root is offline (ADR 0033): the real server on
127.0.0.1 serves a keyring signed on the 'signing machine' (a folder); the agent pins the
offline root at enrolment and its self-update check verifies the TUF root signed by it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.enrolment import enroll
from agent.update import ReleaseSource
from district import cli as district_cli
from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.releases import ReleaseRepo, write_archive
from district.service import DistrictService
from tests.district.conftest import serving

OFFICE = "74.08.01.2002"


def _cli(home: Path, *argv: str) -> None:
    assert district_cli.main(["--home", str(home), *argv]) == 0, argv


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    home, usb = tmp_path / "district", tmp_path / "usb"
    _cli(home, "root", "init", "--out", str(usb))
    _cli(home, "init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08",
         "--root-pub", str(usb / "root.pub.pem"))  # fmt: skip
    _cli(home, "keyring", "export", "--out", str(tmp_path / "k1.json"))
    _cli(home, "root", "sign-keyring", str(tmp_path / "k1.json"), "--key", str(usb),
         "--out", str(tmp_path / "k1.jws"))  # fmt: skip
    _cli(home, "keyring", "import", str(tmp_path / "k1.jws"))
    _cli(home, "office", "add", OFFICE, "--name", "Desa Pitulua")
    _cli(home, "release", "--keys", str(usb), "init")
    served = [Keys.open(home), Keys.open(home)]
    app = build_app(DistrictService(served[1]), FeedNotifier(served[0].store),
                    releases=ReleaseRepo.of_home(home))  # fmt: skip
    try:
        with serving(lambda _port: app) as base_url:
            yield home, usb, base_url
    finally:
        for keys in served:
            keys.store.close()


def test_a_real_agent_trusts_the_offline_root(offline: tuple[Path, Path, str],
                                              tmp_path: Path) -> None:  # fmt: skip
    home, usb, base_url = offline
    assert not (home / "keys" / "root.pem").exists()
    keys = Keys.open(home)
    try:
        code = DistrictAdmin(keys).new_enroll_code(OFFICE, valid_s=3600)
    finally:
        keys.store.close()
    agent_home, out = tmp_path / "kiosk", tmp_path / "printed"
    out.mkdir()
    enroll(
        agent_home,
        server_url=base_url,
        code=code,
        printers={"a4": f"virtual:{out}"},
        agent="cedoka/0.1.0",
    )  # enrolment verifies keyring v1 under the pinned (offline) root
    archive = tmp_path / "cedoka-0.2.0.tar.gz"
    write_archive(archive, "0.2.0", [], [])
    _cli(home, "release", "--keys", str(usb), "publish", str(archive), "--version", "0.2.0")
    _cli(home, "release", "--keys", str(usb), "promote", "0.2.0", "--percent", "100")
    source = ReleaseSource(agent_home, base_url=base_url)
    try:
        offer = source.check("0.1.0").offer
    finally:
        source.close()
    assert offer is not None and offer.version == "0.2.0"
