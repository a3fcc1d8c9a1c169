"""``cedoka-district`` in-process on a temporary home: every command, its output and errors,
on both stores (SQLite in the home; PostgreSQL with ``--db``).

A kiosk is enrolled without HTTP through ``DistrictService.enroll`` (the server itself is
tested in ``test_server.py``). PDFs are real (``make_pdf``); keys are fixed TEST-ONLY keys.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from district import cli
from district.keyring import Keys
from district.service import DistrictService
from kiosk.audit import AuditEntry, sign_record
from kiosk.audit import append as audit_append
from kiosk.claim import normalize_claim_code
from kiosk.doctypes import DOCUMENT_NAMES, DOCUMENT_TYPES_PRINTABLE
from kiosk.enroll import (
    EnrollRequest,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.ids import KID, new_id
from kiosk.keys import fingerprint_code, thumbprint
from kiosk.lifecycle import JobEvent, JobState
from kiosk.report import (
    Heartbeat,
    JobReport,
    Marker,
    PrinterHealth,
    event_batch_body,
    heartbeat_body,
    sign_report,
)
from tests.sim.district import RESIDENT, fixed_key, fixed_seal_key, make_pdf

STORES = ("sqlite", "postgresql")  # every test on a district runs on both stores (conftest)
OFFICE = "74.08.01.2002"
CONSOLE = Path(sys.executable).parent / "cedoka-district"
NONCE = "q2Xo7vK1bPp3dM9sT0wZ4g"
JOB_KEYS = {
    "job_id", "office_code", "device_id", "seq", "release", "created_s", "expires_s",
    "cancelled_s", "cancel_reason", "state", "state_s", "reason",
}  # fmt: skip
DEVICE_KEYS = {"device_id", "office_code", "enrolled_s", "revoked_s", "last_seen_s", "agent",
               "seal_kid", "seal_rotate_s", "seal_keys"}  # fmt: skip
PRINTER_KEYS = {"role", "backend", "state", "accepting", "reasons", "markers", "media"}


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class District:
    home: Path
    tmp: Path
    capsys: pytest.CaptureFixture[str]
    outputs: list[str]
    db_url: str | None = None  # the store's PostgreSQL database; None: SQLite in the home

    def run(self, *argv: str) -> Result:
        """Run the command line on this home; usage errors (SystemExit) give their status."""
        db = ["--db", self.db_url] if self.db_url else []
        try:
            code = cli.main(["--home", str(self.home), *db, *argv])
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
        captured = self.capsys.readouterr()
        self.outputs += [captured.out, captured.err]
        return Result(code, captured.out, captured.err)

    def ok(self, *argv: str) -> Result:
        result = self.run(*argv)
        assert result.code == 0, result.err
        return result

    def refused(self, *argv: str, code: int = 1) -> str:
        """The one-line error of a refused command."""
        result = self.run(*argv)
        assert result.code == code, (result.out, result.err)
        lines = result.err.splitlines()
        assert lines[-1].startswith(f"{cli.PROG}") and "error:" in lines[-1], result.err
        assert "Traceback" not in result.err
        if code == 1:
            assert result.out == "" and len(lines) == 1
        return lines[-1]

    def pdf(self, name: str, data: bytes | None = None) -> str:
        path = self.tmp / name
        path.write_bytes(make_pdf() if data is None else data)
        return str(path)

    def enrol(self) -> str:
        """Enrol a kiosk for OFFICE in-process; return its device id."""
        code = parse_enroll_code(self.ok("enroll-code", OFFICE).out.strip())
        request = EnrollRequest(
            code.code_id, fixed_key("device-auth").public_key(),
            fixed_seal_key("device-seal").public_key(), "cedoka/0.1.0", NONCE,
        )  # fmt: skip
        with _keys(self.home, self.db_url) as keys:
            answer = DistrictService(keys).enroll(enroll_request_body(request, code), remote="test")
        return parse_enroll_response(answer, code=code, nonce=NONCE).device_id

    def push(self, *extra: str, doc: str | None = None) -> dict[str, object]:
        args = ["push", "--office", OFFICE, "--resident", RESIDENT, "--json"]
        result = self.ok(*args, "--doc", doc or f"KK={self.pdf('kk.pdf')}", *extra)
        value: dict[str, object] = json.loads(result.out)
        return value

    def report(self, job_id: str, steps: list[tuple[str, str]]) -> None:
        """The kiosk reports these (event, state) steps of a job, signed, in order."""
        now = int(time.time())
        with _keys(self.home, self.db_url) as keys:
            job = keys.store.job(job_id)
            assert job is not None
            device = keys.store.device(job.device_id)
            assert device is not None
            tokens = [sign_report(JobReport(
                event_id=new_id("evt", now_ms=(now + n) * 1000, random_bytes=secrets.token_bytes),
                device_id=device.device_id, district_code="74.08", job_id=job_id,
                event=JobEvent(event), state=JobState(state), at_s=now + n,
                reason="bad_signature" if event == "verify_fail" else
                "media_jam" if event == "print_fail" else None,
                operator="siti" if event in {"release", "hand_over"} else None,
            ), fixed_key("device-auth")) for n, (event, state) in enumerate(steps)]  # fmt: skip
            answer = DistrictService(keys).events(device, event_batch_body(tokens))
        assert b"rejected" not in answer, answer

    def json(self, *argv: str) -> list[dict[str, object]]:
        value: list[dict[str, object]] = json.loads(self.ok(*argv, "--json").out)
        return value


class _keys:
    """``Keys.open`` that closes its store."""

    def __init__(self, home: Path, db_url: str | None = None) -> None:
        self.keys = Keys.open(home, db_url)

    def __enter__(self) -> Keys:
        return self.keys

    def __exit__(self, *exc: object) -> None:
        self.keys.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def bare(tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str | None) -> District:
    return District(tmp_path / "district", tmp_path, capsys, [], db_url)


@pytest.fixture
def district(bare: District) -> District:
    bare.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08")
    bare.ok("office", "add", OFFICE, "--name", "Desa Pitulua")
    return bare


@pytest.fixture
def device(district: District) -> Iterator[str]:
    device_id = district.enrol()
    yield device_id
    for output in district.outputs:  # whatever a test ran, no output names the resident
        assert RESIDENT not in output
        assert not any(word in output for word in RESIDENT.split())


def _root_fingerprint(district: District) -> str:
    with _keys(district.home, district.db_url) as keys:
        return fingerprint_code(keys.root_public())


# --- init, office, enroll-code --------------------------------------------------------------


def test_init_prints_the_root_fingerprint(bare: District) -> None:
    out = bare.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08").out
    match = re.fullmatch(r"root key fingerprint: (\w{5})-(\w{5})  \(kiosks check .*\)\n", out)
    assert match is not None, out
    assert match[1] + match[2] == _root_fingerprint(bare)


def test_init_json(bare: District) -> None:
    out = bare.ok("init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08", "--json").out
    assert json.loads(out) == {"fingerprint": _root_fingerprint(bare)}


def test_init_twice_and_a_bad_code_are_refused(district: District, bare: District) -> None:
    assert "holds a district already" in district.refused("init", "--name", "X", "--code", "74.08")
    bare.home = bare.tmp / "other"
    assert "74.08" in bare.refused("init", "--name", "X", "--code", "7408")


def test_commands_need_an_initialised_home(bare: District) -> None:
    assert "run 'cedoka-district init'" in bare.refused("jobs")


def test_without_a_home_it_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(cli.HOME_ENV, raising=False)
    assert cli.main(["jobs"]) == 2
    assert cli.HOME_ENV in capsys.readouterr().err


def test_office_add(district: District) -> None:
    out = district.ok("office", "add", "74.08.02.2001", "--name", "Desa Lapai").out
    assert "74.08.02.2001" in out


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("74.09.01.2002", "is not a village/kelurahan code of 74.08"),  # another district
        ("74.08.1.2002", "is not a village/kelurahan code of 74.08"),  # wrong format
        (OFFICE, "exists already"),
    ],
)
def test_office_add_refused(district: District, code: str, message: str) -> None:
    assert message in district.refused("office", "add", code, "--name", "Desa X")


def test_enroll_code_prints_one_code_with_the_root_fingerprint(district: District) -> None:
    result = district.ok("enroll-code", OFFICE, "--valid", "90m")
    assert len(result.out.splitlines()) == 1
    code = parse_enroll_code(result.out)
    assert code.root_fingerprint == _root_fingerprint(district)


def test_enroll_code_refused(district: District) -> None:
    assert "unknown office" in district.refused("enroll-code", "74.08.09.2009")
    assert "is not a duration" in district.refused("enroll-code", OFFICE, "--valid", "5x", code=2)
    for valid in ("31d", "0m", "0h"):
        line = district.refused("enroll-code", OFFICE, "--valid", valid, code=2)
        assert f"'{valid}' is out of range: give 1m to 30d" in line


# --- push -------------------------------------------------------------------------------------


def test_push_before_a_kiosk_is_enrolled(district: District) -> None:
    error = district.refused(
        "push", "--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={district.pdf('a.pdf')}"
    )
    assert "no kiosk is enrolled" in error


def test_push_json_for_claim(district: District, device: str) -> None:
    result = district.push("--doc", f"AKTA_LAHIR={district.pdf('akta.pdf')}")
    assert list(result) == ["job_id", "claim_code", "device_id", "warnings"]
    assert result["device_id"] == device and result["warnings"] == []
    assert isinstance(result["job_id"], str) and result["job_id"].startswith("job_")
    claim = result["claim_code"]
    assert isinstance(claim, str) and re.fullmatch(r"[0-9]{12}", claim)
    assert normalize_claim_code(claim) == claim


def test_push_text_shows_the_grouped_claim_code(district: District, device: str) -> None:
    del device
    args = ("--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={district.pdf('k.pdf')}")
    out = district.ok("push", *args).out
    assert re.search(r"^job job_\w{26} queued", out, re.MULTILINE)
    assert re.search(r"^claim code: \d{4} \d{4} \d{4}  ", out, re.MULTILINE)
    staff = district.ok("push", *args, "--release", "staff").out
    assert "claim" not in staff


@pytest.mark.parametrize("release", ["staff", "auto"])
def test_push_without_claim_has_a_null_claim_code(
    district: District, device: str, release: str
) -> None:
    del device
    assert district.push("--release", release, "--copies", "2")["claim_code"] is None


def test_push_refuses_cards_non_pdfs_and_missing_files(district: District, device: str) -> None:
    del device
    base = ("push", "--office", OFFICE, "--resident", RESIDENT, "--doc")
    card = district.refused(*base, f"KTP_EL={district.pdf('ktp.pdf')}")
    assert "cannot be printed at a village office" in card
    not_pdf = district.pdf("letter.pdf", b"Dear resident, this is not a PDF")
    assert "not a valid PDF" in district.refused(*base, f"KK={not_pdf}")
    missing = str(district.tmp / "nowhere.pdf")
    assert missing in district.refused(*base, f"KK={missing}")
    assert "TYPE=FILE" in district.refused(*base, "kk.pdf", code=2)
    for expires in ("0h", "15d", "59m"):
        line = district.refused(*base, f"KK={district.pdf('a.pdf')}", "--expires", expires, code=2)
        assert f"--expires: '{expires}' is out of range: give 1h to 14d" in line
    assert district.json("jobs") == []


def test_push_of_a_non_a4_pdf_warns_on_stderr(district: District, device: str) -> None:
    del device
    f4 = district.pdf("f4.pdf", make_pdf(width_pt=609.45, height_pt=935.43))
    result = district.ok(
        "push", "--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={f4}", "--json"
    )
    warnings = json.loads(result.out)["warnings"]
    assert len(warnings) == 1 and "not every page is A4" in warnings[0]
    assert result.err.startswith(f"{cli.PROG}: warning: document 1 (KK): not every page is A4")


# --- jobs, cancel, devices, revoke, rotate-key ------------------------------------------------


def test_jobs_and_cancel(district: District, device: str) -> None:
    first = district.push()["job_id"]
    second = district.push("--release", "staff")["job_id"]
    jobs = district.json("jobs")
    assert [j["job_id"] for j in jobs] == [first, second]
    for seq, job in enumerate(jobs, 1):
        assert set(job) == JOB_KEYS
        assert job["device_id"] == device and job["office_code"] == OFFICE
        assert job["seq"] == seq and job["state"] is None and job["cancelled_s"] is None
    assert district.json("jobs", "--office", OFFICE) == jobs
    assert "unknown office" in district.refused("jobs", "--office", "74.08.09.2009")

    assert str(first) in district.ok("cancel", str(first), "--reason", "duplicate").out
    cancelled = {j["job_id"]: (j["cancelled_s"], j["cancel_reason"]) for j in district.json("jobs")}
    assert isinstance(cancelled[first][0], int) and cancelled[first][1] == "duplicate"
    assert cancelled[second] == (None, None)
    assert "cancelled already" in district.refused("cancel", str(first), "--reason", "other")
    assert "no job" in district.refused(
        "cancel", "job_01JD0000000000000000000000", "--reason", "other"
    )

    table = district.ok("jobs", "--wide").out.splitlines()
    assert table[0].split()[:4] == ["JOB", "OFFICE", "DEVICE", "SEQ"]
    assert len(table) == 3 and time.strftime("%Y-%m-%dT", time.gmtime()) in table[1]


# What the kiosk reports, step by step: (event, state it reached).
PRINTED = [("verify_ok", "verified"), ("hold", "held"), ("release", "released"),
           ("submit", "printing"), ("print_done", "printed")]  # fmt: skip


def test_cancel_needs_a_reason_code(district: District, device: str) -> None:
    job_id = str(district.push()["job_id"])
    assert "--reason" in district.refused("cancel", job_id, code=2)
    assert "invalid choice" in district.refused("cancel", job_id, "--reason", "Siti", code=2)
    assert district.json("jobs")[0]["cancelled_s"] is None
    helped = district.run("cancel", "--help")
    assert all(code in helped.out for code in cli.CANCEL_REASONS) and "3" in helped.out


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        (PRINTED[:4], "printing"),
        (PRINTED, "printed"),
        ([*PRINTED, ("hand_over", "handed_over")], "handed over"),
        ([*PRINTED, ("hand_over", "handed_over"), ("purge", "purged")], "handed over"),
    ],
    ids=["printing", "printed", "handed_over", "purged_after_hand_over"],
)
def test_cancel_past_printing_is_refused_with_its_own_exit_status(
    district: District, device: str, steps: list[tuple[str, str]], said: str
) -> None:
    """Once the kiosk reported paper coming out, a cancel cannot be honoured (the kiosk
    cannot cancel a printing or printed job): refused, exit status 3, nothing changed."""
    job_id = str(district.push()["job_id"])
    district.report(job_id, steps)
    line = district.refused("cancel", job_id, "--reason", "resident_request",
                            code=cli.EXIT_PAST_PRINTING)  # fmt: skip
    assert "past printing" in line and f"reported it {said}" in line and "too late" in line
    [job] = district.json("jobs")
    assert (job["cancelled_s"], job["cancel_reason"]) == (None, None)


def test_cancel_of_a_partly_printed_bundle_is_done_with_a_warning(
    district: District, device: str
) -> None:
    """A bundle whose print failed part-way is not past printing: the kiosk can still
    cancel it (none of the rest prints); the command warns about sheets already out."""
    job_id = str(district.push("--doc", f"AKTA_LAHIR={district.pdf('akta.pdf')}")["job_id"])
    district.report(job_id, [*PRINTED[:4], ("print_fail", "failed")])
    result = district.ok("cancel", job_id, "--reason", "wrong_document")
    assert f"job {job_id} cancelled (wrong_document)" in result.out
    assert "warning" in result.err and "destroy" in result.err
    assert district.json("jobs")[0]["cancel_reason"] == "wrong_document"


def test_cancel_of_a_job_ended_at_the_kiosk_is_refused(district: District, device: str) -> None:
    job_id = str(district.push()["job_id"])
    district.report(job_id, [("verify_fail", "rejected")])
    assert "ended at the kiosk (rejected)" in district.refused(
        "cancel", job_id, "--reason", "other"
    )


def _console(*argv: str) -> subprocess.CompletedProcess[str]:
    """The installed ``cedoka-district`` console script, in its own process."""
    assert CONSOLE.exists(), f"{CONSOLE} missing: the package is not installed in this venv"
    return subprocess.run([str(CONSOLE), *argv], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, cli.HOME_ENV: ""})  # fmt: skip


def test_the_console_script_refuses_in_one_line_with_distinct_statuses(
    district: District, device: str
) -> None:
    """As district IT meets it: a cancel past printing (3), a usage mistake (2), a refusal
    (1), each one line on stderr, never a traceback."""
    job_id = str(district.push()["job_id"])
    district.report(job_id, PRINTED)
    home = ["--home", str(district.home), *(["--db", district.db_url] if district.db_url else [])]
    cases = [
        (["cancel", job_id, "--reason", "duplicate"], 3, "is past printing"),
        (["cancel", job_id], 2, "the following arguments are required: --reason"),
        (["push", "--office", OFFICE, "--resident", "X", "--doc", "KK=kk.pdf", "--expires",
          "0h"], 2, "'0h' is out of range: give 1h to 14d"),
        (["audit", "74.08.09.2009"], 1, "unknown office 74.08.09.2009"),
    ]  # fmt: skip
    for argv, status, said in cases:
        done = _console(*home, *argv)
        assert (done.returncode, done.stdout) == (status, ""), (argv, done.stderr)
        assert said in done.stderr.splitlines()[-1] and "Traceback" not in done.stderr
    assert district.json("jobs")[0]["cancelled_s"] is None
    helped = _console("push", "--help")
    assert helped.returncode == 0 and "AKTA_LAHIR      Kutipan Akta Kelahiran" in helped.stdout


def test_push_help_lists_the_document_types(district: District) -> None:
    helped = district.run("push", "--help")
    assert helped.code == 0
    for code in DOCUMENT_TYPES_PRINTABLE:
        assert re.search(rf"^  {code} +{DOCUMENT_NAMES[code].id} \(", helped.out, re.M), code
    assert "KTP_EL and KIA are cards" in helped.out


def test_parse_duration_of_a_range() -> None:
    expires = cli.duration_between(3600, 14 * 86400)
    assert expires("1h") == 3600 and expires("14d") == 14 * 86400
    for text in ("0h", "59m", "15d"):
        with pytest.raises(ValueError, match=f"'{text}' is out of range: give 1h to 14d"):
            expires(text)
    with pytest.raises(ValueError, match="is not a duration"):
        expires("72")


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_jobs_fit_100_columns_and_wide_shows_everything(district: District, device: str) -> None:
    first = str(district.push()["job_id"])
    second = str(district.push("--release", "staff")["job_id"])
    district.report(first, [*PRINTED[:4], ("print_fail", "failed")])
    district.ok("cancel", first, "--reason", "wrong_document")
    district.report(second, PRINTED[:2])

    narrow = district.ok("jobs")
    assert _widest(narrow.out) <= cli.TABLE_COLUMNS
    header, *rows = narrow.out.splitlines()
    assert header.split() == ["JOB", "OFFICE", "CREATED", "UTC", "EXPIRES", "STATE"]
    assert [row.split()[0] for row in rows] == [first, second]  # whole ids: cancel needs them
    assert rows[0].endswith("cancel sent; failed (media_jam)") and rows[1].endswith("held")
    assert all(" in 3d " in row or " in 2d " in row for row in rows)  # 72 h, whole days

    wide = district.ok("jobs", "--wide")
    assert _widest(wide.out) > cli.TABLE_COLUMNS and wide.err == ""
    assert device in wide.out and "CANCEL REASON" in wide.out and "wrong_document" in wide.out


def _audit_records(district: District, device: str, entries: list[AuditEntry]) -> None:
    """The kiosk's audit records, chained, signed and received by the district."""
    tokens, record = [], None
    for n, entry in enumerate(entries):
        record = audit_append(record, entry, device_id=device)
        event_id = new_id("evt", now_ms=(entry.at_s + n) * 1000, random_bytes=secrets.token_bytes)
        tokens.append(sign_record(record, event_id=event_id, device_id=device,
                                  district_code="74.08", key=fixed_key("device-auth")))  # fmt: skip
    with _keys(district.home, district.db_url) as keys:
        row = keys.store.device(device)
        assert row is not None
        answer = DistrictService(keys).events(row, event_batch_body(tokens))
    assert b"rejected" not in answer, answer


