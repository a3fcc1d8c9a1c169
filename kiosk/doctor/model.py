"""The doctor's result model, the reasons a check is skipped, and the wording the checks
share (durations, times, sizes, lists, the re-enrolment and clock fixes)."""

from __future__ import annotations

import enum
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from kiosk.errors import Reason

Pair = tuple[str, str]  # (Bahasa Indonesia, English)


class Status(enum.StrEnum):
    OK = "ok"
    WARN = "warn"  # works, but needs attention soon
    FAIL = "fail"  # the kiosk cannot work properly: doctor exits 1
    SKIP = "skip"  # not checked (the reason says why)


# Severity, for the worst of several findings.
RANK: Final = {Status.SKIP: 0, Status.OK: 1, Status.WARN: 2, Status.FAIL: 3}


@dataclass(frozen=True, slots=True)
class Check:
    """One check's verdict: what was found, and what to do (both languages)."""

    check_id: str
    status: Status
    text_id: str
    text_en: str
    fix_id: str = ""
    fix_en: str = ""


def check(check_id: str, status: Status, found: Pair, fix: Pair | None = None) -> Check:
    return Check(check_id, status, found[0], found[1], *(fix or ("", "")))


def skipped(check_id: str, because: Pair) -> Check:
    return check(check_id, Status.SKIP, because)


def crashed(check_id: str, error: str) -> Check:
    """The verdict for a check that raised: a failure with the error's type and message."""
    return check(
        check_id, Status.FAIL,
        (f"Pemeriksaan ini tidak bisa dijalankan: {error}.", f"This check could not run: {error}."),
        ("Beri tahu petugas IT kabupaten (sertakan keluaran ini).",
         "Tell district IT (include this output)."),
    )  # fmt: skip


def exit_code(checks: Iterable[Check]) -> int:
    """1 when any check failed (warnings and skips are allowed), else 0."""
    return 1 if any(c.status is Status.FAIL for c in checks) else 0


# Why a check was skipped.
NOT_ENROLLED: Final = (
    "Dilewati: komputer ini belum terdaftar atau pengaturannya tidak terbaca (lihat 'enrolment').",
    "Skipped: this computer is not enrolled or its settings cannot be read (see 'enrolment').",
)
NO_ANSWER: Final = (
    "Dilewati: server kabupaten tidak menjawab (lihat 'server').",
    "Skipped: the district server did not answer (see 'server').",
)
NOT_ASKED: Final = (
    "Dilewati: tidak ada permintaan ke server kabupaten (lihat 'server').",
    "Skipped: no request was made to the district server (see 'server').",
)
NO_DATE: Final = (
    "Dilewati: jawaban server tidak membawa jam (tidak ada header Date).",
    "Skipped: the server's answer carried no time (no Date header).",
)
NO_CUPS: Final = (
    "Dilewati: tidak ada printer yang memakai CUPS.",
    "Skipped: no printer uses CUPS.",
)

# --- shared wording ------------------------------------------------------------------------

CLOCK_FIX: Final = (
    "Atur tanggal, jam dan zona waktu (WIB/WITA/WIT) yang benar, atau nyalakan jam otomatis: "
    "sudo timedatectl set-ntp true",
    "Set the correct date, time and time zone (WIB/WITA/WIT), or turn on automatic time: "
    "sudo timedatectl set-ntp true",
)

# The district's refusals that only a new enrolment mends.
REVOKED_CODES: Final = frozenset({Reason.DEVICE_REVOKED.value, Reason.UNKNOWN_DEVICE.value})


def reenrol_fix(command: str, home: str) -> Pair:
    old = shlex.quote(home)
    return (
        f"Minta kode pendaftaran baru ke petugas IT kabupaten, pindahkan folder lama "
        f"(sudo mv {old} {old}.lama), lalu jalankan: {command} enroll --server URL --code KODE",
        f"Ask district IT for a new enrolment code, move the old folder aside "
        f"(sudo mv {old} {old}.old), then run: {command} enroll --server URL --code CODE",
    )


def names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return f"{shown}, … (+{len(items) - limit})" if len(items) > limit else shown


def join(pairs: Sequence[Pair], sep: str = " ") -> Pair:
    return sep.join(p[0] for p in pairs), sep.join(p[1] for p in pairs)


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def same(command: str) -> Pair:
    return command, command


def duration(seconds: int) -> Pair:
    """A duration in plain words, e.g. ("2 jam 5 menit", "2 h 5 min")."""
    s = abs(seconds)
    if s < 60:  # noqa: PLR2004
        return f"{s} detik", f"{s} s"
    if s < 3600:  # noqa: PLR2004
        m, r = divmod(s, 60)
        return (f"{m} menit {r} detik", f"{m} min {r} s") if r else (f"{m} menit", f"{m} min")
    if s < 86400:  # noqa: PLR2004
        h, m = divmod(s // 60, 60)
        return f"{h} jam {m} menit", f"{h} h {m} min"
    d, h = divmod(s // 3600, 24)
    return f"{d} hari {h} jam", f"{d} {'day' if d == 1 else 'days'} {h} h"


def _zone(utc_offset_s: int) -> str:
    zones = {7 * 3600: "WIB", 8 * 3600: "WITA", 9 * 3600: "WIT"}
    if utc_offset_s in zones:
        return zones[utc_offset_s]
    sign = "-" if utc_offset_s < 0 else "+"
    hours, rest = divmod(abs(utc_offset_s), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def when(at_s: int, utc_offset_s: int = 0) -> str:
    """``2026-03-01 14:05 WITA``: a time in the office's zone (UTC when not known)."""
    zone = timezone(timedelta(seconds=utc_offset_s))
    stamp = datetime.fromtimestamp(at_s, tz=zone if utc_offset_s else UTC)
    return f"{stamp:%Y-%m-%d %H:%M} {_zone(utc_offset_s) if utc_offset_s else 'UTC'}"


def size(n_bytes: int) -> str:
    """``850 MB`` / ``37.2 GB`` (binary units, as ``df -h`` counts)."""
    mib = n_bytes / (1024 * 1024)
    return f"{mib:.0f} MB" if mib < 1024 else f"{mib / 1024:.1f} GB"  # noqa: PLR2004


# --- the checks and the output, re-exported ------------------------------------------------
