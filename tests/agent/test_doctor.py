"""``cedoka doctor`` against real parts: the installed ``cedoka`` in a subprocess, the real
district server on 127.0.0.1 (plain HTTP, and HTTPS with the district's own CA), real SQLite,
the virtual printer, and the private CUPS of tests/printers/cupslab.py.

A healthy kiosk passes (also while its service runs); each broken setup fails the right check
while every other check is still reported: the district unreachable, revoked, a wrong clock
(a proxy moves the district's Date header), a clock set back below the trusted time floor,
a time floor far ahead of the time the district signs (its clock ran ahead), a frozen feed,
an open state folder, a readable file in it, no enrolment, a missing CUPS queue, no cupsd,
and a cupsd.conf that keeps documents. Nothing personal is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent import trust as trust_store
from agent.app import Agent
from agent.settings import load_config, save_config
from agent.spool import Spool
from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.reach import parse_public_url
from district.service import DistrictService
from kiosk.config import parse_printer_target
from kiosk.model import FeedHead
from tests.agent.harness import OFFICE, Kiosk, enrol, wait_for
from tests.agent.stale import district_head, feed_answer
from tests.district.conftest import Server
from tests.printers.cupslab import CupsLab, cups_lab

CHECK_IDS = ["state_dir", "enrolment", "trust", "server", "tls", "clock", "disk", "spool",
             "printer_a4", "cups_preserve"]  # fmt: skip
MEMBERS = {"id", "status", "id_text", "en_text", "fix_id", "fix_en"}


def doctor(
    kiosk: Kiosk, *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """Run ``cedoka doctor --json``: the exit status and the checks by id."""
    done = kiosk.cli("doctor", "--json", *extra, env=env)
    assert done.stderr == "", done.stderr  # no traceback, no log lines
    answer = json.loads(done.stdout)
    assert set(answer) == {"ok", "checks"}
    assert answer["ok"] is (done.returncode == 0)
    for check in answer["checks"]:
        assert set(check) == MEMBERS, check
        assert check["status"] in {"ok", "warn", "fail", "skip"}
        assert check["id_text"] and check["en_text"] and check["id_text"] != check["en_text"]
        if check["status"] == "fail":
            assert check["fix_id"] and check["fix_en"], check
    return done.returncode, {c["id"]: c for c in answer["checks"]}


def statuses(checks: dict[str, Any]) -> dict[str, str]:
    return {cid: c["status"] for cid, c in checks.items()}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _point_to(kiosk: Kiosk, url: str) -> None:
    save_config(kiosk.home, replace(load_config(kiosk.home), server_url=url))


# --- healthy ---------------------------------------------------------------------------


def test_a_healthy_kiosk_passes_also_while_its_service_runs(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    before = {p.name for p in kiosk.home.rglob("*")}
    code, checks = doctor(kiosk)
    assert code == 0, checks
    assert list(checks) == CHECK_IDS
    assert statuses(checks) == {**dict.fromkeys(CHECK_IDS, "ok"), "cups_preserve": "skip"}
    assert "demo/test only" in checks["tls"]["en_text"]
    assert "no answer from the district yet" in checks["trust"]["en_text"]
    # Nothing in the home changed (SQLite may leave the spool's -wal and -shm files).
    after = {p.name for p in kiosk.home.rglob("*")} - {"spool.db-wal", "spool.db-shm"}
    assert after == before - {"spool.db-wal", "spool.db-shm"}

    agent = kiosk.start()
    try:
        with kiosk.spool() as conn:
            wait_for("a verified head", lambda: conn.execute(
                "SELECT 1 FROM meta WHERE key = 'head'").fetchone() is not None)  # fmt: skip
        done = kiosk.cli("doctor")  # the text form, on a live kiosk
    finally:
        assert kiosk.stop(agent) == 0
    assert done.returncode == 0, done.stdout
    assert "[ OK ]  server — Server kabupaten / District server" in done.stdout
    assert "last confirmation from the district" in done.stdout
    assert "Perbaiki / Fix" not in done.stdout
    assert done.stdout.rstrip().endswith("Semua baik. / All good.")


# --- the district ----------------------------------------------------------------------


def test_an_unreachable_district_fails_server_and_the_rest_is_reported(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    _point_to(kiosk, f"http://127.0.0.1:{_closed_port()}")
    code, checks = doctor(kiosk)
    assert code == 1
    assert statuses(checks) == {**dict.fromkeys(CHECK_IDS, "ok"), "server": "fail",
                                "clock": "skip", "cups_preserve": "skip"}  # fmt: skip
    assert "refused the connection" in checks["server"]["en_text"]
    assert "menolak sambungan" in checks["server"]["id_text"]
    assert "did not answer" in checks["clock"]["en_text"]


def test_a_revoked_kiosk_is_told_to_enrol_again(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    server.admin.revoke(load_config(kiosk.home).device_id)
    code, checks = doctor(kiosk)
    assert code == 1
    assert statuses(checks)["server"] == "fail"
    assert "revoked" in checks["server"]["en_text"] and "dicabut" in checks["server"]["id_text"]
    assert "enroll --server URL --code CODE" in checks["server"]["fix_en"]
    assert checks["clock"]["status"] == "ok"  # the refusal's Date still tells the time
    assert [c for c, s in statuses(checks).items() if s == "fail"] == ["server"]


class DateShiftingProxy:
    """A loopback forwarder to the district that moves the ``Date`` header of its answers
    by ``shift_s``: a district whose clock differs from this computer's (the proofs, checked
    against the district's real clock, are not affected)."""

    def __init__(self, target_port: int, shift_s: int) -> None:
        self._target, self._shift_s = target_port, shift_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._opened: list[socket.socket] = []  # closed by close(), never left to the GC
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()
        for sock in self._opened:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the pipe threads
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            self._opened += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def _answers(self, src: socket.socket, dst: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and (data := src.recv(65536)):
                head += data
            dst.sendall(re.sub(rb"(?im)^date: ([^\r\n]+)", self._shifted, head, count=1))
        self._pipe(src, dst)

    def _shifted(self, match: re.Match[bytes]) -> bytes:
        moved = parsedate_to_datetime(match.group(1).decode()).timestamp() + self._shift_s
        return b"date: " + formatdate(moved, usegmt=True).encode()


def test_a_wrong_clock_fails_the_clock_check_with_the_reason(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    proxy = DateShiftingProxy(int(server.base_url.rsplit(":", 1)[1]), shift_s=10 * 60)
    try:
        _point_to(kiosk, proxy.url)
        assert server.app is not None  # the district's public URL is now the forwarder's
        server.app.state.public_url = parse_public_url(proxy.url)
        code, checks = doctor(kiosk)
    finally:
        proxy.close()
    assert code == 1
    assert checks["server"]["status"] == "ok"
    clock = checks["clock"]
    assert clock["status"] == "fail"
    # 10 minutes, give or take the round trip and the Date header's whole seconds
    assert re.search(r"is (9 min \d+ s|10 min) behind", clock["en_text"]), clock
    assert re.search(r"(9 menit \d+ detik|10 menit) lebih lambat", clock["id_text"])
    assert "district refuses" in clock["en_text"]
    assert "timedatectl set-ntp true" in clock["fix_en"]


def _store_head(kiosk: Kiosk, *, iat: int, exp: int) -> None:
    """Store a head as the service does after verifying it (which raises the time floor)."""
    spool = Spool(kiosk.home / "spool.db")
    try:
        trust = trust_store.load(spool)
        trust_store.store_head(spool, trust, FeedHead(
            device_id=trust.device_id, issuer=trust.district_code, seq=0, issued_at_s=iat,
            expires_at_s=exp, cancelled=frozenset(), keyring_version=trust.keyring.version,
        ))  # fmt: skip
    finally:
        spool.close()


def test_a_clock_set_back_below_the_time_floor_fails_trust(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    # As if the district had confirmed a time ten minutes from now, and the clock went back.
    now = int(time.time())
    _store_head(kiosk, iat=now + 600, exp=now + 1200)
    code, checks = doctor(kiosk)
    assert code == 1
    assert checks["trust"]["status"] == "fail"
    assert "earlier than the last time the district confirmed" in checks["trust"]["en_text"]


def test_a_time_floor_far_ahead_of_the_district_is_explained_with_a_way_out(
    server: Server, tmp_path: Path
) -> None:
    """A district whose clock ran two days ahead signed the last head the kiosk verified;
    its clock is right again. Every new head is refused as head_replayed until the district
    reaches that time: doctor says so, and what district IT does (not: fix this computer's
    clock, which is right)."""
    kiosk = enrol(server, tmp_path)
    now = int(time.time())
    _store_head(kiosk, iat=now + 2 * 86400, exp=now + 2 * 86400 + 600)
    code, checks = doctor(kiosk)
    assert code == 1
    trust, srv = checks["trust"], checks["server"]
    assert trust["status"] == "fail", trust
    assert re.search(r"is (1 day 23 h|2 days 0 h) ahead of the time the district signs now",
                     trust["en_text"])  # fmt: skip
    assert re.search(r"(1 hari 23 jam|2 hari 0 jam) lebih maju dari waktu yang ditandatangani "
                     "kabupaten", trust["id_text"])  # fmt: skip
    assert "head_replayed" in trust["en_text"]
    assert "district server's clock" in trust["fix_en"] and "NTP" in trust["fix_en"]
    assert "enroll --server URL --code CODE" in trust["fix_en"]
    assert "timedatectl" not in trust["fix_en"]
    assert srv["status"] == "fail" and "see 'trust'" in srv["en_text"], srv
    assert "timedatectl" not in srv["fix_en"]
    assert checks["clock"]["status"] == "ok"  # this computer's clock is right


def test_a_frozen_feed_fails_trust_with_the_time_of_the_last_confirmation(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    now = int(time.time())
    _store_head(kiosk, iat=now - 1200, exp=now - 600)  # verified 20 minutes ago
    agent = Agent(kiosk.home)
    try:  # then only an older head comes (replayed): nothing newer verifies
        device = agent.config.device_id
        agent.syncer.process(feed_answer(district_head(server, device, iat=now - 1300,
                                                       exp=now + 600)))  # fmt: skip
    finally:
        agent.close()
    code, checks = doctor(kiosk)
    assert code == 1
    trust = checks["trust"]
    assert trust["status"] == "fail", trust
    assert "No confirmation from the district since" in trust["en_text"]
    assert "Belum ada konfirmasi dari kabupaten sejak" in trust["id_text"]
    assert "(head_replayed)" in trust["en_text"]
    assert checks["server"]["status"] == "ok"  # the district itself answers with a fresh head


def test_a_damaged_spool_fails_and_what_does_not_need_it_still_runs(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    (kiosk.home / "spool.db").write_bytes(b"this is not a database" * 100)
    code, checks = doctor(kiosk)
    assert code == 1
    assert statuses(checks) == {
        "state_dir": "ok", "enrolment": "fail", "trust": "skip", "server": "ok", "tls": "ok",
        "clock": "ok", "disk": "ok", "spool": "fail", "printer_a4": "ok", "cups_preserve": "skip",
    }  # fmt: skip
    assert "spool.db) cannot be opened" in checks["enrolment"]["en_text"]
    assert "damaged: file is not a database" in checks["spool"]["en_text"]
    assert "Do not delete the file" in checks["spool"]["fix_en"]


# --- the state folder -------------------------------------------------------------------


def test_an_open_state_folder_and_a_readable_file_fail_state_dir(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    kiosk.home.chmod(0o755)
    code, checks = doctor(kiosk)
    assert code == 1
    assert statuses(checks) == {**dict.fromkeys(CHECK_IDS, "ok"), "state_dir": "fail",
                                "cups_preserve": "skip"}  # fmt: skip
    assert "(mode 0755)" in checks["state_dir"]["en_text"]
    assert checks["state_dir"]["fix_en"] == f"chmod 700 {kiosk.home}"

    kiosk.home.chmod(0o700)
    (kiosk.home / "keys" / "auth.pem").chmod(0o640)
    url = kiosk.home / "kiosk-url"  # as `cedoka run` writes it, but readable by all
    url.write_text("http://127.0.0.1:8765/#k=SECRET-OF-THE-WINDOW")
    url.chmod(0o644)
    done = kiosk.cli("doctor")
    assert done.returncode == 1
    assert "2 files in it can be opened by other users: " in done.stdout
    assert "kiosk-url (0644)" in done.stdout and "keys/auth.pem (0640)" in done.stdout
    assert f"chmod -R go-rwx {kiosk.home}" in done.stdout
    assert "PRIVATE KEY" not in done.stdout and "SECRET" not in done.stdout  # names only
    assert "[GAGAL] state_dir" in done.stdout and "[ OK ]  server" in done.stdout


def test_an_empty_home_is_not_enrolled(tmp_path: Path) -> None:
    home = tmp_path / "kiosk"
    home.mkdir(mode=0o700)
    kiosk = Kiosk(server=None, home=home, out=tmp_path)  # type: ignore[arg-type]
    code, answer = doctor(kiosk)
    assert code == 1
    assert list(answer) == ["state_dir", "enrolment", "trust", "server", "tls", "clock", "disk",
                            "spool", "printers", "cups_preserve"]  # fmt: skip
    assert statuses(answer) == {
        "state_dir": "ok", "enrolment": "fail", "trust": "skip", "server": "skip", "tls": "skip",
        "clock": "skip", "disk": "ok", "spool": "skip", "printers": "skip",
        "cups_preserve": "skip",
    }  # fmt: skip
    assert "enroll --server URL --code CODE" in answer["enrolment"]["fix_en"]
    assert "enroll --server URL --code KODE" in answer["enrolment"]["fix_id"]
    assert list(home.iterdir()) == []  # doctor created nothing


# --- https with the district's own CA -----------------------------------------------------


def _certificate(tmp: Path, *, days: int) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cedoka test district")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    """The district server over HTTPS, its certificate (10 days left) from its own CA."""
    home = tmp_path / "district"
    DistrictAdmin.init(home, name="Disdukcapil Kolaka Utara", code="74.08")
    keys = Keys.open(home)
    admin = DistrictAdmin(keys)
    admin.add_office(OFFICE, "Desa Pitulua")
    notifier = FeedNotifier(Keys.open(home).store)
    cert, key = _certificate(tmp_path, days=10)
    config = uvicorn.Config(
        build_app(DistrictService(Keys.open(home)), notifier), host="127.0.0.1", port=0,
        log_level="warning", lifespan="on", timeout_graceful_shutdown=1,
        ssl_certfile=str(cert), ssl_keyfile=str(key),
    )  # fmt: skip
    uv = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(uv.serve(),), daemon=True)
    thread.start()
    wait_for("the https server", lambda: uv.started, timeout_s=10)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield Server(f"https://127.0.0.1:{port}", home, keys, admin, notifier), cert
    uv.should_exit = True
    thread.join(timeout=10)
    loop.close()


def test_https_with_the_districts_ca_warns_of_a_certificate_near_its_end(
    tls_server: tuple[Server, Path], tmp_path: Path
) -> None:
    server, cert = tls_server
    kiosk = enrol(server, tmp_path, "--ca", str(cert))
    code, checks = doctor(kiosk)
    assert code == 0  # a warning is not a failure
    assert statuses(checks) == {**dict.fromkeys(CHECK_IDS, "ok"), "tls": "warn",
                                "cups_preserve": "skip"}  # fmt: skip
    assert re.search(r"expires in (9|10) days", checks["tls"]["en_text"])
    assert "the district's CA, server-ca.pem" not in checks["tls"]["en_text"]  # warn: no praise
    assert "renew the certificate" in checks["tls"]["fix_en"]

    (kiosk.home / "server-ca.pem").unlink()  # now only the public CA list vouches for it
    code, checks = doctor(kiosk)
    assert code == 1
    assert checks["server"]["status"] == "fail" and "certificate" in checks["server"]["en_text"]
    assert checks["tls"]["status"] == "fail"
    assert "not trusted" in checks["tls"]["en_text"] and "--ca FILE" in checks["tls"]["fix_en"]


# --- CUPS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[CupsLab]:
    pytest.importorskip("cups")
    if shutil.which("cupsd") is None or shutil.which("ippeveprinter") is None:
        pytest.skip("needs cupsd and ippeveprinter")
    with cups_lab() as running:
        yield running


def test_a_cups_printer_its_queue_cupsd_and_preserve_job_files(
    server: Server, lab: CupsLab, tmp_path: Path
) -> None:
    kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path)
    code_text = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", code_text,
                     "--printer", f"a4=cups:{lab.queue}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    env = lab.env()
    keeps_no_files = lab.dir / "cupsd.conf"  # the running cupsd's own: PreserveJobFiles No
    code, checks = doctor(kiosk, "--cupsd-conf", str(keeps_no_files), env=env)
    assert code == 0, checks
    assert checks["printer_a4"]["status"] == "ok" and lab.queue in checks["printer_a4"]["en_text"]
    assert checks["cups_preserve"]["status"] == "ok"

    keeps_files = tmp_path / "cupsd.conf"  # the same without the line (a comment says it)
    keeps_files.write_text(keeps_no_files.read_text().replace(
        "PreserveJobFiles No", "# PreserveJobFiles No   (commented out)"))  # fmt: skip
    code, checks = doctor(kiosk, "--cupsd-conf", str(keeps_files), env=env)
    assert code == 1
    preserve = checks["cups_preserve"]
    assert preserve["status"] == "fail" and "for a day" in preserve["en_text"]
    assert "sudo cupsctl PreserveJobFiles=No" in preserve["fix_en"]
    assert [c for c, s in statuses(checks).items() if s == "fail"] == ["cups_preserve"]

    missing = tmp_path / "no-such-cupsd.conf"
    code, checks = doctor(kiosk, "--cupsd-conf", str(missing), env=env)
    assert code == 0 and checks["cups_preserve"]["status"] == "warn"  # unreadable: a warning

    no_cupsd = {**env, "CUPS_SERVER": str(tmp_path / "no-cupsd.sock")}
    code, checks = doctor(kiosk, "--cupsd-conf", str(keeps_no_files), env=no_cupsd)
    assert code == 1 and checks["printer_a4"]["status"] == "fail"
    assert "print service (CUPS) is not running" in checks["printer_a4"]["en_text"]

    config = load_config(kiosk.home)
    save_config(kiosk.home, replace(config, printers=(
        parse_printer_target(config.printers[0].role, "cups:no-such-queue"),)))  # fmt: skip
    code, checks = doctor(kiosk, "--cupsd-conf", str(keeps_no_files), env=env)
    assert code == 1 and checks["printer_a4"]["status"] == "fail"
    assert "no printer queue named no-such-queue" in checks["printer_a4"]["en_text"]
    assert "printers" in checks["printer_a4"]["fix_en"]
