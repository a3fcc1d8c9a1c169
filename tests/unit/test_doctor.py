"""``cedoka doctor``'s pure judgements (kiosk/doctor/), table-driven: thresholds at their
edges, cupsd.conf parsing, printer health, the output forms and the exit code."""

from __future__ import annotations

import inspect
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk.doctor import (
    CLOCK_AHEAD_FAIL_S,
    CLOCK_BEHIND_FAIL_S,
    DISK_FAIL_BYTES,
    DISK_WARN_BYTES,
    FLOOR_AHEAD_FAIL_S,
    OUTBOX_WARN_AGE_S,
    PROOF_LIFETIME_S,
    TITLES,
    Check,
    EnrolmentFacts,
    EnrolmentProblem,
    PrinterFacts,
    ServerFacts,
    SpoolFacts,
    StateDirFacts,
    Status,
    TlsFacts,
    TrustFacts,
    clock_offset_s,
    crashed,
    duration,
    exit_code,
    id_time_s,
    judge_clock,
    judge_cups_preserve,
    judge_disk,
    judge_enrolment,
    judge_printer,
    judge_server,
    judge_spool,
    judge_state_dir,
    judge_tls,
    judge_trust,
    outbox_event_time_s,
    preserve_job_files,
    render_text,
    skipped,
    to_json,
    when,
)
from kiosk.ids import new_id
from kiosk.jose import sign_compact
from kiosk.limits import DEFAULT_LEEWAY_S, MAX_DOCUMENT_SEALED_BYTES, MAX_DOCUMENTS_PER_JOB
from kiosk.proof import make_proof
from kiosk.report import Marker, PrinterHealth

OK, WARN, FAIL, SKIP = Status.OK, Status.WARN, Status.FAIL, Status.SKIP
T0 = 1_790_000_000
DAY = 86400
MIB = 1024 * 1024
CMD = "cedoka"
HOME = "/var/lib/cedoka"


def _bilingual(check: Check) -> Check:
    """Every verdict speaks both languages; a warning or a failure says what to do."""
    assert check.text_id and check.text_en and check.text_id != check.text_en
    if check.status in (WARN, FAIL):
        assert check.fix_id and check.fix_en
    return check


# --- clock -------------------------------------------------------------------------------


def test_the_clock_bounds_are_the_proof_window() -> None:
    """Ahead: a proof's iat may be at most the leeway in the district's future. Behind: a
    proof expires lifetime + leeway after its iat. The lifetime is what the agent signs."""
    assert inspect.signature(make_proof).parameters["lifetime_s"].default == PROOF_LIFETIME_S
    assert CLOCK_AHEAD_FAIL_S == DEFAULT_LEEWAY_S == 60
    assert CLOCK_BEHIND_FAIL_S == PROOF_LIFETIME_S + DEFAULT_LEEWAY_S == 120


@pytest.mark.parametrize(
    ("offset_s", "status"),
    [
        (0, OK),
        (60, OK),  # behind by the leeway
        (-60, OK),  # ahead by the leeway: a proof is still accepted
        (61, WARN),  # behind: accepted until 120 s
        (119, WARN),
        (120, FAIL),  # behind: iat + 60 + 60 <= the district's now
        (3 * 3600, FAIL),
        (-61, FAIL),  # ahead: "issued_in_future"
        (-7 * 3600, FAIL),  # a PC set to WIB while the office is WITA (or the hardware clock)
    ],
)
def test_clock_thresholds(offset_s: int, status: Status) -> None:
    check = _bilingual(judge_clock(offset_s))
    assert check.status is status
    if status is not OK:
        assert ("behind" if offset_s > 0 else "ahead") in check.text_en
        assert ("lebih lambat" if offset_s > 0 else "lebih cepat") in check.text_id
        assert "district refuses" in check.text_en and "menolak" in check.text_id
        assert "timedatectl set-ntp true" in check.fix_en