def test_audit_by_office_code_fits_100_columns(district: District, device: str) -> None:
    now = int(time.time())
    job_id = str(district.push()["job_id"])
    _audit_records(district, device, [
        AuditEntry(now, "login", "ok", operator="siti.aminah.petugas"),
        AuditEntry(now + 1, "release_staff", "ok", operator="siti.aminah.petugas",
                   job_id=job_id, doc_types=("KK", "AKTA_LAHIR", "AKTA_KAWIN"),
                   reason="no_phone"),
        AuditEntry(now + 2, "settings", "refused", operator="supervisor.desa", printer="a4",
                   reason="printer_not_allowed", old="cups:Kantor_Desa_A4",
                   new="virtual:/var/lib/cedoka/somewhere/far/away"),
    ])  # fmt: skip
    by_device = district.ok("audit", device)
    by_office = district.ok("audit", OFFICE)
    assert by_office.out == by_device.out and "chain: intact" in by_office.err
    assert _widest(by_office.out) <= cli.TABLE_COLUMNS
    header, *rows = by_office.out.splitlines()
    assert header.split()[:3] == ["SEQ", "AT", "UTC"] and len(rows) == 3
    assert f"…{job_id[-8:]}" in rows[1] and "--wide" in by_office.err
    wide = district.ok("audit", OFFICE, "--wide")
    assert job_id in wide.out and "cups:Kantor_Desa_A4 -> virtual:/var/lib/cedoka" in wide.out
    assert district.json("audit", OFFICE)["device_id"] == device  # type: ignore[call-overload]
    assert "unknown office" in district.refused("audit", "74.08.09.2009")
    assert "no device" in district.refused("audit", "dev_01JD0000000000000000000000")


