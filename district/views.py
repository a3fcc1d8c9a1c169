"""What district IT is shown of jobs, kiosks and a kiosk's audit trail, as JSON-ready dicts.

One shape for both doors: the command line's ``--json`` (and its tables) and the admin API
print the same dicts, so ``cedoka-district --server URL …`` answers exactly as the local
command does (issue 17 item 3). Never a resident's name or a NIK: ids, states and times.
"""

from __future__ import annotations

from typing import Any

from district.releases import ReleaseRepo
from district.store import DeviceRow, DistrictStore, JobRow
from kiosk.audit import check_chain, record_from_bytes
from kiosk.errors import OperatorError, RejectedError
from kiosk.ids import OFFICE_CODE
from kiosk.keys import parse_x25519_jwk, thumbprint
from kiosk.report import PrinterHealth, UpdateReport, parse_heartbeat
from kiosk.rollout import parse_version
from kiosk.strictjson import loads_strict


def job_json(row: JobRow) -> dict[str, Any]:
    return {
        "job_id": row.job_id, "office_code": row.office_code, "device_id": row.device_id,
        "seq": row.seq, "release": row.release, "created_s": row.created_s,
        "expires_s": row.expires_s, "cancelled_s": row.cancelled_s,
        "cancel_reason": row.cancel_reason, "state": row.state, "state_s": row.state_s,
        "reason": row.reason,
    }  # fmt: skip


def printers_of(device: DeviceRow) -> tuple[PrinterHealth, ...] | None:
    """The printers of the device's last heartbeat: () without one, None if unreadable."""
    try:
        return () if device.heartbeat is None else parse_heartbeat(device.heartbeat).printers
    except RejectedError:
        return None


def update_of(device: DeviceRow) -> UpdateReport | None:
    """The kiosk's last self-update attempt as its last heartbeat reported it (None: none
    reported, or an unreadable heartbeat)."""
    try:
        return None if device.heartbeat is None else parse_heartbeat(device.heartbeat).update
    except RejectedError:
        return None


def printer_json(p: PrinterHealth) -> dict[str, Any]:
    return {
        "role": p.role, "backend": p.backend, "state": p.state, "accepting": p.accepting,
        "reasons": list(p.reasons), "media": p.media,
        "markers": [{"name": m.name, "level": m.level} for m in p.markers],
    }  # fmt: skip


def device_json(row: DeviceRow) -> dict[str, Any]:
    """A kiosk; ``printers`` is None when its last heartbeat could not be read."""
    try:
        beat = None if row.heartbeat is None else parse_heartbeat(row.heartbeat)
    except RejectedError:
        beat = None
    printers = () if row.heartbeat is None else None if beat is None else beat.printers
    update = None if beat is None else beat.update
    return {
        "device_id": row.device_id, "office_code": row.office_code,
        "enrolled_s": row.enrolled_s, "revoked_s": row.revoked_s,
        "last_seen_s": row.last_seen_s, "agent": row.agent,
        "printers": None if printers is None else [printer_json(p) for p in printers],
        "update": None if update is None else update.to_json(),
        "seal_kid": seal_kid(row), "seal_rotate_s": row.seal_rotate_s,
        "seal_keys": None if beat is None else beat.seal_keys,
    }  # fmt: skip


def seal_kid(row: DeviceRow) -> str | None:
    """The thumbprint of the device's current sealing key (protocol 14.2); None if unreadable."""
    try:
        return thumbprint(parse_x25519_jwk(loads_strict(row.seal_jwk.encode(), max_bytes=1024)))
    except RejectedError:  # WireError: a row that is not a JWK (a test's placeholder)
        return None


def audit_device(store: DistrictStore, kiosk: str) -> tuple[DeviceRow, str | None]:
    """The device ``kiosk`` names — a device id, or an office code (its active kiosk, else
    its last enrolled one) — and a note naming the office's other kiosks (None: none).
    Raises OperatorError for an unknown device or office."""
    if not OFFICE_CODE.fullmatch(kiosk):
        device = store.device(kiosk)
        if device is None:
            raise OperatorError(f"no device {kiosk} (give a device id or an office code)")
        return device, None
    if store.office(kiosk) is None:
        raise OperatorError(f"unknown office {kiosk}")
    enrolled = sorted((d for d in store.devices() if d.office_code == kiosk),
                      key=lambda d: d.enrolled_s)  # fmt: skip
    if not enrolled:
        raise OperatorError(f"no kiosk was ever enrolled for office {kiosk}")
    device = store.active_device_for_office(kiosk) or enrolled[-1]
    others = [d.device_id for d in enrolled if d.device_id != device.device_id]
    note = None
    if others:
        note = f"office {kiosk}: kiosk {device.device_id}; its other kiosks: {', '.join(others)}"
    return device, note