@pytest.mark.parametrize(
    ("date_s", "sent_s", "received_s", "offset_s"),
    [
        (T0, T0, T0 + 0.2, 0),  # a right clock, a quick answer
        (T0, T0 + 0.9, T0 + 1.1, 0),  # Date is whole seconds: T0.9 is still "T0"
        (T0, T0 - 0.5, T0 + 0.5, 0),
        (T0 + 600, T0, T0 + 0.1, 599),  # 10 min behind: the nearest value to zero
        (T0 - 600, T0, T0 + 0.1, -599),  # 10 min ahead (Date T0-600 covers up to T0-599)
        (T0 + 600, T0, T0 + 30, 570),  # a slow round trip never exaggerates the offset
        (T0 - 600, T0 - 30, T0, -569),
    ],
)
def test_clock_offset_accounts_for_the_round_trip(
    date_s: float, sent_s: float, received_s: float, offset_s: int
) -> None:
    assert clock_offset_s(date_s=date_s, sent_s=sent_s, received_s=received_s) == offset_s


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, ("0 detik", "0 s")),
        (59, ("59 detik", "59 s")),
        (-90, ("1 menit 30 detik", "1 min 30 s")),
        (600, ("10 menit", "10 min")),
        (3 * 3600 + 120, ("3 jam 2 menit", "3 h 2 min")),
        (DAY, ("1 hari 0 jam", "1 day 0 h")),
        (2 * DAY + 3600, ("2 hari 1 jam", "2 days 1 h")),
    ],
)
def test_durations_in_words(seconds: int, words: tuple[str, str]) -> None:
    assert duration(seconds) == words


def test_times_are_shown_in_the_office_zone() -> None:
    assert when(T0) == "2026-09-21 14:13 UTC"
    assert when(T0, 8 * 3600) == "2026-09-21 22:13 WITA"
    assert when(T0, 7 * 3600).endswith(" WIB") and when(T0, 9 * 3600).endswith(" WIT")
    assert when(T0, 5 * 3600 + 1800).endswith(" UTC+05:30")


# --- disk ---------------------------------------------------------------------------------


def test_disk_thresholds_follow_the_largest_job() -> None:
    assert DISK_FAIL_BYTES == 2 * MAX_DOCUMENT_SEALED_BYTES == 200 * MIB
    assert DISK_WARN_BYTES == MAX_DOCUMENTS_PER_JOB * MAX_DOCUMENT_SEALED_BYTES == 1000 * MIB


@pytest.mark.parametrize(
    ("free", "status"),
    [
        (0, FAIL),
        (DISK_FAIL_BYTES - 1, FAIL),
        (DISK_FAIL_BYTES, WARN),
        (DISK_WARN_BYTES - 1, WARN),
        (DISK_WARN_BYTES, OK),
        (500 * 1024 * MIB, OK),
    ],
)
def test_disk_thresholds(free: int, status: Status) -> None:
    check = _bilingual(judge_disk(free))
    assert check.status is status
    assert ("GB" if free >= 1024 * MIB else "MB") in check.text_en


# --- state_dir ----------------------------------------------------------------------------

_DIR = StateDirFacts(HOME, exists=True, mode=0o700, owner="cedoka", owner_uid=990,
                     runner="cedoka", runner_uid=990)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, OK, "run as cedoka"),
        ({"runner": "root", "runner_uid": 0}, OK, "run as cedoka"),  # root: the home's owner
        ({"exists": False}, FAIL, "does not exist"),
        ({"is_dir": False}, FAIL, "is not a folder"),
        ({"mode": 0o750}, FAIL, "(mode 0750)"),
        ({"mode": 0o701}, FAIL, "(mode 0701)"),
        ({"mode": 0o600}, OK, "private"),  # no group/other bits (odd, but the owner has it)
        ({"runner": "siti", "runner_uid": 1000}, FAIL, "but doctor runs as siti"),
        ({"exposed": (("keys/auth.pem", 0o640),)}, FAIL, "1 file in it can be opened by "
         "other users: keys/auth.pem (0640)"),
        ({"exposed": tuple((f"blobs/b{i}", 0o644) for i in range(7))}, FAIL, "… (+2)"),
        ({"foreign": (("spool.db-wal", "root"),)}, FAIL, "not owned by cedoka: spool.db-wal "
         "(root)"),
    ],
)  # fmt: skip
def test_state_dir(changes: dict[str, object], status: Status, words: str) -> None:
    facts = replace(_DIR, **changes)  # type: ignore[arg-type]
    check = _bilingual(judge_state_dir(facts, command=CMD))
    assert check.status is status and words in check.text_en, check.text_en


