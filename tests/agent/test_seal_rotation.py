"""Sealing-key rotation and crypto-shredding (protocol 14.2, 6.3 ``seal_rotate``; ADR 0032),
end to end: the real district server on 127.0.0.1, a real enrolled agent (in this process,
or the ``cedoka run`` command killed at the rotation's crash points), real SQLite, the
``virtual:`` printer.

- the district asks (``devices rotate-seal``): the head's ``seal_rotate`` reaches the kiosk,
  which rotates; a job sealed before still prints with the old key, a job pushed after is
  sealed to the new one; the old key is destroyed only once the last job naming it is
  purged;
- a crash after the new key is stored, and after the district took it, loses nothing;
- the scheduled rotation (``seal_rotate_days``)."""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent.app import Agent
from agent.keys import DeviceKeys, load_seal_key, seal_kid
from agent.sealing import DAY_S, load_state, manifest_seal_kid
from district.views import device_json
from district.views import seal_kid as district_seal_kid
from kiosk.errors import RejectedError
from kiosk.model import ReleaseMode
from kiosk.seal import document_info, open_sealed
from tests.agent.harness import Kiosk, enrol, push, wait_for
from tests.district.conftest import Server


def _device_id(kiosk: Kiosk) -> str:
    return str(json.loads(kiosk.cli("status", "--json").stdout)["device_id"])


def _district_kid(server: Server, device_id: str) -> str | None:
    device = server.keys.store.device(device_id)
    assert device is not None
    return district_seal_kid(device)


def _district_device(server: Server, device_id: str) -> dict[str, object]:
    device = server.keys.store.device(device_id)
    assert device is not None
    return device_json(device)


def _manifest_kid(agent: Agent, job_id: str) -> str | None:
    row = agent.spool.job(job_id)
    assert row is not None and row.manifest is not None
    return manifest_seal_kid(row.manifest)


def _olds(kiosk: Kiosk) -> list[str]:
    return sorted(p.name for p in (kiosk.home / "keys").glob("seal-old-*.pem"))


def _backup_of(agent: Agent, device_id: str, job_id: str) -> tuple[bytes, bytes]:
    """A copy of a job's first sealed document and its HPKE info."""
    doc_id = agent.spool.docs(job_id)[0].doc_id
    return agent.stored.read_sealed(doc_id), document_info(device_id, job_id, doc_id)


def _opens(sealed: bytes, info: bytes, key: X25519PrivateKey) -> bool:
    try:
        return open_sealed(sealed, key, info=info).startswith(b"%PDF")
    except RejectedError:
        return False


def _rounds_until_shredded(agent: Agent, kiosk: Kiosk) -> None:
    """Sync rounds until the former key is gone. The barrier is the first head signed after
    the switch's second (protocol 14.2): rounds in the same second as the switch wait."""

    def round_shredded() -> bool:
        agent.run_once()
        return _olds(kiosk) == []

    wait_for("the former key destroyed", round_shredded, timeout_s=10)


def _rotated(kiosk: Kiosk, agent: Agent, server: Server, device_id: str, old_kid: str) -> str:
    """Check that the kiosk switched from ``old_kid`` to a new key the district has, keeping
    the old one as a former key; the new kid."""
    new_kid = seal_kid(agent.keys.seal)
    assert new_kid != old_kid
    assert _district_kid(server, device_id) == new_kid
    assert seal_kid(load_seal_key(kiosk.home / "keys" / "seal.pem")) == new_kid
    assert _olds(kiosk) == [f"seal-old-{old_kid}.pem"]
    assert not (kiosk.home / "keys" / "seal-next.pem").exists()
    return new_kid