def audit_report(store: DistrictStore, device: DeviceRow) -> dict[str, Any]:
    """A kiosk's audit trail with its chain checked: ``problems`` is empty when it is intact
    (and the kiosk's last heartbeat reports no record the district lacks)."""
    records, unreadable = [], []
    for seq, data, hash_ in store.audit(device.device_id):
        try:
            records.append(record_from_bytes(data, hash_, device_id=device.device_id,
                                             check=False))  # fmt: skip
        except RejectedError:
            unreadable.append(f"record {seq} is unreadable (altered)")
    problems = unreadable + check_chain(records, device_id=device.device_id)
    try:
        beat = None if device.heartbeat is None else parse_heartbeat(device.heartbeat)
    except RejectedError:
        beat = None
    reported = None if beat is None else beat.journal_head
    if reported is not None and records and records[-1].hash != reported:
        problems.append("the kiosk's last heartbeat reports records not received yet")
    return {"device_id": device.device_id, "problems": problems, "records": [{
        "seq": r.seq, "at_s": r.entry.at_s, "operator": r.entry.operator,
        "action": r.entry.action, "outcome": r.entry.outcome, "job_id": r.entry.job_id,
        "doc_types": list(r.entry.doc_types), "printer": r.entry.printer,
        "reason": r.entry.reason, "old": r.entry.old, "new": r.entry.new, "hash": r.hash,
    } for r in records]}  # fmt: skip


UPDATE_TROUBLE = frozenset({"rolled_back", "failed", "refused"})


def agent_version(device: DeviceRow) -> str | None:
    """The agent version a kiosk last reported (``cedoka/<V>`` → ``V``), None without one."""
    agent = device.agent or ""
    return agent.removeprefix("cedoka/") if agent.startswith("cedoka/") else None


def promote_command(version: str, percent: int | None, offices: list[str]) -> str:
    """The ``promote`` command line for the machine that holds the targets key."""
    parts = ["cedoka-district", "release", "--keys", "DIR", "promote", version]
    if percent is not None:
        parts += ["--percent", str(percent)]
    if offices:
        parts += ["--office", *offices]
    return " ".join(parts)


def releases_json(repo: ReleaseRepo | None, devices: list[DeviceRow]) -> dict[str, Any]:
    """The agent releases (ADR 0031) as district IT sees them: each release's stage, how
    many kiosks (not revoked) run it, and how many last reported an update to it that did
    not end well (``failed``: rolled back, failed its checks, refused) or that waits for the
    printer; every version the kiosks run; whether ``promote`` can be signed on this
    server (the targets key is here) or must be run where the key is."""
    active = [d for d in devices if d.revoked_s is None]
    running: dict[str, int] = {}
    for device in active:
        version = agent_version(device)
        if version is not None:
            running[version] = running.get(version, 0) + 1
    trouble: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for device in active:
        update = update_of(device)
        if update is not None and update.result in UPDATE_TROUBLE:
            trouble[update.version] = trouble.get(update.version, 0) + 1
        elif update is not None and update.result == "waiting":
            waiting[update.version] = waiting.get(update.version, 0) + 1
    exists = repo is not None and repo.exists()
    listed = repo.releases() if repo is not None and exists else []
    return {
        "repository": exists,
        "promote_online": exists and repo is not None and repo.can_sign_targets(),
        "promote_command": promote_command("V", None, []) + " --percent N --office CODE",
        "releases": [
            {"version": r.version, "percent": r.stage.percent, "offices": list(r.stage.offices),
             "length": r.length, "sha256": r.sha256, "kiosks": running.get(r.version, 0),
             "failed": trouble.get(r.version, 0), "waiting": waiting.get(r.version, 0)}
            for r in reversed(listed)
        ],
        "versions": [{"version": v, "kiosks": n}
                     for v, n in sorted(running.items(), key=lambda i: _version_key(i[0]),
                                        reverse=True)],
        "unknown_version": len(active) - sum(running.values()),
    }  # fmt: skip


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return parse_version(version)
    except OperatorError:
        return ()