def test_state_dir_fixes_are_commands() -> None:
    facts = StateDirFacts("/srv/my kiosk", exists=True, mode=0o755, owner="cedoka",
                          owner_uid=990, runner="root", runner_uid=0,
                          exposed=(("agent.toml", 0o644),), foreign=(("x", "root"),))  # fmt: skip
    check = judge_state_dir(facts, command=CMD)
    assert (
        check.fix_en
        == check.fix_id
        == (
            "chmod 700 '/srv/my kiosk'; chmod -R go-rwx '/srv/my kiosk'; "
            "chown -R cedoka '/srv/my kiosk'"
        )
    )


# --- enrolment and trust ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("problem", "status", "words", "fix"),
    [
        (None, OK, "enrolled as dev_X for Desa Pitulua (74.08.01.2002)", ""),
        (EnrolmentProblem.NOT_ENROLLED, FAIL, "not enrolled",
         "cedoka enroll --server URL --code CODE"),
        (EnrolmentProblem.SETTINGS, FAIL, "agent.toml is wrong: the detail", "agent.toml"),
        (EnrolmentProblem.KEYS, FAIL, "private keys", "enroll --server URL --code CODE"),
        (EnrolmentProblem.SPOOL, FAIL, "spool.db) cannot be opened", "'spool' check"),
        (EnrolmentProblem.TRUST, FAIL, "trust data", "sudo mv /var/lib/cedoka"),
        (EnrolmentProblem.MISMATCH, FAIL, "different devices", "new enrolment code"),
    ],
)  # fmt: skip
def test_enrolment(problem: EnrolmentProblem | None, status: Status, words: str, fix: str) -> None:
    facts = EnrolmentFacts(problem, "the detail" if problem else "", device_id="dev_X",
                           district_code="74.08", office_code="74.08.01.2002",
                           office_name="Desa Pitulua")  # fmt: skip
    check = _bilingual(judge_enrolment(facts, command=CMD, home=HOME))
    assert check.status is status and words in check.text_en and fix in check.fix_en


