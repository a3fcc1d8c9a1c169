"""The village agent end to end: the real ``cedoka`` processes, the real district server on
127.0.0.1, real SQLite, the ``virtual:`` printer.

enrol → push (auto and claim) → printed byte-identical → reported; cancellation; the link
down at start and coming back; a revoked device; what is left on disk (no names, no NIKs,
no plaintext PDF)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from district.keyring import DATABASE
from district.reach import parse_public_url
from kiosk.claim import format_claim_code
from kiosk.errors import ClaimError
from kiosk.model import ReleaseMode
from tests.agent.harness import (
    assert_no_personal_data,
    district_events,
    district_state,
    enrol,
    push,
    wait_for,
)
from tests.agent.proxy import Proxy
from tests.district.conftest import Server


def test_auto_job_prints_byte_identical_and_is_reported(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    assert (kiosk.home.stat().st_mode & 0o777) == 0o700
    for private in ("keys/auth.pem", "keys/seal.pem", "spool.db", "agent.toml"):
        assert (kiosk.home / private).stat().st_mode & 0o777 == 0o600, private
    agent = kiosk.start()
    try:
        job_id, claim, pdfs = push(server, ReleaseMode.AUTO)
        assert claim is None
        wait_for("two documents printed", lambda: len(kiosk.printed()) == 2)
        assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(pdfs)
        assert all(job_id in p.name for p in kiosk.printed())  # opaque title: the job id only
        wait_for("printed at the district", lambda: district_state(server, job_id) == "printed")
        events = district_events(server, job_id)
        assert events == ["verify_ok", "auto_release", "submit", "print_done"], events
        wait_for("outbox empty", lambda: kiosk.outbox_pending() == 0)
        status = json.loads(kiosk.cli("status", "--json").stdout)
        assert status["jobs"] == {"printed": 1} and status["link"]["error"] is None
        device = server.keys.store.device(status["device_id"])
        wait_for(
            "a heartbeat",
            lambda: server.keys.store.device(status["device_id"]).heartbeat is not None,
        )  # type: ignore[union-attr]
        assert (
            device is not None and device.agent is not None and device.agent.startswith("cedoka/")
        )
    finally:
        assert kiosk.stop(agent) == 0
    assert_no_personal_data(kiosk.home, kiosk.log_text())


def test_claim_job_waits_then_the_code_releases_it(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    agent = kiosk.start()
    try:
        job_id, claim, pdfs = push(server, ReleaseMode.CLAIM)
        assert claim is not None
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        assert kiosk.printed() == []
        malformed = kiosk.cli("release", "--claim", "1234-5678-9012", "--json")  # check digit
        assert malformed.returncode == 2 and "argument --claim" in malformed.stderr
        wrong = kiosk.cli("release", "--claim", "1234-5678-9018", "--json")  # well-formed
        assert wrong.returncode == 1
        assert json.loads(wrong.stdout)["error"]["code"] == "claim_wrong"
        done = kiosk.cli("release", "--claim", format_claim_code(claim), "--operator", "siti.s",
                         "--json")  # fmt: skip
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["released"] == [job_id] and answer["jobs"][0]["state"] == "printed"
        assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(pdfs)
        again = kiosk.cli("release", "--claim", claim, "--json")  # nothing held any more
        assert again.returncode == 1
        assert len(kiosk.printed()) == 2  # never twice
        wait_for("printed at the district", lambda: district_state(server, job_id) == "printed")
        assert "release" in district_events(server, job_id)
        # a second bundle, handed over at once: its documents are deleted from the kiosk
        other, code, _ = push(server, ReleaseMode.CLAIM)
        wait_for("held", lambda: kiosk.local_state(other) == "held")
        assert code is not None
        done = kiosk.cli("release", "--claim", code, "--operator", "siti.s", "--handed-over",
                         "--json")  # fmt: skip
        assert json.loads(done.stdout)["jobs"] == [{"job_id": other, "state": "purged"}]
        assert len(kiosk.printed()) == 4
        wait_for("purge reported", lambda: district_state(server, other) == "purged")
        assert district_events(server, other)[-2:] == ["hand_over", "purge"]
        with kiosk.spool() as conn:
            kept = conn.execute("SELECT manifest FROM jobs WHERE job_id = ?", (other,)).fetchone()
        assert kept == (None,)  # the tombstone keeps no manifest
    finally:
        assert kiosk.stop(agent) == 0
    assert_no_personal_data(kiosk.home, kiosk.log_text())


def test_cancelled_job_is_never_printed_and_purged(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    agent = kiosk.start()
    try:
        job_id, _, _ = push(server, ReleaseMode.CLAIM)
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        server.admin.cancel(job_id, reason="other")
        wait_for("purged", lambda: kiosk.local_state(job_id) == "purged")
        assert list((kiosk.home / "blobs").iterdir()) == []
        wait_for(
            "cancel reported", lambda: district_events(server, job_id)[-2:] == ["cancel", "purge"]
        )
        later, _, _ = push(server, ReleaseMode.AUTO)  # the link still works after
        wait_for("printed", lambda: district_state(server, later) == "printed")
        assert all(job_id not in p.name for p in kiosk.printed())
    finally:
        kiosk.stop(agent)


def test_server_down_at_start_then_back(server: Server, tmp_path: Path) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    proxy = Proxy(port)
    proxy.up()
    serve_behind(server, proxy)
    kiosk = enrol(server, tmp_path, url=proxy.url)
    proxy.down()
    push(server, ReleaseMode.AUTO)
    agent = kiosk.start()
    try:
        wait_for(
            "the link failure noted",
            lambda: (
                (kiosk.home / "spool.db").exists()
                and json.loads(kiosk.cli("status", "--json").stdout)["link"]["error"] is not None
            ),
        )
        assert kiosk.printed() == []
        proxy.up()
        wait_for("printed after the link came back", lambda: len(kiosk.printed()) == 2, 60)
        proxy.down()  # and once more, in the middle of a long-poll
        second, _, _ = push(server, ReleaseMode.AUTO)
        proxy.up()
        wait_for("second job printed", lambda: district_state(server, second) == "printed", 60)
    finally:
        kiosk.stop(agent)
        proxy.down()
    assert "link_down" in kiosk.log_text()


def test_revoked_device_asks_for_re_enrolment(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    device = json.loads(kiosk.cli("status", "--json").stdout)["device_id"]
    server.admin.revoke(device)
    agent = kiosk.start()
    try:
        wait_for("revocation seen", lambda: "device_revoked" in kiosk.log_text())
        status = json.loads(kiosk.cli("status", "--json").stdout)
        assert status["link"]["error"] == "device_revoked"
        assert agent.poll() is None  # it keeps running (and asking) until re-enrolled
    finally:
        kiosk.stop(agent)


def test_tampered_blob_is_rejected_and_reported(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, _, _ = push(server, ReleaseMode.AUTO)
    with sqlite3.connect(server.home / DATABASE) as conn:  # a bit flips on the district's disk
        query = "SELECT data FROM blobs WHERE job_id = ? ORDER BY rowid LIMIT 1"
        data = bytearray(conn.execute(query, (job_id,)).fetchone()[0])
        data[len(data) // 2] ^= 0x01
        conn.execute("UPDATE blobs SET data = ? WHERE job_id = ? AND rowid = "
                     "(SELECT min(rowid) FROM blobs WHERE job_id = ?)",
                     (bytes(data), job_id, job_id))  # fmt: skip
    agent = kiosk.start()
    try:
        wait_for("rejection reported", lambda: district_state(server, job_id) == "purged")
        events = district_events(server, job_id)
        assert events == ["verify_fail", "purge"], events
        with sqlite3.connect(server.home / DATABASE) as conn:
            reason = conn.execute("SELECT reason FROM events WHERE job_id = ? AND "
                                  "event = 'verify_fail'", (job_id,)).fetchone()[0]  # fmt: skip
        assert reason == "hash_mismatch"
        assert kiosk.printed() == []
        assert list((kiosk.home / "blobs").iterdir()) == []
    finally:
        kiosk.stop(agent)


def test_a_replayed_job_is_never_printed_again(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    job_id, _, _ = push(server, ReleaseMode.AUTO)
    agent = kiosk.start()
    wait_for("printed", lambda: district_state(server, job_id) == "printed")
    assert kiosk.stop(agent) == 0
    with kiosk.spool() as conn:  # the feed position lost: the server re-delivers everything
        conn.execute("UPDATE meta SET value = X'30' WHERE key = 'feed_after'")
    again = kiosk.start()
    try:
        later, _, _ = push(server, ReleaseMode.AUTO)
        wait_for("the later job printed", lambda: district_state(server, later) == "printed")
        assert len(kiosk.printed()) == 4  # two bundles of two documents, each once
        assert sum(job_id in p.name for p in kiosk.printed()) == 2
    finally:
        kiosk.stop(again)


def test_enrolment_without_an_a4_printer_is_refused_before_the_code_is_spent(
    server: Server, tmp_path: Path
) -> None:
    from tests.agent.harness import OFFICE, Kiosk

    kiosk = Kiosk(server, tmp_path / "kiosk", tmp_path / "printed")
    kiosk.out.mkdir()
    code = server.admin.new_enroll_code(OFFICE, valid_s=3600)
    refused = kiosk.cli("enroll", "--server", server.base_url, "--code", code)
    assert refused.returncode == 1 and "printers.a4: required" in refused.stderr
    bad = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                    "--printer", "a4=lpt1")  # fmt: skip
    assert bad.returncode == 2 and "printers.a4" in bad.stderr  # a usage error, code unspent
    assert not (kiosk.home / "agent.toml").exists()
    done = kiosk.cli("enroll", "--server", server.base_url, "--code", code,
                     "--printer", f"a4=virtual:{kiosk.out}")  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_printer_that_is_not_ready_keeps_the_job(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    (kiosk.out / "MEDIA_EMPTY").touch()  # out of paper
    job_id, claim, pdfs = push(server, ReleaseMode.CLAIM)
    agent = kiosk.start()
    try:
        wait_for("held", lambda: kiosk.local_state(job_id) == "held")
        assert claim is not None
        answer = kiosk.cli("release", "--claim", claim, "--json")
        assert answer.returncode == 5  # released, waiting for the printer (ADR 0024)
        result = json.loads(answer.stdout)
        assert result["error"]["code"] == "media_empty"
        assert result["jobs"] == [{"job_id": job_id, "state": "released"}]  # kept, not lost
        (kiosk.out / "MEDIA_EMPTY").unlink()  # paper in: the service prints it
        wait_for("printed", lambda: district_state(server, job_id) == "printed", 30)
        assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(pdfs)
    finally:
        kiosk.stop(agent)


def test_an_expired_job_is_never_printed_and_is_purged(server: Server, tmp_path: Path) -> None:
    """Expiry in trusted time: the kiosk's clock is moved past the job's signed ``exp``."""
    from agent.app import Agent

    kiosk = enrol(server, tmp_path)
    job_id, claim, _ = push(server, ReleaseMode.CLAIM)
    first = kiosk.start()
    wait_for("held", lambda: kiosk.local_state(job_id) == "held")
    assert kiosk.stop(first) == 0
    agent = Agent(kiosk.home)
    try:
        later = int(time.time()) + 73 * 3600
        agent.dispatcher._local_now_s = lambda: later
        agent.dispatcher.expire_due()
        assert kiosk.local_state(job_id) == "purged"
        assert list((kiosk.home / "blobs").iterdir()) == []
        assert claim is not None
        with pytest.raises(ClaimError):  # nothing held any more
            agent.releaser.by_claim(claim, operator="siti.s")
        agent.reporter.deliver()
    finally:
        agent.close()
    assert district_events(server, job_id)[-2:] == ["expire", "purge"]
    assert kiosk.printed() == []


def test_a_reset_mid_blob_resumes_without_starting_over(server: Server, tmp_path: Path) -> None:
    """The link drops in the middle of a 1.5 MB document: the agent resumes with Range, the
    document arrives whole (hash checked), and little more than its size crosses the link."""
    from tests.agent.harness import nik_pdf

    proxy = Proxy(int(server.base_url.rsplit(":", 1)[1]))
    proxy.up()
    serve_behind(server, proxy)
    kiosk = enrol(server, tmp_path, url=proxy.url)
    agent = kiosk.start()
    try:
        wait_for(
            "first feed answer",
            lambda: (
                kiosk.cli("status", "--json").returncode == 0
                and json.loads(kiosk.cli("status", "--json").stdout)["trust"]["head_seq"]
                is not None
            ),
        )
        pdf = nik_pdf(1, "besar", padding=1_500_000)
        start = proxy.downstream_bytes
        proxy.cut_once_after(700_000)
        job_id, _, _ = push(server, ReleaseMode.AUTO, [("KK", pdf)])
        wait_for("printed", lambda: district_state(server, job_id) == "printed", 60)
        moved = proxy.downstream_bytes - start
        [printed] = kiosk.printed()
        assert printed.read_bytes() == pdf
        with sqlite3.connect(server.home / DATABASE) as conn:
            query = "SELECT length(data) FROM blobs WHERE job_id = ?"
            sealed = int(conn.execute(query, (job_id,)).fetchone()[0])
        ratio = moved / sealed
        print(
            f"resumed download: {moved} bytes over the link for a {sealed}-byte blob "
            f"(ratio {ratio:.3f})"
        )
        assert 1.0 <= ratio < 1.05, ratio  # no restart from byte 0
        assert "reset" in kiosk.log_text() or "link_down" in kiosk.log_text()
    finally:
        kiosk.stop(agent)
        proxy.down()


def serve_behind(server: Server, proxy: Proxy) -> None:
    """The kiosk reaches the server through ``proxy``: that is the origin its proofs name,
    so it is the server's public URL (as ``serve --public-url`` sets it behind a forwarder)."""
    assert server.app is not None
    server.app.state.public_url = parse_public_url(proxy.url)
