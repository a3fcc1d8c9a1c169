"""``cedoka doctor``'s checks of this computer: the state folder (``state_dir``), the
enrolment, the trust state pinned at enrolment (``trust``), free disk space (``disk``) and the
spool database (``spool``), with the facts each check judges; and the times read from the
spool's ids and outbox records for the ``spool`` check."""

from __future__ import annotations

import enum
import re
import shlex
from dataclasses import dataclass
from typing import Final

from kiosk.b64 import b64u_decode
from kiosk.doctor.model import (
    CLOCK_FIX,
    REVOKED_CODES,
    Check,
    Pair,
    Status,
    check,
    count,
    duration,
    join,
    names,
    reenrol_fix,
    same,
    size,
    when,
)
from kiosk.errors import CedokaError, Reason
from kiosk.ids import CROCKFORD
from kiosk.limits import MAX_DOCUMENT_SEALED_BYTES, MAX_DOCUMENTS_PER_JOB, MAX_HEAD_LIFETIME_S
from kiosk.messages import text as reason_text
from kiosk.strictjson import loads_object

# --- 1. state_dir --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateDirFacts:
    path: str
    exists: bool
    is_dir: bool = True
    mode: int = 0o700  # the folder's permission bits
    owner: str = ""  # the folder's owner (user name, or the uid when it has none)
    owner_uid: int = 0
    runner: str = ""  # who runs doctor
    runner_uid: int = 0
    exposed: tuple[tuple[str, int], ...] = ()  # (path inside, mode) with group/other bits
    foreign: tuple[tuple[str, str], ...] = ()  # (path inside, owner) not owned by ``owner``


def judge_state_dir(f: StateDirFacts, *, command: str) -> Check:
    """The home must exist, be a folder, be 0700 and hold nothing that other users can open;
    everything in it must belong to its owner, who is the user running doctor (as root: the
    service user who owns it)."""
    path = shlex.quote(f.path)
    if not f.exists:
        return check("state_dir", Status.FAIL, (
            f"Folder data {f.path} tidak ada.", f"The state folder {f.path} does not exist.",
        ), (
            "Periksa alamat folder (--home atau CEDOKA_HOME), atau daftarkan komputer ini: "
            f"{command} enroll --server URL --code KODE",
            "Check the folder (--home or CEDOKA_HOME), or enrol this computer: "
            f"{command} enroll --server URL --code CODE",
        ))  # fmt: skip
    if not f.is_dir:
        return check("state_dir", Status.FAIL, (
            f"{f.path} bukan folder.", f"{f.path} is not a folder.",
        ), (
            "Periksa alamat folder (--home atau CEDOKA_HOME).",
            "Check the folder (--home or CEDOKA_HOME).",
        ))  # fmt: skip
    found: list[Pair] = []
    fixes: list[Pair] = []
    if f.mode & 0o077:
        found.append((f"Folder data bisa dibuka pengguna lain (mode {f.mode:04o}).",
                      f"Other users can open the state folder (mode {f.mode:04o})."))  # fmt: skip
        fixes.append(same(f"chmod 700 {path}"))
    if f.runner_uid not in (0, f.owner_uid):  # a non-root runner who is not the owner
        found.append((
            f"Folder data milik pengguna {f.owner}, tetapi pemeriksaan ini berjalan sebagai "
            f"{f.runner}.",
            f"The state folder belongs to user {f.owner}, but doctor runs as {f.runner}.",
        ))  # fmt: skip
        fixes.append((f"Jalankan sebagai {f.owner} atau root: sudo {command} doctor",
                      f"Run as {f.owner} or root: sudo {command} doctor"))  # fmt: skip
    if f.exposed:
        listed = names([f"{name} ({mode:04o})" for name, mode in f.exposed])
        found.append((
            f"{len(f.exposed)} berkas di dalamnya bisa dibuka pengguna lain: {listed}.",
            f"{count(len(f.exposed), 'file')} in it can be opened by other users: {listed}.",
        ))  # fmt: skip
        fixes.append(same(f"chmod -R go-rwx {path}"))
    if f.foreign:
        listed = names([f"{name} ({owner})" for name, owner in f.foreign])
        found.append((
            f"{len(f.foreign)} berkas di dalamnya bukan milik {f.owner}: {listed}. Layanan "
            "tidak bisa memakainya.",
            f"{count(len(f.foreign), 'file')} in it not owned by {f.owner}: {listed}. The "
            "service cannot use them.",
        ))  # fmt: skip
        fixes.append(same(f"chown -R {shlex.quote(f.owner)} {path}"))
    if found:
        return check("state_dir", Status.FAIL, join(found), join(fixes, "; "))
    return check("state_dir", Status.OK, (
        f"Folder data {f.path} tertutup untuk pengguna lain (0700) dan milik {f.owner}: "
        f"layanan Cedoka harus berjalan sebagai {f.owner}.",
        f"The state folder {f.path} is private (0700) and belongs to {f.owner}: the Cedoka "
        f"service must run as {f.owner}.",
    ))  # fmt: skip