_TRUST = TrustFacts(keyring_version=2, head_seq=7, head_issued_s=T0 - 30,
                    head_expires_s=T0 + 570, time_floor_s=T0 - 30, local_now_s=T0,
                    utc_offset_s=8 * 3600)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, OK, "version 2; last confirmation from the district 2026-09-21 22:12 WITA (seq 7)"),
        ({"head_seq": None, "head_issued_s": None, "head_expires_s": None}, OK,
         "no answer from the district yet"),
        ({"time_floor_s": T0}, OK, "seq 7"),  # at the floor: fine
        ({"time_floor_s": T0 + 1}, FAIL, "earlier than the last time the district confirmed"),
        ({"head_expires_s": T0}, WARN, "has expired"),
        ({"link_error": "device_revoked"}, FAIL, "revoked by the district"),
        ({"link_error": "unknown_device"}, FAIL, "not registered with the district"),
        ({"link_error": "timeout"}, OK, "seq 7"),  # the server check tells the link's story
        # The district signs a time up to FLOOR_AHEAD_FAIL_S behind the floor: it catches up.
        ({"district_time_s": T0 - 30 - FLOOR_AHEAD_FAIL_S}, OK, "seq 7"),
        ({"district_time_s": T0 - 30 - FLOOR_AHEAD_FAIL_S - 1}, FAIL,
         "This kiosk's trusted time (2026-09-21 22:12 WITA) is 1 h 0 min ahead of the time the "
         "district signs now (2026-09-21 21:12 WITA)"),
        # A floor two days ahead (a district clock that was) and a right local clock: the
        # floor is the problem, not this computer's clock.
        ({"time_floor_s": T0 + 2 * DAY, "head_issued_s": T0 + 2 * DAY,
          "head_expires_s": T0 + 2 * DAY + 600, "district_time_s": T0}, FAIL,
         "2 days 0 h ahead of the time the district signs now"),
        # Frozen (protocol 9.8): the answers come, but their heads are refused.
        ({"head_expires_s": T0, "head_refused": "head_replayed"}, FAIL,
         "No confirmation from the district since 2026-09-21 22:12 WITA"),
        ({"head_refused": "head_expired"}, FAIL, "refused (head_expired)"),
        ({"head_seq": None, "head_issued_s": None, "head_expires_s": None,
          "head_refused": "head_expired"}, FAIL, "No confirmation from the district since "
         "enrolment"),
        ({"head_refused": "head_replayed"}, OK, "seq 7"),  # the last one still holds
    ],
)  # fmt: skip
def test_trust(changes: dict[str, object], status: Status, words: str) -> None:
    facts = replace(_TRUST, **changes)  # type: ignore[arg-type]
    check = _bilingual(judge_trust(facts, command=CMD, home=HOME))
    assert check.status is status and words in check.text_en, check.text_en


def test_a_floor_far_ahead_says_who_does_what() -> None:
    facts = replace(_TRUST, time_floor_s=T0 + 2 * DAY, head_issued_s=T0 + 2 * DAY,
                    head_expires_s=T0 + 2 * DAY + 600, district_time_s=T0)  # fmt: skip
    check = _bilingual(judge_trust(facts, command=CMD, home=HOME))
    assert "head_replayed" in check.text_en and "no new documents" in check.text_en
    assert "district server's clock" in check.fix_en and "NTP" in check.fix_en
    assert "enroll --server URL --code CODE" in check.fix_en
    assert "enroll --server URL --code KODE" in check.fix_id
    assert "Do not change this computer's clock" in check.fix_en
    server = _bilingual(judge_server(
        ServerFacts(host="h", outcome="head_rejected", reason="head_replayed", floor_ahead=True),
        command=CMD, home=HOME,
    ))  # fmt: skip
    assert server.status is FAIL and "see 'trust'" in server.text_en
    assert "timedatectl" not in server.fix_en


# --- server and tls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "reason", "status", "words", "fix"),
    [
        ("ok", None, OK, "answered and recognised this computer (120 ms", ""),
        ("dns", None, FAIL, "could not be found (DNS)", "server_url"),
        ("refused", None, FAIL, "refused the connection", "Tell district IT"),
        ("timeout", None, FAIL, "did not answer within 10 s", "internet connection"),
        ("tls", None, FAIL, "certificate is not trusted", "'tls' and 'clock'"),
        ("captive_portal", None, FAIL, "Wi-Fi/hotspot", "sign in to the network"),
        ("http_5xx", None, FAIL, "has a problem (HTTP 503)", "Try again later"),
        ("rate_limited", None, FAIL, "is busy", "few minutes"),
        ("reset", None, FAIL, "could not be reached properly (reset (HTTP 503))", "internet"),
        ("rejected", "device_revoked", FAIL, "revoked by the district", "new enrolment code"),
        ("rejected", "unknown_device", FAIL, "not registered", "enroll --server URL"),
        ("rejected", "issued_in_future", FAIL, "this computer's clock", "timedatectl"),
        ("rejected", "bad_signature", FAIL, "refused this computer's request (bad_signature)",
         "enrol this computer again"),
        ("head_rejected", "head_expired", FAIL, "this computer's clock", "timedatectl"),
        ("head_rejected", "unknown_kid", FAIL, "failed the check (unknown_kid)", "district IT"),
    ],
)  # fmt: skip
def test_server(outcome: str, reason: str | None, status: Status, words: str, fix: str) -> None:
    facts = ServerFacts(host="cedoka.example.go.id", outcome=outcome, elapsed_ms=120,
                        status=503, reason=reason)  # fmt: skip
    check = _bilingual(judge_server(facts, command=CMD, home=HOME))
    assert check.status is status and words in check.text_en, check.text_en
    assert fix in check.fix_en