def test_the_district_asks_and_old_jobs_still_print_until_their_key_is_shredded(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    device_id = _device_id(kiosk)
    old_job, claim, old_pdfs = push(server, ReleaseMode.CLAIM)
    agent = Agent(kiosk.home)
    try:
        agent.run_once()
        assert kiosk.local_state(old_job) == "held"
        old_kid = seal_kid(agent.keys.seal)
        assert _manifest_kid(agent, old_job) == old_kid == _district_kid(server, device_id)
        agent.run_once()
        assert seal_kid(agent.keys.seal) == old_kid, "not asked, not due: no rotation"

        asked_s = server.admin.rotate_seal(device_id)
        assert server.keys.store.device(device_id).seal_rotate_s == asked_s  # type: ignore[union-attr]
        agent.run_once()  # the head carries seal_rotate: the kiosk rotates
        new_kid = _rotated(kiosk, agent, server, device_id, old_kid)
        assert load_state(agent.spool)["created"][new_kid] >= asked_s

        agent.run_once()  # the same request again: no second rotation
        assert seal_kid(agent.keys.seal) == new_kid

        new_job, _, new_pdfs = push(server, ReleaseMode.AUTO)
        agent.run_once()
        assert _manifest_kid(agent, new_job) == new_kid
        assert kiosk.local_state(new_job) == "printed"

        assert claim is not None  # the job sealed to the old key prints after the rotation
        assert agent.releaser.by_claim(claim, operator="siti.s") == [old_job]
        agent.dispatcher.print_released()
        assert kiosk.local_state(old_job) == "printed"
        assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(old_pdfs + new_pdfs)

        agent.run_once()  # the feed is read past the switch, but a printed job names the key
        assert _olds(kiosk) == [f"seal-old-{old_kid}.pem"]
        assert old_kid in agent.keys.seal_keys
        assert _district_device(server, device_id)["seal_keys"] == 2  # the heartbeat says

        backup, info = _backup_of(agent, device_id, old_job)  # as a backup of the PC keeps
        assert _opens(backup, info, agent.keys.seal_keys[old_kid])
        agent.dispatcher.hand_over(old_job, "siti.s")  # purged: nothing names the key now
        assert kiosk.local_state(old_job) == "purged"
        _rounds_until_shredded(agent, kiosk)
        assert old_kid not in agent.keys.seal_keys
        assert _district_device(server, device_id)["seal_keys"] == 1  # shredded, and told
        shredded = load_state(agent.spool)["shredded"]
        assert [kid for kid, _ in shredded] == [old_kid]
        held = DeviceKeys.load(kiosk.home).seal_keys.values()
        assert not any(_opens(backup, info, key) for key in held)  # crypto-shredded
        agent.stored.reopen(agent.spool.job(new_job))  # type: ignore[arg-type]
    finally:
        agent.close()
    seal = json.loads(kiosk.cli("status", "--json").stdout)["seal"]
    assert seal["kid"] == new_kid and seal["retired"] == [] and seal["pending"] is False
    assert [s["kid"] for s in seal["shredded"]] == [old_kid]
    assert "sealing key" in kiosk.cli("status").stdout


@pytest.mark.parametrize("point", ["seal.after_store", "seal.after_send"])
def test_a_crash_during_the_rotation_loses_no_job(
    server: Server, tmp_path: Path, point: str
) -> None:
    kiosk = enrol(server, tmp_path)
    device_id = _device_id(kiosk)
    held, claim, held_pdfs = push(server, ReleaseMode.CLAIM)
    first = kiosk.start()
    try:
        wait_for("held", lambda: kiosk.local_state(held) == "held")
        assert kiosk.stop(first) == 0
        old_kid = _district_kid(server, device_id)
        server.admin.rotate_seal(device_id)
        crashed = kiosk.start(crash_at=point)
        assert crashed.wait(timeout=60) == -signal.SIGKILL, kiosk.log_text()
        pending = load_seal_key(kiosk.home / "keys" / "seal-next.pem")  # stored before sending
        sent = _district_kid(server, device_id)
        assert sent == (old_kid if point == "seal.after_store" else seal_kid(pending))
        pushed, _, pushed_pdfs = push(server, ReleaseMode.AUTO)  # sealed to what the district has
        again = kiosk.start()
        wait_for("printed", lambda: kiosk.local_state(pushed) == "printed")
        assert kiosk.stop(again) == 0
    finally:
        kiosk.stop_all()
    assert _district_kid(server, device_id) == seal_kid(pending)  # the same key, re-sent
    assert seal_kid(load_seal_key(kiosk.home / "keys" / "seal.pem")) == seal_kid(pending)
    assert not (kiosk.home / "keys" / "seal-next.pem").exists()
    assert _olds(kiosk) == [f"seal-old-{old_kid}.pem"]  # the held job still names it
    agent = Agent(kiosk.home)
    try:
        assert claim is not None
        assert agent.releaser.by_claim(claim, operator="siti.s") == [held]
        agent.dispatcher.print_released()
        assert kiosk.local_state(held) == "printed"
    finally:
        agent.close()
    assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(held_pdfs + pushed_pdfs)


def test_a_job_sealed_to_the_old_key_that_arrives_after_the_switch_still_prints(
    server: Server, tmp_path: Path
) -> None:
    """The race: the district seals a job to the old key after the kiosk's last feed answer
    and before it takes the new key; the job reaches the kiosk only after the switch."""
    from agent import trust as trust_store

    kiosk = enrol(server, tmp_path)
    device_id = _device_id(kiosk)
    agent = Agent(kiosk.home)
    try:
        agent.run_once()
        old_kid = seal_kid(agent.keys.seal)
        server.admin.rotate_seal(device_id)
        trust = trust_store.load(agent.spool)  # one round, by hand: the feed answer first …
        agent.syncer.process(agent.client.feed(
            after=trust_store.feed_after(agent.spool), keyring_version=trust.keyring.version,
            wait_s=1,
        ))  # fmt: skip
        late, _, pdfs = push(server, ReleaseMode.AUTO)  # … then a job, sealed to the old key
        agent.sealing.step()  # … then the rotation
        assert seal_kid(agent.keys.seal) != old_kid
        agent.run_once()
        assert _manifest_kid(agent, late) == old_kid
        assert kiosk.local_state(late) == "printed"
        assert sorted(p.read_bytes() for p in kiosk.printed()) == sorted(pdfs)
        agent.run_once()
        assert _olds(kiosk) == [f"seal-old-{old_kid}.pem"]  # the printed job names it
        agent.dispatcher.hand_over(late, "siti.s")
        _rounds_until_shredded(agent, kiosk)
    finally:
        agent.close()


def test_a_request_made_before_the_kiosk_first_synced_is_honoured(
    server: Server, tmp_path: Path
) -> None:
    kiosk = enrol(server, tmp_path)
    device_id = _device_id(kiosk)
    enrolled_kid = _district_kid(server, device_id)
    server.admin.rotate_seal(device_id)  # at once: the kiosk has not looked at its key yet
    agent = Agent(kiosk.home)
    try:
        agent.run_once()
        assert seal_kid(agent.keys.seal) != enrolled_kid
        assert _district_kid(server, device_id) == seal_kid(agent.keys.seal)
    finally:
        agent.close()


def test_the_scheduled_rotation(server: Server, tmp_path: Path) -> None:
    kiosk = enrol(server, tmp_path)
    device_id = _device_id(kiosk)
    agent = Agent(kiosk.home)
    try:
        assert agent.config.seal_rotate_days == 30  # the default
        agent.run_once()
        first = seal_kid(agent.keys.seal)
        state = load_state(agent.spool)
        assert abs(state["created"][first] - time.time()) < 60  # first seen: counted from now

        def age(days: int) -> None:
            state = load_state(agent.spool)
            state["created"][seal_kid(agent.keys.seal)] = int(time.time()) - days * DAY_S
            agent.spool.set_meta({"seal": json.dumps(state).encode()})

        age(29)
        agent.run_once()
        assert seal_kid(agent.keys.seal) == first
        age(31)
        agent.config = dataclasses.replace(agent.config, seal_rotate_days=0)  # never: off
        agent.run_once()
        assert seal_kid(agent.keys.seal) == first
        agent.config = dataclasses.replace(agent.config, seal_rotate_days=30)
        agent.run_once()
        second = seal_kid(agent.keys.seal)
        assert second != first and _district_kid(server, device_id) == second
        _rounds_until_shredded(agent, kiosk)  # no job names the first key
        assert [kid for kid, _ in load_state(agent.spool)["shredded"]] == [first]
    finally:
        agent.close()


def test_seal_rotate_days_is_validated(tmp_path: Path) -> None:
    from kiosk.config import validate_agent_config
    from kiosk.errors import ConfigError

    base = {
        "server_url": "https://d.example", "device_id": "dev_01JCSWQ500DMJWYWTC96GXTKCF",
        "district_code": "74.08", "office_code": "74.08.01.2002", "printers": {"a4": "cups:A4"},
    }  # fmt: skip
    from kiosk.config import agent_config_to_raw

    default = validate_agent_config(base)
    assert default.seal_rotate_days == 30
    assert "seal_rotate_days" not in agent_config_to_raw(default)  # an older release reads it
    changed = validate_agent_config({**base, "seal_rotate_days": 7})
    assert agent_config_to_raw(changed)["seal_rotate_days"] == 7
    assert validate_agent_config({**base, "seal_rotate_days": 0}).seal_rotate_days == 0
    assert validate_agent_config({**base, "seal_rotate_days": 365}).seal_rotate_days == 365
    for bad in (-1, 366, "30", True):
        with pytest.raises(ConfigError, match="seal_rotate_days"):
            validate_agent_config({**base, "seal_rotate_days": bad})