# --- 2. enrolment --------------------------------------------------------------------------


class EnrolmentProblem(enum.StrEnum):
    NOT_ENROLLED = "not_enrolled"  # no agent.toml
    SETTINGS = "settings"  # agent.toml does not load
    KEYS = "keys"  # the device keys are missing or unreadable
    SPOOL = "spool"  # spool.db is missing or cannot be opened
    TRUST = "trust"  # the trust state pinned at enrolment is missing or does not verify
    MISMATCH = "mismatch"  # agent.toml and the spool name different devices


@dataclass(frozen=True, slots=True)
class EnrolmentFacts:
    problem: EnrolmentProblem | None
    detail: str = ""  # the error, for a problem (paths and settings, never secrets)
    device_id: str = ""
    district_code: str = ""
    office_code: str = ""
    office_name: str = ""


def judge_enrolment(f: EnrolmentFacts, *, command: str, home: str) -> Check:
    P = EnrolmentProblem
    detail = f": {f.detail}" if f.detail else ""
    if f.problem is None:
        office = f"{f.office_name} ({f.office_code})" if f.office_name else f.office_code
        return check("enrolment", Status.OK, (
            f"Komputer ini terdaftar sebagai {f.device_id} untuk {office}, kabupaten "
            f"{f.district_code}.",
            f"This computer is enrolled as {f.device_id} for {office}, district {f.district_code}.",
        ))  # fmt: skip
    if f.problem is P.NOT_ENROLLED:
        return check("enrolment", Status.FAIL, (
            "Komputer ini belum didaftarkan ke kabupaten (tidak ada agent.toml).",
            "This computer is not enrolled with the district (no agent.toml).",
        ), (
            "Minta kode pendaftaran ke petugas IT kabupaten, lalu jalankan: "
            f"{command} enroll --server URL --code KODE",
            f"Ask district IT for an enrolment code, then run: {command} enroll --server URL "
            "--code CODE",
        ))  # fmt: skip
    if f.problem is P.SETTINGS:
        return check("enrolment", Status.FAIL, (
            f"Berkas pengaturan agent.toml salah{detail}.",
            f"The settings file agent.toml is wrong{detail}.",
        ), (
            "Perbaiki pengaturan itu di agent.toml, atau daftarkan ulang komputer ini.",
            "Correct that setting in agent.toml, or enrol this computer again.",
        ))  # fmt: skip
    found = {
        P.KEYS: (f"Kunci rahasia komputer ini (folder keys) hilang atau rusak{detail}.",
                 f"This computer's private keys (keys folder) are missing or damaged{detail}."),
        P.SPOOL: (f"Basis data antrean (spool.db) tidak bisa dibuka{detail}.",
                  f"The queue database (spool.db) cannot be opened{detail}."),
        P.TRUST: (f"Data kepercayaan kabupaten di spool.db tidak lengkap atau rusak{detail}.",
                  f"The district trust data in spool.db is incomplete or damaged{detail}."),
        P.MISMATCH: ("agent.toml dan spool.db milik perangkat yang berbeda.",
                     "agent.toml and spool.db belong to different devices."),
    }[f.problem]  # fmt: skip
    if f.problem is P.SPOOL:
        fix = ("Lihat pemeriksaan 'spool', lalu hubungi petugas IT kabupaten.",
               "See the 'spool' check, then call district IT.")  # fmt: skip
    else:
        fix = reenrol_fix(command, home)
    return check("enrolment", Status.FAIL, found, fix)


# --- 3. trust ------------------------------------------------------------------------------