_TLS = TlsFacts("https", "cedoka.example.go.id", verified=True, not_before_s=T0 - 90 * DAY,
                not_after_s=T0 + 60 * DAY, now_s=T0)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "status", "words"),
    [
        ({}, OK, "trusted (the public CA list), valid until 2026-11-20 14:13 UTC (60 days)"),
        ({"own_ca": True}, OK, "the district's CA, server-ca.pem"),
        ({"not_after_s": T0 + 30 * DAY}, OK, "(30 days)"),
        ({"not_after_s": T0 + 30 * DAY - 1}, WARN, "expires in 29 days"),
        ({"not_after_s": T0 + 1}, WARN, "expires in 0 days"),
        ({"not_after_s": T0, "verified": False}, FAIL, "has expired"),
        ({"not_before_s": T0 + 1, "verified": False}, FAIL, "computer's date is probably wrong"),
        ({"verified": False, "error": "self-signed certificate"}, FAIL,
         "not trusted: self-signed certificate"),
        ({"not_before_s": None, "not_after_s": None}, OK, "is trusted"),
        ({"connected": False}, SKIP, "cannot connect"),
        ({"scheme": "http", "host": "127.0.0.1", "loopback": True}, OK,
         "Plain HTTP on loopback (demo/test only)"),
        ({"scheme": "http", "loopback": False}, FAIL, "without encryption"),
    ],
)  # fmt: skip
def test_tls(changes: dict[str, object], status: Status, words: str) -> None:
    facts = replace(_TLS, **changes)  # type: ignore[arg-type]
    check = judge_tls(facts)
    if status is not SKIP:
        _bilingual(check)
    assert check.status is status and words in check.text_en, check.text_en


# --- spool --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "status", "words"),
    [
        (SpoolFacts(exists=False), FAIL, "missing"),
        (SpoolFacts(exists=True, integrity=("file is not a database",)), FAIL,
         "damaged: file is not a database"),
        (SpoolFacts(exists=True, integrity=("row 3 missing from index x", "row 4 …")), FAIL,
         "damaged: row 3 missing from index x; row 4 …"),
        (SpoolFacts(exists=True, pending=0), OK, "every record reached the district"),
        (SpoolFacts(exists=True), OK, "intact"),
        (SpoolFacts(exists=True, pending=1, oldest_pending_age_s=60), OK, "1 record waiting"),
        (SpoolFacts(exists=True, pending=3, oldest_pending_age_s=OUTBOX_WARN_AGE_S), OK,
         "3 records waiting"),
        (SpoolFacts(exists=True, pending=3, oldest_pending_age_s=OUTBOX_WARN_AGE_S + 1), WARN,
         "the oldest for 1 day 0 h: the district does not know what was printed"),
        (SpoolFacts(exists=True, pending=3, oldest_pending_age_s=None), OK, "3 records"),
    ],
)  # fmt: skip
def test_spool(facts: SpoolFacts, status: Status, words: str) -> None:
    check = _bilingual(judge_spool(facts))
    assert check.status is status and words in check.text_en, check.text_en


def test_the_age_of_an_outbox_record_comes_from_its_event_id() -> None:
    event_id = new_id("evt", now_ms=T0 * 1000 + 999, random_bytes=lambda n: b"\xff" * n)
    assert id_time_s(event_id) == T0
    token = sign_compact({"jti": event_id, "v": 1}, typ="cedoka-event+jwt", kid="dev_X",
                         key=Ed25519PrivateKey.generate())  # fmt: skip
    assert outbox_event_time_s(token) == T0
    for broken in (b"", b"a.b.c", b"x." + token.split(b".")[0] + b".y"):
        assert outbox_event_time_s(broken) is None
    assert id_time_s("evt_not-an-id") is None


