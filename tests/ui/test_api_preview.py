"""The release screen's previews, as the live API serves them (issue 16): opening a held
job's documents is audited whether or not they print; every page can be looked at, at
full size, from memory only; the confirm screen knows how many sheets to expect; a spoil
reprints only the documents staff say were spoiled."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from kiosk.model import ReleaseMode
from tests.agent.harness import (
    FAKE_NIK,
    OFFICE,
    RESIDENT,
    assert_no_personal_data,
    nik_pdf,
    push,
)
from tests.district.conftest import Server
from tests.ui.conftest import STAFF, Api

DISTRICT_CLI = Path(sys.executable).with_name("cedoka-district")


def _held_job(api: Api, server: Server) -> tuple[str, str]:
    job_id, claim, _ = push(server, ReleaseMode.CLAIM)
    api.sync()
    assert claim is not None
    return job_id, claim


def _district_records(api: Api, server: Server) -> list[dict[str, object]]:
    api.agent.reporter.deliver()
    shown = subprocess.run(
        [str(DISTRICT_CLI), "--home", str(server.home), "audit", api.agent.config.device_id,
         "--json"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    audit = json.loads(shown.stdout)
    assert audit["problems"] == []
    assert FAKE_NIK not in shown.stdout and RESIDENT not in shown.stdout
    records: list[dict[str, object]] = audit["records"]
    return records


def test_a_staff_preview_is_audited_even_when_nothing_prints(api: Api, server: Server) -> None:
    """*Cetak tanpa kode* → reason → PIN shows the pages; *Batal* used to leave no trace."""
    job_id, _ = _held_job(api, server)
    body = {"job_id": job_id, "pin": STAFF[2], "reason": "lost_code"}
    opened = api.call("POST", "/api/staff-claim", json=body).json()
    png = api.call("GET", f"/api/jobs/{job_id}/docs/0/preview",
                   headers={"x-cedoka-ticket": opened["ticket"]})  # fmt: skip
    assert png.content.startswith(b"\x89PNG")
    # Batal: nothing is released or printed
    assert api.kiosk.local_state(job_id) == "held" and api.kiosk.printed() == []
    history = api.call("GET", "/api/history").json()["entries"]
    [seen] = [e for e in history if e["action"] == "preview"]
    assert (seen["job_id"], seen["operator"], seen["reason"], seen["outcome"]) == (
        job_id, STAFF[0], "lost_code", "ok")  # fmt: skip
    assert seen["doc_types"] == ["KK", "AKTA_LAHIR"]
    [record] = [r for r in _district_records(api, server) if r["action"] == "preview"]
    assert (record["job_id"], record["operator"], record["reason"]) == (
        job_id,
        STAFF[0],
        "lost_code",
    )


def test_a_wrong_pin_opens_nothing_and_records_no_preview(api: Api, server: Server) -> None:
    job_id, _ = _held_job(api, server)
    body = {"job_id": job_id, "pin": "1111", "reason": "no_phone"}
    assert api.call("POST", "/api/staff-claim", json=body).status_code == 403
    history = api.call("GET", "/api/history").json()["entries"]
    assert [e for e in history if e["action"] == "preview"] == []


def test_a_matched_code_records_the_opening_too(api: Api, server: Server) -> None:
    """A code that matches shows the pages before anything prints: the record says who
    opened which job, with ``claim_code`` as the reason (the resident was there)."""
    job_id, claim = _held_job(api, server)
    api.call("POST", "/api/claim", json={"code": claim})
    history = api.call("GET", "/api/history").json()["entries"]
    [seen] = [e for e in history if e["action"] == "preview"]
    assert (seen["job_id"], seen["operator"], seen["reason"]) == (job_id, STAFF[0], "claim_code")


def landscape_pdf() -> bytes:
    """A one-page A4 landscape PDF (a KK is landscape) carrying the fake NIK and name."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(841.89, 595.28)
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 520 Td (NIK {FAKE_NIK} {RESIDENT}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_every_page_at_full_size_in_its_orientation_never_cached(api: Api, server: Server) -> None:
    """The zoom view: any page of any document of the bundle, about 2000 px on its long
    side, a landscape page landscape; a ticket is needed while the job is held; answered
    ``no-store`` and never written to the kiosk's disk."""
    docs = [("KK", landscape_pdf()), ("AKTA_LAHIR", nik_pdf(3, "akta"))]
    job_id, claim, _ = push(server, ReleaseMode.CLAIM, docs)
    api.sync()
    base = f"/api/jobs/{job_id}/docs"
    assert api.call("GET", f"{base}/0/pages/1").status_code == 404  # held, no ticket
    opened = api.call("POST", "/api/claim", json={"code": claim}).json()
    ticket = {"x-cedoka-ticket": opened["ticket"]}
    [job] = opened["jobs"]
    assert [(d["pages"], d["sheets"]) for d in job["documents"]] == [(1, 1), (3, 3)]
    kk = api.call("GET", f"{base}/0/pages/1", headers=ticket)
    assert kk.headers["content-type"] == "image/png"
    assert kk.headers["cache-control"] == "no-store"
    width, height = _png_size(kk.content)
    assert width == 2000 and 1400 <= height <= 1420  # landscape stays landscape
    for number in (1, 2, 3):
        page = api.call("GET", f"{base}/1/pages/{number}", headers=ticket)
        width, height = _png_size(page.content)
        assert height == 2000 and 1400 <= width <= 1420  # portrait
    assert api.call("GET", f"{base}/1/pages/4", headers=ticket).status_code == 404
    assert api.call("GET", f"{base}/1/pages/0", headers=ticket).status_code == 404
    assert api.call("GET", f"{base}/2/pages/1", headers=ticket).status_code == 404
    assert_no_personal_data(api.kiosk.home, "")


def test_sheets_to_expect_count_copies_and_come_with_the_printed_job(
    api: Api, server: Server
) -> None:
    docs = [("KK", landscape_pdf()), ("AKTA_LAHIR", nik_pdf(2, "akta"))]
    result = server.admin.push(
        office_code=OFFICE, resident=RESIDENT, documents=docs, release=ReleaseMode.CLAIM,
        copies=2, lifetime_s=72 * 3600,
    )  # fmt: skip
    api.sync()
    held = api.call("GET", f"/api/jobs/{result.job_id}").json()
    assert [d["pages"] for d in held["documents"]] == [None, None]  # not opened in the queue
    opened = api.call("POST", "/api/claim", json={"code": result.claim_code}).json()
    api.call("POST", "/api/release", json={"ticket": opened["ticket"]})
    printed = api.call("GET", f"/api/jobs/{result.job_id}").json()
    assert printed["state"] == "printed"
    assert [(d["pages"], d["copies"], d["sheets"]) for d in printed["documents"]] == [
        (1, 2, 2), (2, 2, 4)]  # fmt: skip


def _spoil_events(server: Server, job_id: str) -> list[dict[str, object]]:
    """The job's spoil events as the district stored them (their signed claims)."""
    import base64
    import sqlite3

    from district.keyring import DATABASE

    with sqlite3.connect(server.home / DATABASE) as conn:
        rows = conn.execute(
            "SELECT token FROM events WHERE job_id = ? AND event = 'spoil' ORDER BY at_s, rowid",
            (job_id,),
        ).fetchall()
    claims = []
    for (token,) in rows:
        payload = bytes(token).split(b".")[1]
        claims.append(json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))))
    return claims