# The trusted-time floor is the signed iat of the last verified head; a district's clock only
# moves forward, so a floor ahead of the time the district signs now means its clock was ahead
# when it signed that head (or the floor is damaged). Every new head is then refused
# (head_replayed: older than the stored one; or head_expired) until the district's clock
# passes the floor. Within a head's longest lifetime that is a short wait; beyond it the kiosk
# receives nothing for too long: fail, and say what district IT can do.
FLOOR_AHEAD_FAIL_S: Final = MAX_HEAD_LIFETIME_S


@dataclass(frozen=True, slots=True)
class TrustFacts:
    keyring_version: int
    head_seq: int | None  # the last verified feed head (None before the first)
    head_issued_s: int | None
    head_expires_s: int | None
    time_floor_s: int  # the highest signed time seen (kiosk.clock)
    local_now_s: int
    link_error: str = ""  # what the service last recorded about the link ("" = fine)
    utc_offset_s: int = 0
    head_refused: str = ""  # why the service refused the newest head ("" = it did not)
    district_time_s: int | None = None  # the iat of a head the district signed just now


def floor_ahead(time_floor_s: int, district_time_s: int | None) -> bool:
    """Is the trusted-time floor further ahead of the district's signed time than the
    district can catch up with soon (``FLOOR_AHEAD_FAIL_S``)?"""
    return district_time_s is not None and time_floor_s - district_time_s > FLOOR_AHEAD_FAIL_S


def floor_fix(command: str, home: str) -> Pair:
    """What to do when the floor is far ahead of the district: district IT corrects the
    district server's clock if it was wrong, then the kiosk is enrolled again (a new trust
    state, floor 0). Never "set this computer's clock": it is right, and setting it ahead
    would not help (the district's heads are what is refused)."""
    again = reenrol_fix(command, home)
    return (
        "Petugas IT kabupaten: jika jam server kabupaten pernah terlalu maju, betulkan dulu "
        "(aktifkan NTP di server itu). Lalu daftarkan ulang komputer ini — atau tunggu sampai "
        "jam server kabupaten melewati waktu itu. " + again[0] + ". Jangan mengubah jam "
        "komputer ini.",
        "District IT: if the district server's clock was ever ahead, correct it first (turn on "
        "NTP on that server). Then enrol this kiosk again — or wait until the district "
        "server's clock passes that time. " + again[1] + ". Do not change this computer's "
        "clock.",
    )