# --- printers -----------------------------------------------------------------------------


def _health(**changes: object) -> PrinterHealth:
    base = {"role": "a4", "backend": "cups", "state": "idle", "accepting": True, "reasons": (),
            "markers": (), "media": "iso_a4_210x297mm"}  # fmt: skip
    return PrinterHealth(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("health", "preflight", "status", "words"),
    [
        (_health(), None, OK, "ready (idle)"),
        (_health(state="processing"), None, OK, "ready (processing)"),
        (_health(reasons=("media-empty-error",)), "media_empty", FAIL, "Out of paper"),
        (_health(reasons=("media-needed",)), None, FAIL, "Out of paper"),
        (_health(reasons=("media-jam-error",)), None, FAIL, "Paper jam"),
        (_health(reasons=("door-open-report",)), None, FAIL, "cover is open"),
        (_health(state="offline", reasons=("offline-report",)), "offline", FAIL, "is off"),
        (_health(state="stopped", reasons=("paused",)), "stopped", FAIL, "queue is stopped"),
        (_health(accepting=False), "not_accepting", FAIL, "refuses new jobs"),
        (_health(reasons=("toner-low-report",)), None, WARN, "Ink or toner is low"),
        (_health(reasons=("marker-supply-empty-error",)), None, FAIL, "Ink or toner is empty"),
        (_health(reasons=("media-low-report",)), None, WARN, "Paper is running low"),
        (_health(markers=(Marker("Black", 10), Marker("Cyan", 11))), None, WARN,
         "low (Black 10%)"),
        (_health(markers=(Marker("Black", 11), Marker("Cyan", -1))), None, OK, "ready"),
        (_health(media="na_legal_8.5x14in"), "media_not_a4", WARN,
         "not A4: na_legal_8.5x14in (maybe F4/Folio)"),
        (_health(media="om_f4_210x330mm"), None, WARN, "not A4: om_f4_210x330mm"),
        (_health(media=None), None, OK, "ready"),  # media unknown: nothing to say
        (_health(reasons=("cups-missing-filter-warning",)), None, WARN,
         "gives a warning: cups-missing-filter-warning"),
        (_health(reasons=("spool-area-full-error", "other-error")), None, FAIL,
         "reports a problem: spool-area-full-error, other-error"),
        (_health(reasons=("cups-waiting-for-job-completed", "none-report")), None, OK, "ready"),
        (_health(state="unknown", accepting=False, reasons=("cups-unavailable",)),
         "cups_unavailable", FAIL, "print service (CUPS) is not running"),
        (_health(state="unknown", accepting=False, reasons=("cups-unavailable",)),
         "no_queue", FAIL, "no printer queue named Epson_L3210."),
    ],
)  # fmt: skip
def test_a4_printer(
    health: PrinterHealth, preflight: str | None, status: Status, words: str
) -> None:
    facts = PrinterFacts(role="a4", uri="cups:Epson_L3210", backend="cups", health=health,
                         preflight=preflight, queue="Epson_L3210")  # fmt: skip
    check = _bilingual(judge_printer(facts, command=CMD))
    assert check.check_id == "printer_a4"
    assert check.status is status and words in check.text_en, check.text_en
    assert check.text_en.startswith("A4 printer (cups:Epson_L3210): ")


def test_one_problem_one_sentence_and_fixes_for_each() -> None:
    health = _health(state="stopped", accepting=False, reasons=("paused", "media-empty-error",
                                                                "toner-low-report"))  # fmt: skip
    facts = PrinterFacts(role="a4", uri="cups:Q", backend="cups", health=health,
                         preflight="stopped", queue="Q")  # fmt: skip
    check = judge_printer(facts, command=CMD)
    assert check.status is FAIL
    assert check.text_en == ("A4 printer (cups:Q): The printer queue is stopped. The printer "
                             "refuses new jobs. Out of paper. Ink or toner is low.")  # fmt: skip
    assert "cupsenable Q" in check.fix_en and "cupsaccept Q" in check.fix_en
    assert "Load A4 paper." in check.fix_en