def test_devices_and_revoke(district: District, device: str) -> None:
    [row] = district.json("devices")
    assert set(row) == DEVICE_KEYS | {"printers", "update"}  # update: the last self-update
    assert row["device_id"] == device and row["office_code"] == OFFICE
    assert row["revoked_s"] is None and row["printers"] == [] and row["last_seen_s"] is None
    assert row["update"] is None  # no self-update reported
    assert device in district.ok("revoke", device).out
    assert isinstance(district.json("devices")[0]["revoked_s"], int)
    assert "revoked already" in district.refused("revoke", device)
    assert "no device" in district.refused("revoke", "dev_01JD0000000000000000000000")
    assert "no kiosk is enrolled" in district.refused(
        "push", "--office", OFFICE, "--resident", RESIDENT, "--doc", f"KK={district.pdf('a.pdf')}"
    )


def _head_claims(district: District, device: str) -> dict[str, object]:
    """The claims of the head a feed answer would carry now (signature checked by the
    agent's tests; here: what the district puts in it)."""
    import base64

    with _keys(district.home, district.db_url) as keys:
        answer = DistrictService(keys).feed(device, after=0, keyring_version=1)
    payload = json.loads(answer)["head"].split(".")[1]
    claims: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_devices_rotate_seal_asks_the_kiosk_through_its_head(
    district: District, device: str
) -> None:
    [row] = district.json("devices")
    assert row["seal_kid"] == thumbprint(fixed_seal_key("device-seal").public_key())
    assert row["seal_rotate_s"] is None and "seal_rotate" not in _head_claims(district, device)
    with _keys(district.home, district.db_url) as keys:
        before = keys.store.device(device).feed_version  # type: ignore[union-attr]
    out = district.ok("devices", "rotate-seal", device).out
    assert device in out and "rotation requested" in out
    [row] = district.json("devices")
    asked = row["seal_rotate_s"]
    assert isinstance(asked, int) and abs(asked - time.time()) < 60
    assert _head_claims(district, device)["seal_rotate"] == asked
    with _keys(district.home, district.db_url) as keys:  # a held long-poll wakes
        assert keys.store.device(device).feed_version > before  # type: ignore[union-attr]
    district.ok("devices", "rotate-seal", device)  # asked again: a newer request, always
    again = district.json("devices")[0]["seal_rotate_s"]
    assert isinstance(again, int) and again > asked
    assert "no device" in district.refused(
        "devices", "rotate-seal", "dev_01JD0000000000000000000000"
    )
    district.ok("revoke", device)
    assert "revoked" in district.refused("devices", "rotate-seal", device)
    assert district.run("devices", "rotate-seal").code == 2  # usage: no device id


