"""The demo's specimen documents (``district.samples``) and the ``samples`` / ``push-samples``
commands: A4 pages, specimen marks, fake identifiers with never-issued serials, one family
per bundle, the same bytes for the same date, and a real push to an enrolled kiosk that
opens and checks every PDF as the agent does.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from district import cli
from district.samples import SampleJob, sample_jobs
from district.samples.documents import kartu_keluarga
from district.samples.people import Person, Sex, fake_nik, fake_no_kk, sample_cast
from district.samples.sheet import FOOTER, QR_CONTENT, WATERMARK, Font, fitted_size
from kiosk.claim import normalize_claim_code
from kiosk.doctypes import DOCUMENT_TYPES_CARD, is_printable_at_village
from kiosk.errors import OperatorError
from kiosk.feed import parse_feed
from kiosk.pdfcheck import A4_PT, inspect_pdf
from kiosk.verify import verify_document, verify_manifest
from tests.district.conftest import Server, enrolled

OFFICE = "74.08.01.2002"
TODAY = datetime.date(2026, 11, 23)
SIXTEEN_DIGITS = re.compile(r"(?<![0-9])[0-9]{16}(?![0-9])")
NEVER_ISSUED = {"0000", *(str(n) for n in range(9990, 10000))}
KOLAKA_UTARA = "7408"
KECAMATAN_COUNT = 15  # Kolaka Utara has 15 kecamatan: codes 01 to 15
FEMALE_OFFSET = 40
PUSH_KEYS = {"title", "job_id", "device_id", "claim_code", "documents", "cards", "warnings"}


@pytest.fixture(scope="module")
def jobs() -> list[SampleJob]:
    return sample_jobs(TODAY)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _documents(jobs: list[SampleJob]) -> Iterator[tuple[SampleJob, str, bytes]]:
    for job in jobs:
        for doc_type, pdf in job.documents:
            yield job, doc_type, pdf


def _document(job: SampleJob, doc_type: str) -> str:
    return _text(dict(job.documents)[doc_type])


def _no_kk(kk_text: str) -> str:
    match = re.search(r"No\. ([0-9]{16})", kk_text)
    assert match is not None, "a KK shows its number"
    return match[1]


def _kk_members(kk_text: str) -> list[tuple[str, str, str]]:
    """(NIK, Jenis Kelamin, Tanggal Lahir) of each row of a KK's first table: pypdf gives
    one cell per line, in the order drawn."""
    lines = kk_text.splitlines()
    return [
        (line, lines[i + 1], lines[i + 3])
        for i, line in enumerate(lines)
        if SIXTEEN_DIGITS.fullmatch(line)
    ]


def _date_ddmmyy(digits: str) -> datetime.date:
    return datetime.datetime.strptime(digits, "%d%m%y").date()


def _check_nik(nik: str, sex: str | None = None, born: datetime.date | None = None) -> None:
    """The NIK structure, PP KK CC DDMMYY SSSS, with a never-issued serial."""
    assert nik[:4] == KOLAKA_UTARA and 1 <= int(nik[4:6]) <= KECAMATAN_COUNT, nik
    assert nik[12:] in NEVER_ISSUED, nik
    day = int(nik[6:8])
    female = day > FEMALE_OFFSET
    birth = _date_ddmmyy(f"{day - FEMALE_OFFSET if female else day:02d}{nik[8:12]}")
    if sex is not None:
        assert female == (sex == "PEREMPUAN"), nik
    if born is not None:
        assert (birth.day, birth.month, birth.year % 100) == (born.day, born.month, born.year % 100)


# --- the sample set ---------------------------------------------------------------------------


def test_the_sample_set(jobs: list[SampleJob]) -> None:
    assert [(j.title, [t for t, _ in j.documents], j.cards) for j in jobs] == [
        ("KK update", ["KK"], ()),
        ("Birth registration", ["AKTA_LAHIR", "KK"], ("KIA",)),
        ("Death registration", ["AKTA_MATI", "KK"], ("KTP_EL",)),
    ]
    for job in jobs:
        assert all(is_printable_at_village(t) for t, _ in job.documents)
        assert set(job.cards) <= DOCUMENT_TYPES_CARD
        assert 1 <= len(job.resident) <= 60 and job.resident not in job.title
    names = {p.name for p in _cast()}
    assert any("'" in n for n in names) and any(n.startswith("MUH.") for n in names)


def test_every_page_is_a4_and_carries_the_specimen_marks(jobs: list[SampleJob]) -> None:
    for _, doc_type, pdf in _documents(jobs):
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) >= 1
        for page in reader.pages:
            width, height = float(page.mediabox.width), float(page.mediabox.height)
            expected = (A4_PT[1], A4_PT[0]) if doc_type == "KK" else A4_PT  # KK: landscape
            assert width == pytest.approx(expected[0], abs=0.5), doc_type
            assert height == pytest.approx(expected[1], abs=0.5), doc_type
            assert int(page.rotation) == 0
            text = page.extract_text()
            assert FOOTER in text and WATERMARK in text, doc_type
        facts = inspect_pdf(pdf)
        assert facts.all_pages_a4 and facts.page_count == len(reader.pages)
        assert b"/Encrypt" not in pdf


def test_the_documents_read_as_such(jobs: list[SampleJob]) -> None:
    kk = _document(jobs[0], "KK")
    for words in (
        "KARTU KELUARGA", "Nama Kepala Keluarga", "Desa/Kelurahan", "PITULUA", "LASUSUA",
        "KOLAKA UTARA", "SULAWESI TENGGARA", "Nama Lengkap", "Golongan", "Status Hubungan",
        "Kewarganegaraan", "No. Paspor", "No. KITAP", "Nama Ayah", "Nama Ibu",
        "Dikeluarkan Tanggal : 23-11-2026", "KEPALA DINAS KEPENDUDUKAN DAN",
    ):  # fmt: skip
        assert words in kk, words
    birth = _document(jobs[1], "AKTA_LAHIR")
    assert "KUTIPAN AKTA KELAHIRAN" in birth and "Berdasarkan Akta Kelahiran Nomor" in birth
    assert "EMPAT BELAS NOVEMBER DUA RIBU DUA PULUH ENAM" in birth  # born 9 days before
    assert "KEDUA, PEREMPUAN" in birth
    death = _document(jobs[2], "AKTA_MATI")
    assert "KUTIPAN AKTA KEMATIAN" in death and "telah meninggal dunia" in death
    assert "SEBELAS NOVEMBER DUA RIBU DUA PULUH ENAM" in death


def test_text_that_does_not_fit_is_shrunk_then_refused() -> None:
    assert fitted_size("SULAWESI TENGGARA", Font.REGULAR, 9, None) == 9
    assert 5 <= fitted_size("SULAWESI TENGGARA", Font.REGULAR, 9, 60) < 9
    with pytest.raises(ValueError, match="do not fit"):
        fitted_size("SULAWESI TENGGARA", Font.REGULAR, 9, 20)


def test_a_kk_refuses_more_members_than_fit_its_page() -> None:
    family = sample_cast(TODAY).kk_update
    too_many = dataclasses.replace(family, members=family.members * 2)
    with pytest.raises(ValueError, match="1 to 7 members"):
        kartu_keluarga(too_many, issued=TODAY)


def test_the_qr_code_says_specimen_and_links_nowhere() -> None:
    assert "SPECIMEN" in QR_CONTENT and QR_CONTENT.isascii()
    assert not re.search(r"https?:|www\.|\.go\.id", QR_CONTENT)


# --- fake identifiers -----------------------------------------------------------------------


def test_every_number_is_a_fake_nik_or_no_kk(jobs: list[SampleJob]) -> None:
    seen = 0
    for _, doc_type, pdf in _documents(jobs):
        text = _text(pdf)
        no_kk = _no_kk(text) if doc_type == "KK" else None
        for number in SIXTEEN_DIGITS.findall(text):
            seen += 1
            if number == no_kk:  # issuing kecamatan, recording date DDMMYY, serial
                assert number[:4] == KOLAKA_UTARA and number[12:] in NEVER_ISSUED
                assert _date_ddmmyy(number[6:12]) <= TODAY
            else:
                _check_nik(number)
    assert seen >= 15


def test_kk_niks_follow_sex_and_birth_date(jobs: list[SampleJob]) -> None:
    women = 0
    for job in jobs:
        members = _kk_members(_document(job, "KK"))
        assert members
        for nik, sex, born in members:
            assert sex in {"LAKI-LAKI", "PEREMPUAN"}
            _check_nik(nik, sex, datetime.datetime.strptime(born, "%d-%m-%Y").date())
            women += sex == "PEREMPUAN"
    assert women >= 3


def test_everyone_in_the_cast_has_a_consistent_nik() -> None:
    people = _cast()
    for person in people:
        _check_nik(person.nik, person.sex.value, person.born)
    assert len({p.nik for p in people}) == len(people)


def test_the_builders_refuse_serials_that_may_be_real() -> None:
    born = datetime.date(1990, 5, 7)
    assert fake_nik("74.08.01", born, Sex.FEMALE, 9990) == "7408014705909990"
    assert fake_nik("74.08.01", born, Sex.MALE, 0) == "7408010705900000"
    assert fake_no_kk("74.08.01", born, 9999) == "7408010705909999"
    for serial in (1, 42, 9989, 10000):
        with pytest.raises(ValueError, match="0000 or 9990-9999"):
            fake_nik("74.08.01", born, Sex.MALE, serial)
        with pytest.raises(ValueError, match="0000 or 9990-9999"):
            fake_no_kk("74.08.01", born, serial)
    with pytest.raises(ValueError, match="kecamatan code"):
        fake_nik("740801", born, Sex.MALE, 0)


# --- one family per bundle --------------------------------------------------------------------


def test_each_kk_is_headed_by_the_applicant(jobs: list[SampleJob]) -> None:
    for job in jobs:
        head = re.search(r"Nama Kepala Keluarga\n:\n(.*)\n", _document(job, "KK"))
        assert head is not None and head[1] == job.resident


def test_the_birth_bundle_is_one_family(jobs: list[SampleJob]) -> None:
    birth = jobs[1]
    akta, kk = _document(birth, "AKTA_LAHIR"), _document(birth, "KK")
    [child_nik] = SIXTEEN_DIGITS.findall(akta)
    members = {nik: (sex, born) for nik, sex, born in _kk_members(kk)}
    assert members[child_nik] == ("PEREMPUAN", "14-11-2026")  # the new baby is on the new KK
    father = re.search(r"dari ayah\nof father\n(.*)\n", akta)
    mother = re.search(r"dan ibu\nand mother\n(.*)\n", akta)
    assert father is not None and mother is not None
    assert father[1] == birth.resident
    assert f"{father[1]}\n{mother[1]}" in kk  # the baby's parents in the KK's last columns
    assert mother[1] == "NUR'AINI" and mother[1] in kk.split("\n")


def test_the_death_bundle_is_one_family(jobs: list[SampleJob]) -> None:
    death = jobs[2]
    akta, kk = _document(death, "AKTA_MATI"), _document(death, "KK")
    [deceased_nik] = SIXTEEN_DIGITS.findall(akta)
    deceased = re.search(r"telah meninggal dunia\npassed away\n(.*)\n", akta)
    assert deceased is not None
    assert deceased_nik not in kk  # the new KK no longer lists the deceased ...
    assert f"{deceased[1]}\n{death.resident}" in kk  # ... but names him as the son's father
    assert "CERAI MATI" in kk  # and his widow heads it


# --- determinism, and ReportLab missing ---------------------------------------------------------


def test_the_same_date_gives_the_same_bytes(jobs: list[SampleJob]) -> None:
    assert sample_jobs(TODAY) == jobs
    later = sample_jobs(TODAY + datetime.timedelta(days=1))
    assert all(a.documents != b.documents for a, b in zip(jobs, later, strict=True))


def test_without_reportlab_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "reportlab", None)  # "import reportlab" now fails
    with pytest.raises(OperatorError, match=r"pip install 'cedoka\[demo\]'"):
        sample_jobs(TODAY)
    assert cli.main(["samples", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cedoka-district: error: ") and "cedoka[demo]" in err
    assert not (tmp_path / "out").exists()


# --- the commands -----------------------------------------------------------------------------


def test_samples_writes_the_pdfs_without_a_home(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(cli.HOME_ENV, raising=False)
    out = tmp_path / "specimens"
    assert cli.main(["samples", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    names = [
        "1-kk-update-KK.pdf", "2-birth-registration-AKTA_LAHIR.pdf",
        "2-birth-registration-KK.pdf", "3-death-registration-AKTA_MATI.pdf",
        "3-death-registration-KK.pdf",
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == names
    assert captured.out == (
        f"KK update:\n  {out / names[0]}\n"
        f"Birth registration:\n  {out / names[1]}\n  {out / names[2]}\n"
        "  cards, not printed at the village (courier or pickup): KIA\n"
        f"Death registration:\n  {out / names[3]}\n  {out / names[4]}\n"
        "  cards, not printed at the village (courier or pickup): KTP_EL\n"
    )
    assert "SPECIMEN" in captured.err
    for name in names:
        assert inspect_pdf((out / name).read_bytes()).all_pages_a4
    _assert_no_resident(captured.out + captured.err)


def test_samples_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["samples", "--out", str(tmp_path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(j["title"], j["documents"], j["cards"]) for j in listing] == [
        ("KK update", ["KK"], []),
        ("Birth registration", ["AKTA_LAHIR", "KK"], ["KIA"]),
        ("Death registration", ["AKTA_MATI", "KK"], ["KTP_EL"]),
    ]
    assert listing[1]["files"] == [
        str(tmp_path / "2-birth-registration-AKTA_LAHIR.pdf"),
        str(tmp_path / "2-birth-registration-KK.pdf"),
    ]


def test_samples_into_a_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    assert cli.main(["samples", "--out", str(tmp_path / "taken")]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("cedoka-district: error: ") and "taken" in line


def test_push_samples_json_reaches_the_kiosk_and_every_pdf_opens(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    kiosk = enrolled(server)
    code = cli.main(["--home", str(server.home), "push-samples", "--office", OFFICE, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pushed = json.loads(captured.out)
    assert [set(p) for p in pushed] == [PUSH_KEYS] * 3
    assert [(p["title"], p["documents"], p["cards"]) for p in pushed] == [
        ("KK update", ["KK"], []),
        ("Birth registration", ["AKTA_LAHIR", "KK"], ["KIA"]),
        ("Death registration", ["AKTA_MATI", "KK"], ["KTP_EL"]),
    ]
    for p in pushed:
        assert p["device_id"] == kiosk.device_id and p["warnings"] == []
        assert re.fullmatch(r"[0-9]{4} [0-9]{4} [0-9]{4}", p["claim_code"])
        normalize_claim_code(p["claim_code"])
    assert captured.err == ""
    _assert_no_resident(captured.out)

    answer = kiosk.feed()
    assert answer.status_code == 200
    kiosk.take_head(answer)
    tokens = parse_feed(answer.content).jobs
    assert kiosk.trust is not None and len(tokens) == 3
    for token, p in zip(tokens, pushed, strict=True):
        job = verify_manifest(
            token, trust=kiosk.trust, local_now_s=int(time.time()), is_known=lambda _: False,
            seal_keys=kiosk.seal_keys,
        )  # fmt: skip
        assert job.manifest.job_id == p["job_id"]
        assert [d.doc_type for d in job.manifest.documents] == p["documents"]
        for doc in job.manifest.documents:
            blob = kiosk.call("GET", f"/v1/blobs/{job.manifest.job_id}/{doc.doc_id}")
            opened = verify_document(job, doc.doc_id, blob.content, seal_keys=kiosk.seal_keys)
            assert opened.all_pages_a4 and opened.page_count == 1
            assert FOOTER in _text(opened.pdf)


def test_push_samples_text_with_staff_release(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    enrolled(server)
    argv = ["--home", str(server.home), "push-samples", "--office", OFFICE, "--release", "staff"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    pattern = (
        r"KK update: job (job_\S+) queued for kiosk (dev_\S+)\n  documents: KK\n"
        r"Birth registration: job \S+ queued for kiosk \S+\n  documents: AKTA_LAHIR, KK\n"
        r"  cards, not printed at the village \(courier or pickup\): KIA\n"
        r"Death registration: job \S+ queued for kiosk \S+\n  documents: AKTA_MATI, KK\n"
        r"  cards, not printed at the village \(courier or pickup\): KTP_EL\n"
    )
    assert re.fullmatch(pattern, out), out
    assert "claim code" not in out
    _assert_no_resident(out)


def test_push_samples_refused_without_a_kiosk(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--home", str(server.home), "push-samples", "--office", OFFICE]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no kiosk is enrolled" in captured.err
    assert cli.main(["--home", str(server.home), "push-samples", "--office", "74.08.01.2003"]) == 1
    assert "unknown office" in capsys.readouterr().err


def _cast() -> list[Person]:
    cast = sample_cast(TODAY)
    return [*cast.kk_update.members, *cast.birth.family.members, *cast.death.family.members,
            cast.death.deceased]  # fmt: skip


def _assert_no_resident(output: str) -> None:
    """No output names anyone of the cast (the command line never prints a resident)."""
    for person in _cast():
        assert person.name not in output and person.nik not in output