@pytest.mark.parametrize(
    ("facts", "status", "words"),
    [
        (PrinterFacts("receipt", "escpos:tcp://10.0.0.9:9100", "escpos",
                      _health(role="receipt", backend="escpos", state="unknown", media=None)),
         OK, "Receipt printer (escpos:tcp://10.0.0.9:9100): ready (unknown)."),
        (PrinterFacts("receipt", "escpos:usb:04b8:0202", "escpos",
                      _health(role="receipt", reasons=("media-empty",), media=None),
                      preflight="media_empty"), FAIL, "Out of paper"),
        (PrinterFacts("receipt", "virtual:/tmp/r", "virtual",
                      _health(role="receipt", media="roll_80mm")), OK, "test printer"),
        (PrinterFacts("receipt", "escpos:usb:04b8:0202", "escpos", unusable="no USB driver"),
         FAIL, "cannot be used: no USB driver"),
    ],
)  # fmt: skip
def test_receipt_printer(facts: PrinterFacts, status: Status, words: str) -> None:
    check = _bilingual(judge_printer(facts, command=CMD))
    assert check.check_id == "printer_receipt"
    assert check.status is status and words in check.text_en, check.text_en
    if status is FAIL and facts.preflight == "media_empty":
        assert "receipt paper roll" in check.fix_en  # not "A4"


# --- cupsd.conf ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "value"),
    [
        ("", None),
        ("LogLevel warn\nMaxJobs 100\n", None),
        ("PreserveJobFiles No\n", "No"),
        ("  preservejobfiles \t no  \n", "no"),
        ("PRESERVEJOBFILES Off", "Off"),
        ("#PreserveJobFiles No\n", None),
        ("  # PreserveJobFiles No\n", None),
        ("PreserveJobFiles Yes # keep them\n", "Yes"),
        ("PreserveJobFiles No#comment", "No"),
        ("PreserveJobFiles 1d\n", "1d"),
        ("PreserveJobFiles No\nPreserveJobFiles Yes\n", "Yes"),  # the last line wins
        ("PreserveJobFiles Yes\nPreserveJobFiles No\n", "No"),
        ("<Location />\n  PreserveJobFiles No\n</Location>\n", None),  # not a server directive
        ("<Policy default>\n<Limit All>\nPreserveJobFiles No\n</Limit>\n</Policy>\n"
         "PreserveJobFiles 86400\n", "86400"),
        ("PreserveJobFilesX No\nXPreserveJobFiles No\n", None),
        ("PreserveJobFiles\n", ""),
        ("PreserveJobFiles No\r\n", "No"),
    ],
)  # fmt: skip
def test_cupsd_conf_preserve_job_files(conf: str, value: str | None) -> None:
    assert preserve_job_files(conf) == value


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ("No", OK, "keeps no copy"),
        ("no", OK, "keeps no copy"),
        ("off", OK, "keeps no copy"),
        ("False", OK, "keeps no copy"),
        ("0", OK, "keeps no copy"),
        ("0s", OK, "keeps no copy"),
        (None, FAIL, "for a day (PreserveJobFiles is not set in /etc/cups/cupsd.conf)"),
        ("Yes", FAIL, "(PreserveJobFiles Yes in /etc/cups/cupsd.conf)"),
        ("on", FAIL, "keeps a copy"),
        ("86400", FAIL, "keeps a copy"),
        ("1d", FAIL, "keeps a copy"),
        ("1", FAIL, "keeps a copy"),
        ("", FAIL, "keeps a copy"),
        ("maybe", FAIL, "keeps a copy"),
    ],
)  # fmt: skip
def test_cups_preserve(value: str | None, status: Status, words: str) -> None:
    check = _bilingual(judge_cups_preserve(value, path="/etc/cups/cupsd.conf"))
    assert check.status is status and words in check.text_en, check.text_en
    if status is FAIL:
        assert "residents' personal data" in check.text_en
        assert "sudo cupsctl PreserveJobFiles=No" in check.fix_en
        assert "sudo cupsctl PreserveJobFiles=No" in check.fix_id