def test_devices_show_the_printers_of_the_last_heartbeat(district: District, device: str) -> None:
    a4 = PrinterHealth(
        "a4", "cups", "stopped", False, ("media-empty-error",),
        (Marker("Black", 7), Marker("Cyan", -1)), "iso_a4_210x297mm",
    )  # fmt: skip
    receipt = PrinterHealth("receipt", "escpos", "idle", True, ("none",), (), None)
    beat = Heartbeat("cedoka/0.1.1", 0, 0, 0, 1, {}, (a4, receipt), None, ())
    with _keys(district.home, district.db_url) as keys:
        keys.store.store_heartbeat(
            device, heartbeat_body(beat), agent="cedoka/0.1.1", at_s=int(time.time()) - 300
        )
    [row] = district.json("devices")
    printers = row["printers"]
    assert isinstance(printers, list) and len(printers) == 2
    assert all(set(p) == PRINTER_KEYS for p in printers)
    assert printers[0] == {
        "role": "a4", "backend": "cups", "state": "stopped", "accepting": False,
        "reasons": ["media-empty-error"], "media": "iso_a4_210x297mm",
        "markers": [{"name": "Black", "level": 7}, {"name": "Cyan", "level": -1}],
    }  # fmt: skip
    assert row["agent"] == "cedoka/0.1.1" and isinstance(row["last_seen_s"], int)
    table = district.ok("devices").out
    assert "a4: stopped media-empty-error, not accepting jobs, Black 7%, Cyan n/a" in table
    assert "receipt: idle" in table and re.search(r"\((5|6) min ago\)", table)


