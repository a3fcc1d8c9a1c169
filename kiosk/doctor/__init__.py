"""``cedoka doctor``'s judgement: gathered facts in, checks with Indonesian and English
messages out.

:mod:`agent.doctor` gathers the facts (the state folder, the district's answer, the printers,
CUPS's settings) and prints; every decision and every word shown is in this package, as pure
functions that a table of cases can test. Nothing here reads a clock or a file: times come in
as arguments. A message names files, users, hosts and settings, never a resident's name, a
NIK, a claim code, a PIN, a key or the kiosk window's URL.

A :class:`Check` has a stable id (``state_dir``, ``enrolment``, ``trust``, ``server``, ``tls``,
``clock``, ``disk``, ``spool``, ``printer_<role>``, ``cups_preserve``), a status (``ok``,
``warn``, ``fail``, ``skip``), what was found and, for a warning or a failure, what to do.
``doctor`` exits 1 when any check failed (:func:`exit_code`).

The result model, the reasons a check is skipped and the shared wording are in :mod:`.model`.
The checks live in
:mod:`.local` (this computer: state folder, enrolment, trust state, disk, spool), :mod:`.link`
(the district: server, TLS certificate, clock) and :mod:`.printing` (printers, CUPS's copies
of printed documents); :mod:`.report` renders the checks as text or JSON. The names callers
use are re-exported here.
"""

from __future__ import annotations

from kiosk.doctor.link import (
    CLOCK_AHEAD_FAIL_S,
    CLOCK_BEHIND_FAIL_S,
    PROOF_LIFETIME_S,
    ServerFacts,
    TlsFacts,
    clock_offset_s,
    judge_clock,
    judge_server,
    judge_tls,
)
from kiosk.doctor.local import (
    DISK_FAIL_BYTES,
    DISK_WARN_BYTES,
    FLOOR_AHEAD_FAIL_S,
    OUTBOX_WARN_AGE_S,
    EnrolmentFacts,
    EnrolmentProblem,
    SpoolFacts,
    StateDirFacts,
    TrustFacts,
    floor_ahead,
    id_time_s,
    judge_disk,
    judge_enrolment,
    judge_spool,
    judge_state_dir,
    judge_trust,
    outbox_event_time_s,
)
from kiosk.doctor.model import (
    NO_ANSWER,
    NO_CUPS,
    NO_DATE,
    NOT_ASKED,
    NOT_ENROLLED,
    Check,
    Pair,
    Status,
    crashed,
    duration,
    exit_code,
    size,
    skipped,
    when,
)
from kiosk.doctor.printing import (
    PrinterFacts,
    judge_cups_preserve,
    judge_printer,
    preserve_job_files,
)
from kiosk.doctor.report import TITLES, render_text, to_json

# The API; check, join, names, count, same, reenrol_fix, RANK, CLOCK_FIX and REVOKED_CODES
# above are the check modules' shared parts.
__all__ = [
    "CLOCK_AHEAD_FAIL_S",
    "CLOCK_BEHIND_FAIL_S",
    "DISK_FAIL_BYTES",
    "DISK_WARN_BYTES",
    "FLOOR_AHEAD_FAIL_S",
    "NOT_ASKED",
    "NOT_ENROLLED",
    "NO_ANSWER",
    "NO_CUPS",
    "NO_DATE",
    "OUTBOX_WARN_AGE_S",
    "PROOF_LIFETIME_S",
    "TITLES",
    "Check",
    "EnrolmentFacts",
    "EnrolmentProblem",
    "Pair",
    "PrinterFacts",
    "ServerFacts",
    "SpoolFacts",
    "StateDirFacts",
    "Status",
    "TlsFacts",
    "TrustFacts",
    "clock_offset_s",
    "crashed",
    "duration",
    "exit_code",
    "floor_ahead",
    "id_time_s",
    "judge_clock",
    "judge_cups_preserve",
    "judge_disk",
    "judge_enrolment",
    "judge_printer",
    "judge_server",
    "judge_spool",
    "judge_state_dir",
    "judge_tls",
    "judge_trust",
    "outbox_event_time_s",
    "preserve_job_files",
    "render_text",
    "size",
    "skipped",
    "to_json",
    "when",
]