def test_an_unreadable_cupsd_conf_is_a_warning() -> None:
    check = _bilingual(judge_cups_preserve(None, path="/etc/cups/cupsd.conf", readable=False,
                                           error="Permission denied"))  # fmt: skip
    assert check.status is WARN
    assert "cannot be read (Permission denied)" in check.text_en
    assert "--cupsd-conf FILE" in check.fix_en


# --- output and exit code -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "code"),
    [
        ([], 0),
        ([OK, OK], 0),
        ([OK, WARN, SKIP], 0),
        ([SKIP, SKIP], 0),
        ([OK, FAIL], 1),
        ([WARN, FAIL, SKIP], 1),
    ],
)
def test_exit_code(states: list[Status], code: int) -> None:
    checks = [Check(f"c{i}", s, "x", "y") for i, s in enumerate(states)]
    assert exit_code(checks) == code
    assert to_json(checks)["ok"] is (code == 0)


def _sample() -> list[Check]:
    return [
        judge_disk(DISK_WARN_BYTES),
        judge_clock(-600),
        skipped("tls", ("Dilewati: x.", "Skipped: x.")),
        judge_disk(DISK_FAIL_BYTES),
        crashed("spool", "OSError: disk I/O error"),
    ]


def test_json_form() -> None:
    answer = to_json(_sample())
    assert answer["ok"] is False
    checks = answer["checks"]
    assert isinstance(checks, list)
    assert [c["id"] for c in checks] == ["disk", "clock", "tls", "disk", "spool"]
    assert [c["status"] for c in checks] == ["ok", "fail", "skip", "warn", "fail"]
    for c in checks:
        assert set(c) == {"id", "status", "id_text", "en_text", "fix_id", "fix_en"}
    assert checks[4]["en_text"] == "This check could not run: OSError: disk I/O error."


def test_text_form() -> None:
    out = render_text(_sample(), home=HOME)
    lines = out.splitlines()
    assert lines[0] == "cedoka doctor — /var/lib/cedoka"
    assert "[ OK ]  disk — Ruang disk / Disk space" in lines
    assert "[GAGAL] clock — Jam komputer / Clock" in lines
    assert "[LEWAT] tls — Sertifikat server / Server certificate" in lines
    assert "[AWAS]  disk — Ruang disk / Disk space" in lines
    assert out.count("Perbaiki / Fix:") == 3  # the failures and the warning, not ok or skip
    assert "        id: Jam komputer ini 10 menit lebih cepat dari jam server kabupaten." in out
    assert lines[-2] == ("Ringkasan / Summary: 1 OK, 1 AWAS/warning, 2 GAGAL/failed, "
                         "1 LEWAT/skipped.")  # fmt: skip
    assert lines[-1].startswith("Ada masalah yang harus diperbaiki")
    assert render_text([judge_disk(DISK_WARN_BYTES)], home=HOME).endswith(
        "Semua baik. / All good.")  # fmt: skip
    assert "mind the warnings" in render_text([judge_disk(DISK_FAIL_BYTES)], home=HOME)


def test_a_same_fix_in_both_languages_is_one_line() -> None:
    check = judge_state_dir(StateDirFacts(HOME, exists=True, mode=0o755, owner="cedoka",
                                          owner_uid=990, runner="root"), command=CMD)  # fmt: skip
    assert "        Perbaiki / Fix: chmod 700 /var/lib/cedoka" in render_text([check], home=HOME)


def test_every_check_id_has_a_title() -> None:
    ids = {"state_dir", "enrolment", "trust", "server", "tls", "clock", "disk", "spool",
           "printers", "printer_a4", "printer_receipt", "cups_preserve"}  # fmt: skip
    assert set(TITLES) == ids