def test_rotate_key_prints_a_new_kid(district: District) -> None:
    first = district.ok("rotate-key").out.strip()
    second = district.ok("rotate-key").out.strip()
    assert KID.fullmatch(first) and KID.fullmatch(second) and first != second


# --- serve and the pure parsers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--listen", "0.0.0.0:8700"],
        ["--listen", "[2001:db8::1]:8700"],
        ["--listen", "kiosk.example:8700"],
        ["--listen", "127.0.0.1:8700", "--tls-cert", "cert.pem"],  # cert without key
    ],
)
def test_serve_refuses_plain_http_beyond_loopback(bare: District, argv: list[str]) -> None:
    assert "--tls-" in bare.refused("serve", *argv, code=2)


def test_serve_refuses_a_bad_listen_address(bare: District) -> None:
    assert "HOST:PORT" in bare.refused("serve", "--listen", "8700", code=2)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90m", 5400), ("72h", 259200), ("3d", 259200), ("1m", 60)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert cli.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "h", "72", "-1h", "1.5h", "72 h", "1H"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        cli.parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8700", ("127.0.0.1", 8700)),
        ("[::1]:8700", ("::1", 8700)),
        ("localhost:443", ("localhost", 443)),
    ],
)
def test_parse_listen(text: str, expected: tuple[str, int]) -> None:
    assert cli.parse_listen(text) == expected


@pytest.mark.parametrize("text", ["8700", ":8700", "::1:8700", "[x]:8700", "h:0", "h:65536"])
def test_parse_listen_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        cli.parse_listen(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True),
        ("0.0.0.0", False), ("10.0.0.1", False), ("::", False), ("example.org", False),
    ],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback
