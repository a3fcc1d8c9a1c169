"""Signed self-update (issue 19 item 1, ADR 0031): a real TUF repository built by the
district's code, served by the real district server on 127.0.0.1, checked and downloaded by
the agent's python-tuf client; attacks served by a frozen mirror; the staged roll-out; the
idle-spool rule; and (slow) a real install of release N+1 into a new venv, the switch, the
restart and the rollback."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Timestamp

from agent.enrolment import enroll
from agent.files import exclusive_lock
from agent.home import HomeLayout
from agent.settings import load_config, save_config
from agent.update import (
    RELEASE_MARKER,
    Installer,
    NoPreviousReleaseError,
    ReleaseFailedError,
    Releases,
    ReleaseSource,
    UpdateRefusedError,
    UpdateWaitingError,
    apply,
    busy_reason,
    roll_back_to_previous,
)
from agent.update_status import read_status
from district import cli as district_cli
from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.releases import ReleaseRepo, public_key, write_archive
from district.service import DistrictService
from district.views import update_of
from kiosk.model import ReleaseMode
from kiosk.report import UpdateReport
from kiosk.rollout import rollout_bucket
from tests.agent.harness import nik_pdf, wait_for
from tests.agent.update_lab import build_archive, mirror, seed_dir
from tests.district.conftest import new_district, serving
from tests.sim.district import RESIDENT

OFFICE = "74.08.01.2002"
OTHER_OFFICE = "74.08.01.2003"
CURRENT = "0.1.0"

pytestmark = pytest.mark.loopback


@dataclass
class District:
    home: Path
    admin: DistrictAdmin
    repo: ReleaseRepo
    base_url: str

    def cli(self, *argv: str) -> int:
        return district_cli.main(["--home", str(self.home), *argv])

    def publish(self, version: str, work: Path) -> None:
        archive = work / f"cedoka-{version}.tar.gz"
        write_archive(archive, version, [], [])
        assert self.cli("release", "publish", str(archive), "--version", version) == 0


@pytest.fixture
def district(tmp_path: Path) -> Iterator[District]:
    home = tmp_path / "district"
    keys, admin = new_district(home)
    admin.add_office(OTHER_OFFICE, "Desa Lain")
    served = [Keys.open(home), Keys.open(home)]
    repo = ReleaseRepo.of_home(home)
    app = build_app(DistrictService(served[1]), FeedNotifier(served[0].store), releases=repo)
    try:
        with serving(lambda _port: app) as base_url:
            yield District(home, admin, repo, base_url)
    finally:
        for opened in (keys, *served):
            opened.store.close()


def enrolled(district: District, home: Path, office: str = OFFICE) -> Path:
    code = district.admin.new_enroll_code(office, valid_s=3600)
    out = home.parent / f"{home.name}-printed"
    out.mkdir()
    enroll(home, server_url=district.base_url, code=code,
           printers={"a4": f"virtual:{out}"}, agent="cedoka/0.1.0")  # fmt: skip
    return home


def check(home: Path, base_url: str | None = None, current: str = CURRENT) -> str | None:
    source = ReleaseSource(home, base_url=base_url)
    try:
        offer = source.check(current).offer
        return None if offer is None else offer.version
    finally:
        source.close()


# --- the district's side -----------------------------------------------------------------


def test_release_commands(district: District, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    archive = tmp_path / "a.tar.gz"
    write_archive(archive, "0.2.0", [], [])
    assert district.cli("release", "publish", str(archive), "--version", "0.2.0") == 1
    assert "release init" in capsys.readouterr().err
    assert district.cli("release", "init") == 0
    assert district.cli("release", "init") == 1  # once
    assert district.cli("release", "publish", str(archive), "--version", "0.3.0") == 1
    assert "holds release '0.2.0'" in capsys.readouterr().err
    assert district.cli("release", "publish", str(archive), "--version", "0.2.0") == 0
    assert district.cli("release", "publish", str(archive), "--version", "0.2.0") == 1
    assert district.cli("release", "promote", "0.2.0", "--percent", "25") == 0
    assert district.cli("release", "promote", "0.2.0", "--percent", "10") == 1
    assert "only widens" in capsys.readouterr().err
    assert district.cli("release", "promote", "0.2.0", "--office", OFFICE) == 0
    assert district.cli("release", "promote", "0.9.9", "--percent", "5") == 1
    capsys.readouterr()
    assert district.cli("release", "list") == 0
    assert f"0.2.0        25% + {OFFICE}" in capsys.readouterr().out
    assert district.cli("release", "list", "--json") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["kiosks"] == 0 and listed["percent"] == 25
    with pytest.raises(SystemExit) as usage:
        district.cli("release", "promote", "0.2", "--percent", "101")
    assert usage.value.code == 2
    with pytest.raises(SystemExit):
        district.cli("release", "publish", str(archive), "--version", "v1")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    packed = tmp_path / "packed.tar.gz"
    pack = ("release", "archive", "--version", "0.5.0", "--wheels", str(wheels))
    assert district.cli(*pack, "--out", str(packed)) == 1  # no cedoka-0.5.0 wheel
    (wheels / "cedoka-0.5.0-py3-none-any.whl").write_bytes(b"PK")
    assert district.cli(*pack, "--out", str(packed)) == 0
    assert district.cli("release", "publish", str(packed), "--version", "0.5.0") == 0
    not_an_archive = tmp_path / "x.tar.gz"
    not_an_archive.write_bytes(b"not a tar")
    assert district.cli("release", "publish", str(not_an_archive), "--version", "0.4.0") == 1
    assert "not a Cedoka release archive" in capsys.readouterr().err


def test_the_server_serves_the_repository_read_only(district: District, tmp_path: Path) -> None:
    import requests

    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    base = district.base_url + "/tuf/"
    root = requests.get(base + "metadata/1.root.json", timeout=10)
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("application/json")
    assert requests.get(base + "metadata/timestamp.json", timeout=10).status_code == 200
    release = district.repo.releases()[0]
    blob = requests.get(f"{base}targets/{release.sha256}.cedoka-0.2.0.tar.gz", timeout=10)
    assert blob.status_code == 200 and len(blob.content) == release.length
    for path in ("metadata/../keys/root.pem", "metadata/root.pem", "metadata/9.root.json",
                 "targets/cedoka-0.2.0.tar.gz", "metadata/.lock"):  # fmt: skip
        answer = requests.get(base + path, timeout=10)
        assert answer.status_code == 404, path
        if answer.headers["content-type"].startswith("application/json"):
            assert answer.json()["error"]["code"] == "not_found"
    assert requests.put(base + "metadata/timestamp.json", data=b"x", timeout=10).status_code == 405


def test_the_server_re_signs_a_timestamp_near_its_expiry(district: District) -> None:
    assert district.cli("release", "init") == 0
    ts_path = district.repo.metadata / "timestamp.json"
    before: Metadata[Timestamp] = Metadata.from_bytes(ts_path.read_bytes())
    assert not district.repo.refresh(now_s=int(time.time()))  # fresh: nothing due
    later = int(time.time()) + 20 * 3600  # 4 h before the 24 h expiry
    assert district.repo.refresh(now_s=later)
    after: Metadata[Timestamp] = Metadata.from_bytes(ts_path.read_bytes())
    assert after.signed.version == before.signed.version + 1
    assert after.signed.expires > before.signed.expires


# --- the agent's check -------------------------------------------------------------------


def test_a_kiosk_finds_a_release_promoted_for_its_office_and_downloads_it(
    district: District, tmp_path: Path
) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    assert check(home) is None  # published at 0 %: nobody takes it
    assert district.cli("release", "promote", "0.2.0", "--office", OTHER_OFFICE) == 0
    assert check(home) is None  # another office's pilot
    assert district.cli("release", "promote", "0.2.0", "--office", OFFICE) == 0
    source = ReleaseSource(home)
    try:
        found = source.check(CURRENT)
        assert found.offer is not None and found.offer.version == "0.2.0"
        path = source.download(found.offer)
        assert path.read_bytes() == (tmp_path / "cedoka-0.2.0.tar.gz").read_bytes()
        assert source.check("0.2.0").offer is None  # already on it
    finally:
        source.close()
    # the trusted root is the pinned one, cached for the next checks
    assert (HomeLayout(home).update / "metadata" / "root.json").exists()


def test_a_percentage_roll_out_admits_by_the_device_bucket(district: District,
                                                           tmp_path: Path) -> None:  # fmt: skip
    home = enrolled(district, tmp_path / "kiosk")
    bucket = rollout_bucket(load_config(home).device_id)
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    if bucket > 0:
        assert district.cli("release", "promote", "0.2.0", "--percent", str(bucket)) == 0
        assert check(home) is None  # bucket < percent is false at percent == bucket
    assert district.cli("release", "promote", "0.2.0", "--percent", str(bucket + 1)) == 0
    assert check(home) == "0.2.0"


def test_a_repository_whose_root_is_not_the_pinned_key_is_refused(tmp_path: Path) -> None:
    with _two_districts(tmp_path) as (ours, theirs):
        home = enrolled(ours, tmp_path / "kiosk")
        assert theirs.cli("release", "init") == 0
        with pytest.raises(UpdateRefusedError, match="not the root key this kiosk pinned"):
            check(home, base_url=theirs.base_url)


def test_a_rollback_to_older_metadata_is_refused(district: District, tmp_path: Path) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    assert district.cli("release", "promote", "0.2.0", "--percent", "100") == 0
    (tmp_path / "old").mkdir()
    with mirror(district.repo.dir, tmp_path / "old") as old_url:
        district.publish("0.3.0", tmp_path)
        assert district.cli("release", "promote", "0.3.0", "--percent", "100") == 0
        assert check(home) == "0.3.0"  # the kiosk has seen the newer metadata
        # a stale cache or an attacker serves the older, validly signed, unexpired files
        with pytest.raises(UpdateRefusedError, match="BadVersionNumberError"):
            check(home, base_url=old_url)


def test_a_freeze_on_expired_metadata_is_refused(district: District, tmp_path: Path) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    assert district.cli("release", "promote", "0.2.0", "--percent", "100") == 0
    # a timestamp signed by the real timestamp key that expired yesterday
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    stale = district.repo.metadata / "timestamp.json"
    md: Metadata[Timestamp] = Metadata.from_bytes(stale.read_bytes())
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    md.signed.expires = yesterday.replace(microsecond=0)
    md.signed.version += 1
    key = district.repo.keys.need("tuf-timestamp")
    md.signatures.clear()
    md.sign(CryptoSigner(key, public_key(key)))
    with mirror(district.repo.dir, frozen) as frozen_url:
        (frozen / "tuf" / "metadata" / "timestamp.json").write_bytes(md.to_bytes())
        with pytest.raises(UpdateRefusedError, match="ExpiredMetadataError"):
            check(home, base_url=frozen_url)
    assert check(home) == "0.2.0"  # the live server re-signs: no freeze from it


def test_an_archive_longer_or_other_than_signed_is_refused(district: District,
                                                           tmp_path: Path) -> None:  # fmt: skip
    home = enrolled(district, tmp_path / "kiosk")
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    assert district.cli("release", "promote", "0.2.0", "--percent", "100") == 0
    release = district.repo.releases()[0]
    name = f"{release.sha256}.cedoka-0.2.0.tar.gz"
    for case, change in (("endless", lambda b: b + b"\0" * 1_000_000),
                         ("swapped", lambda b: bytes([b[0] ^ 1]) + b[1:])):  # fmt: skip
        (tmp_path / case).mkdir()
        with mirror(district.repo.dir, tmp_path / case) as url:
            served = tmp_path / case / "tuf" / "targets" / name
            served.write_bytes(change(served.read_bytes()))
            source = ReleaseSource(home, base_url=url)
            try:
                found = source.check(CURRENT)
                assert found.offer is not None
                with pytest.raises(UpdateRefusedError, match="Mismatch"):
                    source.download(found.offer)
            finally:
                source.close()
        assert not list((HomeLayout(home).update / "downloads").glob("*")), case
        assert _last(home) == ("refused", "0.2.0", "tuf_refused")  # for the heartbeat


def test_publish_and_promote_on_a_signing_machine_with_the_offline_keys(
    district: District, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    assert district.cli("release", "init") == 0
    usb = tmp_path / "usb"
    usb.mkdir(mode=0o700)
    for name in ("root.pem", "tuf-targets.pem"):  # off the server
        (district.home / "keys" / name).rename(usb / name)
    signer = tmp_path / "signer"  # another machine: a copy of the repository, the stick
    signer.mkdir()
    shutil.copytree(district.repo.dir, signer / "tuf")
    archive = tmp_path / "cedoka-0.2.0.tar.gz"
    write_archive(archive, "0.2.0", [], [])

    def on_signer(*argv: str) -> int:
        return district_cli.main(["--home", str(signer), "release", "--keys", str(usb), *argv])

    assert district.cli("release", "publish", str(archive), "--version", "0.2.0") == 1
    assert on_signer("publish", str(archive), "--version", "0.2.0") == 0
    assert on_signer("promote", "0.2.0", "--office", OFFICE) == 0
    assert not (signer / "tuf" / "metadata" / "2.snapshot.json").exists()  # no key there
    for sub in ("metadata", "targets"):  # carried to the server
        shutil.copytree(signer / "tuf" / sub, district.repo.dir / sub, dirs_exist_ok=True)
    assert check(home) == "0.2.0"  # the server signed snapshot and timestamp when asked
    capsys.readouterr()
    assert district.cli("release", "list") == 0
    listed = capsys.readouterr().out
    assert f"0.2.0        0% + {OFFICE}" in listed and "kiosks 0 " in listed
    assert "kiosks on other versions: 0.1.0: 1" in listed  # the enrolled kiosk's agent
    assert on_signer("list") == 0  # no district database there: kiosks unknown
    assert "kiosks -" in capsys.readouterr().out


def test_an_update_waits_while_a_job_prints(district: District, tmp_path: Path) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    archive = tmp_path / "cedoka-0.2.0.tar.gz"
    write_archive(archive, "0.2.0", [], [])
    installer = Installer(Releases(tmp_path / "root"))
    with exclusive_lock(HomeLayout(home).printing_lock) as held:  # a print round runs
        assert held
        with pytest.raises(UpdateWaitingError, match="print round"):
            apply(home, archive, "0.2.0", installer=installer, restart=None)
    assert not (tmp_path / "root" / "opt").exists()  # nothing built, nothing switched
    report = read_status(home)  # for the heartbeat: district IT sees it waits
    assert report is not None and (report.result, report.version, report.reason) == (
        "waiting", "0.2.0", "printer_busy")  # fmt: skip


def test_an_update_waits_while_a_released_job_has_not_printed(district: District,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """A real agent (``cedoka run``) receives an auto-release job while its printer is paused:
    the job is released, not printed, and the update waits until it has printed."""
    home = enrolled(district, tmp_path / "kiosk")
    printed = tmp_path / "kiosk-printed"
    (printed / "PAUSED").write_bytes(b"")
    district.admin.push(office_code=OFFICE, resident=RESIDENT,
                        documents=[("KK", nik_pdf(1, "kk"))], release=ReleaseMode.AUTO,
                        copies=1, lifetime_s=3600)  # fmt: skip
    log = tmp_path / "agent.log"
    with log.open("wb") as sink:
        cedoka = str(Path(sys.executable).with_name("cedoka"))
        agent = subprocess.Popen([cedoka, "--home", str(home), "run"], stdout=sink,
                                 stderr=subprocess.STDOUT)  # fmt: skip
    archive = tmp_path / "cedoka-0.2.0.tar.gz"
    write_archive(archive, "0.2.0", [], [])
    installer = Installer(Releases(tmp_path / "root"))
    try:
        wait_for("the job released", lambda: _states(home) == {"released": 1}, 60)
        with pytest.raises(UpdateWaitingError, match="1 job\\(s\\) released or printing"):
            apply(home, archive, "0.2.0", installer=installer, restart=None)
        (printed / "PAUSED").unlink()
        wait_for("the job printed", lambda: _states(home) == {"printed": 1}, 60)
        # printed: once its print round has let go of the printing lock, an update may go on
        wait_for("the spool idle", lambda: busy_reason(home) is None, 30)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    assert not (tmp_path / "root" / "opt").exists()


def _states(home: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(HomeLayout(home).spool)) as db:
        rows = db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def test_cedoka_update_exit_status(district: District, tmp_path: Path) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    cedoka = Path(sys.executable).with_name("cedoka")

    def update(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cedoka), "--home", str(home), "update", *argv],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    refused = update("--check")  # no repository yet on the server
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "publishes no releases yet" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert district.cli("release", "init") == 0
    district.publish("0.2.0", tmp_path)
    done = update("--check")
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    assert district.cli("release", "promote", "0.2.0", "--percent", "100") == 0
    done = update("--check")
    assert done.returncode == 0 and "update available: 0.2.0" in done.stdout
    with exclusive_lock(HomeLayout(home).printing_lock):
        waiting = update("--root", str(tmp_path / "root"))
    assert waiting.returncode == 8, waiting.stderr
    assert "waiting for the printer" in waiting.stderr


def _fake_release(releases: Releases, name: str, *, complete: bool = True) -> None:
    directory = releases.opt / "releases" / name
    directory.mkdir(parents=True)
    if complete:
        (directory / RELEASE_MARKER).write_text(
            f"version={name.split('-', maxsplit=1)[0]}\nhash=x\n"
        )


def test_cedoka_update_rollback(district: District, tmp_path: Path) -> None:
    """``cedoka update --rollback`` under another prefix (no restart): refused without a
    previous release (exit 9), waits while a print round runs (exit 8), else switches
    ``current`` and ``previous`` and records the rollback for the heartbeat."""
    home = enrolled(district, tmp_path / "kiosk")
    prefix = tmp_path / "root"
    releases = Releases(prefix)
    cedoka = Path(sys.executable).with_name("cedoka")

    def rollback() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cedoka), "--home", str(home), "update", "--rollback",
                               "--root", str(prefix)],
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    def one_line(done: subprocess.CompletedProcess[str], code: int, text: str) -> None:
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert text in done.stderr

    one_line(rollback(), 9, "no previous release")  # nothing installed at all
    _fake_release(releases, "0.2.0-aaaaaaaaaaaa")
    releases.switch("0.2.0-aaaaaaaaaaaa")
    one_line(rollback(), 9, "no previous release")  # a first release: nothing before it
    _fake_release(releases, "0.1.0-bbbbbbbbbbbb", complete=False)  # a build that did not finish
    releases._link("previous", "0.1.0-bbbbbbbbbbbb")
    one_line(rollback(), 9, "not a complete release")
    shutil.rmtree(releases.opt / "releases" / "0.1.0-bbbbbbbbbbbb")
    _fake_release(releases, "0.1.0-bbbbbbbbbbbb")
    with exclusive_lock(HomeLayout(home).printing_lock):
        one_line(rollback(), 8, "waiting for the printer")
    assert releases.current() == "0.2.0-aaaaaaaaaaaa"
    assert read_status(home) is None  # nothing happened
    done = rollback()
    assert done.returncode == 0, done.stderr
    assert "rolled back: now 0.1.0 (0.1.0-bbbbbbbbbbbb)" in done.stdout
    assert releases.current() == "0.1.0-bbbbbbbbbbbb"
    assert releases.previous() == "0.2.0-aaaaaaaaaaaa"  # kept: the way forward again
    report = read_status(home)
    assert report is not None
    assert (report.result, report.version, report.reason) == ("rolled_back", "0.2.0", "operator")
    assert rollback().returncode == 0  # and forward again: the two swap
    assert releases.current() == "0.2.0-aaaaaaaaaaaa"
    with pytest.raises(NoPreviousReleaseError):
        roll_back_to_previous(home, Releases(tmp_path / "elsewhere"), restart=None)


# --- a real N+1 release: built, installed, switched, restarted, rolled back -----------------


@pytest.mark.slow
def test_a_kiosk_updates_to_n_plus_1_and_rolls_back_a_broken_one(
    district: District, tmp_path: Path
) -> None:
    home = enrolled(district, tmp_path / "kiosk")
    save_config(home, replace(load_config(home), heartbeat_interval_s=10))
    prefix = tmp_path / "root"
    releases = Releases(prefix)
    (releases.opt / "releases" / "0.1.0-old").mkdir(parents=True)
    (releases.opt / "current").symlink_to("releases/0.1.0-old")
    installer = Installer(releases, seed=(seed_dir(tmp_path),))
    assert district.cli("release", "init") == 0
    good = build_archive("0.2.0", tmp_path)
    assert district.cli("release", "publish", str(good), "--version", "0.2.0") == 0
    assert district.cli("release", "promote", "0.2.0", "--office", OFFICE) == 0
    agents: list[subprocess.Popen[bytes]] = []

    def restart() -> None:  # what systemctl restart does to the unit
        for proc in agents:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        with (tmp_path / f"agent-{len(agents)}.log").open("wb") as log:
            agents.append(subprocess.Popen(
                [str(releases.opt / "current/bin/cedoka"), "--home", str(home), "run"],
                stdout=log, stderr=subprocess.STDOUT, env=env))  # fmt: skip

    try:
        source = ReleaseSource(home)
        found = source.check(CURRENT)
        assert found.offer is not None
        archive = source.download(found.offer)
        source.close()
        started = time.monotonic()
        outcome = apply(home, archive, "0.2.0", installer=installer, restart=restart,
                        health_timeout_s=60)  # fmt: skip
        print(f"N+1 installed, switched and healthy in {time.monotonic() - started:.1f} s")
        assert outcome.result == "updated", outcome
        assert releases.current() == outcome.release and releases.previous() == "0.1.0-old"
        shown = subprocess.run([str(releases.opt / "current/bin/cedoka"), "--version"],
                               capture_output=True, text=True, check=True,
                               env={k: v for k, v in os.environ.items()
                                    if k != "PYTHONPATH"})  # fmt: skip
        assert shown.stdout.strip() == "cedoka 0.2.0"

        # N+2 fails its self-test: never becomes current
        broken = build_archive("0.3.0", tmp_path, patch={
            "kiosk/selftest.py": (Path(__file__).parents[2] / "kiosk/selftest.py").read_text()
            .replace("def selftest_report(", "def _real_report(", 1)
            + "\n\ndef selftest_report():\n    return ['broken'], False\n",
        })  # fmt: skip
        with pytest.raises(ReleaseFailedError, match="failed 'cedoka selftest'"):
            apply(home, broken, "0.3.0", installer=installer, restart=restart)
        assert releases.current() == outcome.release
        assert _last(home) == ("failed", "0.3.0", "selftest_failed")

        # N+3 starts but never reports healthy: rolled back to N+1
        silent = build_archive("0.4.0", tmp_path, patch={
            "agent/running.py": (Path(__file__).parents[2] / "agent/running.py").read_text()
            .replace('    data = {"version"', '    return\n    data = {"version"', 1),
        })  # fmt: skip
        rolled = apply(home, silent, "0.4.0", installer=installer, restart=restart,
                       health_timeout_s=15)  # fmt: skip
        assert rolled.result == "rolled_back", rolled
        assert releases.current() == outcome.release
        assert releases.previous() == rolled.release
        assert not (releases.opt / "releases" / "0.1.0-old").exists()  # only two kept
        assert _last(home) == ("rolled_back", "0.4.0", "unhealthy")
        _the_operator_rolls_back(district, tmp_path, home=home, installer=installer,
                                 restart=restart, n1=outcome.release,
                                 silent=rolled.release)  # fmt: skip
    finally:
        for proc in agents:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _the_operator_rolls_back(district: District, tmp_path: Path, *, home: Path,
                             installer: Installer, restart: Callable[[], None], n1: str,
                             silent: str) -> None:  # fmt: skip
    """``current`` is N+1 (``n1``), ``previous`` the release that never reports healthy
    (``silent``), just rolled back by itself."""
    releases = installer.releases
    # the running agent (0.2.0) carries the rollback to the district in its next heartbeat
    wait_for("the rollback reported", lambda: _reported(district) == ("rolled_back", "0.4.0"),
             40)  # fmt: skip
    # the operator's rollback to the previous release (0.4.0, which never reports
    # healthy): 0.2.0 again, the way it was
    back = roll_back_to_previous(home, releases, restart=restart, health_timeout_s=10)
    assert back.result == "unhealthy", back
    assert releases.current() == n1 and releases.previous() == silent

    # N+5 is good; the operator rolls it back to N+1, which comes up healthy
    good5 = build_archive("0.5.0", tmp_path)
    five = apply(home, good5, "0.5.0", installer=installer, restart=restart,
                 health_timeout_s=60)  # fmt: skip
    assert five.result == "updated", five
    back = roll_back_to_previous(home, releases, restart=restart, health_timeout_s=60)
    assert (back.result, back.version) == ("rolled_back", "0.2.0"), back
    assert releases.current() == n1 and releases.previous() == five.release
    assert _last(home) == ("rolled_back", "0.5.0", "operator")
    wait_for("the operator's rollback reported",
             lambda: _reported(district) == ("rolled_back", "0.5.0"), 40)  # fmt: skip


def _last(home: Path) -> tuple[str, str, str | None] | None:
    report = read_status(home)
    return None if report is None else (report.result, report.version, report.reason)


def _reported(district: District) -> tuple[str, str] | None:
    """The kiosk's last update attempt as the district's device list shows it."""
    keys = Keys.open(district.home)
    try:
        (device,) = keys.store.devices()
    finally:
        keys.store.close()
    report: UpdateReport | None = update_of(device)
    return None if report is None else (report.result, report.version)


@contextlib.contextmanager
def _two_districts(tmp_path: Path) -> Iterator[tuple[District, District]]:
    with contextlib.ExitStack() as stack:
        made = []
        for name in ("ours", "theirs"):
            home = tmp_path / name
            keys, admin = new_district(home)
            served = Keys.open(home)
            stack.callback(keys.store.close)
            stack.callback(served.store.close)
            repo = ReleaseRepo.of_home(home)
            app = build_app(DistrictService(served), FeedNotifier(served.store), releases=repo)
            url = stack.enter_context(serving(lambda _port, app=app: app))
            made.append(District(home, admin, repo, url))
        yield made[0], made[1]