def judge_trust(f: TrustFacts, *, command: str, home: str) -> Check:
    if f.link_error in REVOKED_CODES:
        reason = Reason(f.link_error)
        return check("trust", Status.FAIL,
                      (reason_text(reason, "id"), reason_text(reason, "en")),
                      reenrol_fix(command, home))  # fmt: skip
    if f.district_time_s is not None and floor_ahead(f.time_floor_s, f.district_time_s):
        floor = when(f.time_floor_s, f.utc_offset_s)
        district = when(f.district_time_s, f.utc_offset_s)
        ahead = duration(f.time_floor_s - f.district_time_s)
        return check("trust", Status.FAIL, (
            f"Waktu terpercaya komputer ini ({floor}) {ahead[0]} lebih maju dari waktu yang "
            f"ditandatangani kabupaten sekarang ({district}): setiap konfirmasi baru dari "
            f"kabupaten ditolak (head_replayed, head_expired) sampai jam server kabupaten "
            f"melewati {floor}, jadi tidak ada dokumen baru yang diterima.",
            f"This kiosk's trusted time ({floor}) is {ahead[1]} ahead of the time the district "
            f"signs now ({district}): every new confirmation from the district is refused "
            f"(head_replayed, head_expired) until the district server's clock passes {floor}, "
            "so no new documents are accepted.",
        ), floor_fix(command, home))  # fmt: skip
    if f.local_now_s < f.time_floor_s:
        local, floor = when(f.local_now_s, f.utc_offset_s), when(f.time_floor_s, f.utc_offset_s)
        return check("trust", Status.FAIL, (
            f"Jam komputer ini ({local}) lebih awal dari waktu terakhir yang dipastikan "
            f"kabupaten ({floor}): jam ini diundurkan atau salah.",
            f"This computer's clock ({local}) is earlier than the last time the district "
            f"confirmed ({floor}): it was set back or is wrong.",
        ), CLOCK_FIX)  # fmt: skip
    keys = (f"Daftar kunci kabupaten versi {f.keyring_version}", f"District keyring version "
            f"{f.keyring_version}")  # fmt: skip
    if f.head_seq is None or f.head_issued_s is None or f.head_expires_s is None:
        if f.head_refused == Reason.HEAD_EXPIRED.value:
            return _frozen(f, ("pendaftaran", "enrolment"))
        return check("trust", Status.OK, (
            f"{keys[0]}; belum ada jawaban dari kabupaten sejak pendaftaran (layanan belum "
            "mengambil data).",
            f"{keys[1]}; no answer from the district yet since enrolment (the service has not "
            "fetched yet).",
        ))  # fmt: skip
    last = when(f.head_issued_s, f.utc_offset_s)
    expired = f.head_expires_s <= max(f.local_now_s, f.time_floor_s)
    if f.head_refused and (expired or f.head_refused == Reason.HEAD_EXPIRED.value):
        return _frozen(f, (last, last))
    if expired:
        return check("trust", Status.WARN, (
            f"{keys[0]}; konfirmasi terakhir dari kabupaten ({last}) sudah kedaluwarsa: "
            "layanan tidak tersambung atau tidak berjalan.",
            f"{keys[1]}; the last confirmation from the district ({last}) has expired: the "
            "service is not connected or not running.",
        ), (
            f"Pastikan layanan Cedoka berjalan ({command} run) dan lihat pemeriksaan 'server'.",
            f"Make sure the Cedoka service runs ({command} run) and see the 'server' check.",
        ))  # fmt: skip
    return check("trust", Status.OK, (
        f"{keys[0]}; konfirmasi terakhir dari kabupaten {last} (urutan {f.head_seq}).",
        f"{keys[1]}; last confirmation from the district {last} (seq {f.head_seq}).",
    ))  # fmt: skip


def _frozen(f: TrustFacts, since: Pair) -> Check:
    """The service gets answers, but the district's confirmation in them is refused and the
    last one ran out (protocol 9.8): no new documents until a fresh head verifies."""
    return check("trust", Status.FAIL, (
        f"Belum ada konfirmasi dari kabupaten sejak {since[0]}: jawaban kabupaten datang, "
        f"tetapi konfirmasinya ditolak ({f.head_refused}). Dokumen baru tidak diterima; yang "
        "sudah diterima tetap bisa dicetak.",
        f"No confirmation from the district since {since[1]}: the district's answers arrive, "
        f"but their confirmation is refused ({f.head_refused}). No new documents are "
        "accepted; those already received can still be printed.",
    ), (
        "Beri tahu petugas IT kabupaten: server kabupaten (atau sesuatu di jaringan) mengirim "
        "konfirmasi lama; periksa jam dan layanan server kabupaten. Lihat juga pemeriksaan "
        "'server'.",
        "Tell district IT: the district server (or something on the network) sends stale "
        "confirmations; check the district server's clock and service. See also the 'server' "
        "check.",
    ))  # fmt: skip


# --- 7. disk -------------------------------------------------------------------------------

# The largest job the protocol allows is MAX_DOCUMENTS_PER_JOB (10) sealed documents of
# MAX_DOCUMENT_SEALED_BYTES (100 MiB) each, ≈ 1 GB: below that a large delivery may not fit
# (warn). Below two of the largest documents (200 MiB) not even one large document can be
# downloaded beside the spool's growth and SQLite's WAL (fail).
DISK_FAIL_BYTES: Final = 2 * MAX_DOCUMENT_SEALED_BYTES
DISK_WARN_BYTES: Final = MAX_DOCUMENTS_PER_JOB * MAX_DOCUMENT_SEALED_BYTES


def judge_disk(free_bytes: int) -> Check:
    free = size(free_bytes)
    need = (f"(minimal {size(DISK_FAIL_BYTES)}, sebaiknya {size(DISK_WARN_BYTES)})",
            f"(at least {size(DISK_FAIL_BYTES)}, better {size(DISK_WARN_BYTES)})")  # fmt: skip
    fix = (
        "Hapus berkas yang tidak perlu di komputer ini (jangan di folder data Cedoka).",
        "Delete files you do not need on this computer (not in the Cedoka state folder).",
    )
    if free_bytes < DISK_FAIL_BYTES:
        return check("disk", Status.FAIL, (
            f"Disk hampir penuh: tinggal {free} {need[0]}. Dokumen baru tidak bisa diterima.",
            f"The disk is almost full: {free} left {need[1]}. New documents cannot be received.",
        ), fix)  # fmt: skip
    if free_bytes < DISK_WARN_BYTES:
        return check("disk", Status.WARN, (
            f"Ruang kosong di disk tinggal {free} {need[0]}: kiriman besar bisa tidak muat.",
            f"Only {free} free on disk {need[1]}: a large delivery may not fit.",
        ), fix)  # fmt: skip
    return check("disk", Status.OK, (f"Ruang kosong di disk: {free}.", f"Free disk space: {free}."))


# --- 8. spool ------------------------------------------------------------------------------

OUTBOX_WARN_AGE_S: Final = 86400


@dataclass(frozen=True, slots=True)
class SpoolFacts:
    exists: bool
    integrity: tuple[str, ...] = ("ok",)  # PRAGMA quick_check's rows
    pending: int | None = None  # outbox records not yet delivered (None: not counted)
    oldest_pending_age_s: int | None = None


def judge_spool(f: SpoolFacts) -> Check:
    if not f.exists:
        return check("spool", Status.FAIL, (
            "Basis data antrean (spool.db) tidak ada.", "The queue database (spool.db) is missing.",
        ), ("Hubungi petugas IT kabupaten.", "Call district IT."))  # fmt: skip
    if f.integrity != ("ok",):
        first = "; ".join(f.integrity[:3])
        return check("spool", Status.FAIL, (
            f"Basis data antrean (spool.db) rusak: {first}.",
            f"The queue database (spool.db) is damaged: {first}.",
        ), (
            "Hentikan layanan, simpan salinan spool.db, lalu hubungi petugas IT kabupaten. "
            "Jangan hapus berkas itu.",
            "Stop the service, keep a copy of spool.db, then call district IT. Do not delete "
            "the file.",
        ))  # fmt: skip
    if not f.pending:
        said = ("; semua catatan sudah sampai di kabupaten", "; every record reached the district")
        return check("spool", Status.OK, (
            f"Basis data antrean utuh{said[0] if f.pending == 0 else ''}.",
            f"The queue database is intact{said[1] if f.pending == 0 else ''}.",
        ))  # fmt: skip
    age = f.oldest_pending_age_s
    if age is not None and age > OUTBOX_WARN_AGE_S:
        words = duration(age)
        return check("spool", Status.WARN, (
            f"{f.pending} catatan belum terkirim ke kabupaten, yang tertua sudah {words[0]}: "
            "kabupaten tidak tahu apa yang sudah dicetak.",
            f"{count(f.pending, 'record')} not yet sent to the district, the oldest for "
            f"{words[1]}: the district does not know what was printed.",
        ), (
            "Pastikan layanan Cedoka berjalan dan tersambung (lihat 'server').",
            "Make sure the Cedoka service runs and is connected (see 'server').",
        ))  # fmt: skip
    return check("spool", Status.OK, (
        f"Basis data antrean utuh; {f.pending} catatan menunggu dikirim ke kabupaten.",
        f"The queue database is intact; {count(f.pending, 'record')} waiting to be sent to the "
        "district.",
    ))  # fmt: skip


def outbox_event_time_s(token: bytes) -> int | None:
    """When an outbox record was made: the time in its ``jti`` (an ``evt_`` ULID). The token
    is the kiosk's own signed record; it is read here, not verified. None if unreadable."""
    try:
        claims = loads_object(b64u_decode(token.split(b".")[1].decode("ascii")), max_bytes=8192)
    except (CedokaError, IndexError, UnicodeDecodeError, ValueError):
        return None
    jti = claims.get("jti")
    return id_time_s(jti) if isinstance(jti, str) else None


def id_time_s(value: str) -> int | None:
    """The Unix time (seconds) in a ULID-shaped id (``kiosk.ids``), or None."""
    if not re.fullmatch(r"(job|doc|dev|evt)_[0-9A-HJKMNP-TV-Z]{26}", value):
        return None
    number = 0
    for char in value[4:]:
        number = number * 32 + CROCKFORD.index(char)
    return (number >> 80) // 1000