def test_a_spoil_reprints_only_the_documents_staff_name(api: Api, server: Server) -> None:
    """A jam spoils one sheet of a three-document bundle: only that document is printed
    again, the others show as printed before; the district's spoil event names it and the
    audit record lists its type; the reprint limit still counts each spoil once."""
    docs = [("KK", nik_pdf(1, "kk")), ("AKTA_LAHIR", nik_pdf(1, "akta")),
            ("BIODATA", nik_pdf(1, "bio"))]  # fmt: skip
    job_id, claim, pdfs = push(server, ReleaseMode.CLAIM, docs)
    api.sync()
    ticket = api.call("POST", "/api/claim", json={"code": claim}).json()["ticket"]
    api.call("POST", "/api/release", json={"ticket": ticket})
    assert len(api.kiosk.printed()) == 3
    spoil = f"/api/jobs/{job_id}/spoil"
    for bad in ([], [3], [-1], ["1"]):
        assert api.call("POST", spoil, json={"reason": "jammed", "docs": bad}).status_code in {
            400, 404}  # fmt: skip
    assert len(api.kiosk.printed()) == 3 and api.kiosk.local_state(job_id) == "printed"

    done = api.call("POST", spoil, json={"reason": "jammed", "docs": [1]}).json()
    assert done == {"job_id": job_id, "state": "printed"}
    again = [p.read_bytes() for p in api.kiosk.printed()]
    assert len(again) == 4 and sorted(again).count(pdfs[1]) == 2  # the akta only
    view = api.call("GET", f"/api/jobs/{job_id}").json()
    assert [d["print"] for d in view["documents"]] == ["kept", "done", "kept"]
    assert view["reprints"] == 1

    done = api.call("POST", spoil, json={"reason": "blank", "docs": [0, 2]}).json()
    assert done["state"] == "printed"
    again = sorted(p.read_bytes() for p in api.kiosk.printed())
    assert len(again) == 6 and [again.count(pdf) for pdf in pdfs] == [2, 2, 2]
    view = api.call("GET", f"/api/jobs/{job_id}").json()
    assert [d["print"] for d in view["documents"]] == ["done", "kept", "done"]

    api.agent.reporter.deliver()
    first, second = _spoil_events(server, job_id)
    assert first["doc"] and first["reason"] == "spoiled_jammed" and first["reprints"] == 1
    assert "doc" not in second and second["reprints"] == 2  # two documents: see the audit
    history = api.call("GET", "/api/history").json()["entries"]
    spoils = [(e["doc_types"], e["reason"]) for e in reversed(history) if e["action"] == "spoil"]
    assert spoils == [(["AKTA_LAHIR"], "spoiled_jammed"), (["KK", "BIODATA"], "spoiled_blank")]

    assert api.call("POST", spoil, json={"reason": "cut_off"}).json()["state"] == "printed"
    assert len(api.kiosk.printed()) == 9  # no docs named: the whole bundle, as before
    limit = api.call("POST", spoil, json={"reason": "cut_off", "docs": [0]})
    assert (limit.status_code, limit.json()["error"]["code"]) == (409, "reprint_limit")  # 3 max
    assert "kabupaten" in limit.json()["error"]["message_id"]
    assert len(api.kiosk.printed()) == 9 and api.kiosk.local_state(job_id) == "printed"
