"""The release screen's previews, the confirm screen and the spoil screen in real Chromium
over the live API (issue 16): a preview staff open without a code is audited even when
they cancel; every page can be looked at full screen, a landscape KK landscape, with its
page count; the confirm screen says how many sheets to expect; a jam reprints only the
documents staff tick, after they cleared the jam."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.browser.conftest import STAFF, Ui, push_job

pytestmark = [pytest.mark.system, pytest.mark.loopback]
SIZES = ({"width": 1024, "height": 768}, {"width": 1366, "height": 768})


def test_a_staff_preview_cancelled_is_still_in_the_history(ui: Ui) -> None:
    job_id, _, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.page.locator(f'[data-job="{job_id}"]').get_by_test_id("staff-release").tap()
    ui.by("reason-lost_code").tap()
    ui.tap_keys(STAFF[2])
    ui.by("pin-submit").tap()
    expect(ui.screen("bundle")).to_be_visible()
    ui.previews_loaded(2)
    ui.by("cancel").tap()  # Batal: looked at, not printed
    expect(ui.screen("queue")).to_be_visible()
    assert ui.api.kiosk.local_state(job_id) == "held"
    ui.by("history").tap()
    row = ui.page.locator('[data-testid=history-row][data-action="preview"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Dokumen dibuka")
    expect(row).to_contain_text("Siti Aminah")
    expect(row).to_contain_text("kode hilang")
    expect(row).to_contain_text("KK, Akta Lahir")
    ui.shot("c16-history-preview")


def _kk_and_akta() -> list[tuple[str, bytes]]:
    """The demo's specimen KK (A4 landscape) and a three-page akta."""
    pytest.importorskip("reportlab")
    import datetime

    from district.samples import sample_jobs
    from tests.agent.harness import nik_pdf

    [(_, kk)] = sample_jobs(datetime.date(2026, 12, 5))[0].documents
    return [("KK", kk), ("AKTA_LAHIR", nik_pdf(3, "akta"))]


def _open_bundle(ui: Ui, docs: list[tuple[str, bytes]], copies: int = 1) -> str:
    from kiosk.model import ReleaseMode
    from tests.agent.harness import OFFICE, RESIDENT

    result = ui.api.kiosk.server.admin.push(
        office_code=OFFICE, resident=RESIDENT, documents=docs, release=ReleaseMode.CLAIM,
        copies=copies, lifetime_s=72 * 3600,
    )  # fmt: skip
    ui.api.sync()
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.page.keyboard.type("".join(c for c in result.claim_code or "" if c.isdigit()))
    ui.page.keyboard.press("Enter")
    expect(ui.screen("bundle")).to_be_visible()
    ui.previews_loaded(len(docs))
    return result.job_id


def _box(ui: Ui, testid: str) -> dict[str, float]:
    """Where an element is, read in one step in the page (a repaint replaces elements, so
    a locator's box could be asked of one already gone)."""
    box: dict[str, float] = ui.page.evaluate(
        """id => { const r = document.querySelector(`[data-testid=${id}]`)
                     .getBoundingClientRect();
                   return {x: r.x, y: r.y, width: r.width, height: r.height}; }""",
        testid,
    )
    return box


def _zoom_page_box(ui: Ui) -> dict[str, float]:
    ui.page.wait_for_function(
        """() => { const i = document.querySelector('[data-testid=zoom-page]');
                   return i && i.complete && i.naturalWidth > 0; }"""
    )
    return _box(ui, "zoom-page")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
def test_every_page_full_screen_in_its_orientation(ui: Ui, size: dict[str, int]) -> None:
    """The bundle's thumbnails open a full-screen view of every page: page n of m, next and
    previous, a landscape KK shown landscape, tap to see it twice as large."""
    ui.page.set_viewport_size(size)
    name = f"{size['width']}"
    _open_bundle(ui, _kk_and_akta())
    expect(ui.by("doc-pages")).to_have_text(["1 halaman", "3 halaman"])
    ui.overflow_free()
    ui.shot(f"c16-bundle-{name}")
    ui.by("zoom-open").first.tap()
    expect(ui.by("zoom")).to_be_visible()
    expect(ui.by("zoom-title")).to_have_text("Kartu Keluarga")
    expect(ui.by("zoom-where")).to_have_text("Halaman 1 dari 1")
    expect(ui.by("zoom-count")).to_have_text("Semua dokumen: 1/4")
    expect(ui.by("zoom-prev")).to_be_disabled()
    kk = _zoom_page_box(ui)
    assert kk["width"] > kk["height"] * 1.3  # landscape, as printed
    assert kk["width"] >= size["width"] * 0.6  # far larger than the 236 px thumbnail
    for name_ in ("zoom-prev", "zoom-next", "zoom-close"):  # on the screen, touch-sized
        box = _box(ui, name_)
        assert box["y"] + box["height"] <= size["height"] and box["height"] >= 64
    ui.shot(f"c16-zoom-kk-{name}")

    ui.by("zoom-page").tap()  # twice as large, to read the small print
    expect(ui.by("zoom-stage")).to_have_class("zoom-stage large")
    assert _box(ui, "zoom-page")["width"] >= kk["width"] * 1.9
    ui.shot(f"c16-zoom-kk-large-{name}")
    ui.by("zoom-page").tap()
    expect(ui.by("zoom-stage")).to_have_class("zoom-stage")

    ui.by("zoom-next").tap()
    expect(ui.by("zoom-title")).to_have_text("Kutipan Akta Kelahiran")
    expect(ui.by("zoom-where")).to_have_text("Halaman 1 dari 3")
    akta = _zoom_page_box(ui)
    assert akta["height"] > akta["width"] * 1.3  # portrait
    ui.by("zoom-next").tap()
    ui.by("zoom-next").tap()
    expect(ui.by("zoom-where")).to_have_text("Halaman 3 dari 3")
    expect(ui.by("zoom-count")).to_have_text("Semua dokumen: 4/4")
    expect(ui.by("zoom-next")).to_be_disabled()
    _zoom_page_box(ui)
    ui.shot(f"c16-zoom-akta-{name}")
    ui.by("zoom-prev").tap()
    expect(ui.by("zoom-where")).to_have_text("Halaman 2 dari 3")
    ui.by("zoom-close").tap()
    expect(ui.by("zoom")).to_have_count(0)
    expect(ui.screen("bundle")).to_be_visible()


def test_the_zoom_pages_are_not_kept_by_the_browser(ui: Ui) -> None:
    """Every page answer is ``no-store``, and the blob: URLs are revoked when the view
    closes."""
    answers: list[dict[str, str]] = []
    ui.page.on("response", lambda r: answers.append(r.headers) if "/pages/" in r.url else None)
    _open_bundle(ui, _kk_and_akta())
    ui.by("zoom-open").first.tap()
    _zoom_page_box(ui)
    src = ui.by("zoom-page").get_attribute("src") or ""
    assert src.startswith("blob:")
    ui.by("zoom-close").tap()
    assert answers and all(a.get("cache-control") == "no-store" for a in answers)
    gone = ui.page.evaluate(  # a revoked blob: URL no longer loads
        """src => new Promise(done => { const img = new Image();
              img.onload = () => done(false); img.onerror = () => done(true);
              img.src = src; })""",
        src,
    )
    assert gone is True


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
def test_the_confirm_screen_says_how_many_sheets_to_expect(ui: Ui, size: dict[str, int]) -> None:
    ui.page.set_viewport_size(size)
    _open_bundle(ui, _kk_and_akta(), copies=2)
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    expect(ui.by("sheets-doc")).to_have_count(2)
    expect(ui.by("sheets-doc").nth(0)).to_contain_text("2 lembar")  # 1 page, 2 copies
    expect(ui.by("sheets-doc").nth(1)).to_contain_text("6 lembar")  # 3 pages, 2 copies
    expect(ui.by("sheets-total")).to_have_text(
        "Seharusnya keluar 8 lembar kertas A4 — hitung dan periksa setiap lembar."
    )
    ui.overflow_free()
    for name in ("spoil", "handover"):
        box = _box(ui, name)
        assert box["y"] + box["height"] <= size["height"], name
    ui.shot(f"c16-confirm-sheets-{size['width']}")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
def test_a_jam_reprints_only_the_ticked_document_after_clearing_it(
    ui: Ui, size: dict[str, int]
) -> None:
    """Kosong / macet / rusak → what happened → which documents: none is ticked in a
    bundle of three, the screen says to clear the jam first, and only the ticked one is
    printed again; the confirm screen then counts its sheets only."""
    from tests.agent.harness import nik_pdf

    ui.page.set_viewport_size(size)
    docs = [("KK", nik_pdf(1, "kk")), ("AKTA_LAHIR", nik_pdf(2, "akta")),
            ("BIODATA", nik_pdf(1, "bio"))]  # fmt: skip
    job_id = _open_bundle(ui, docs)
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    expect(ui.by("sheets-total")).to_contain_text("4 lembar")
    assert len(ui.api.kiosk.printed()) == 3
    ui.by("spoil").tap()
    ui.by("spoil-jammed").tap()
    expect(ui.by("title")).to_have_text("Dokumen mana yang rusak?")
    expect(ui.by("clear-jam")).to_have_text(
        "Keluarkan dulu kertas yang macet dari printer, lalu tutup kembali printernya. "
        "Sesudah itu tekan Cetak ulang."
    )
    picks = ui.by("spoil-doc")
    expect(picks).to_have_count(3)
    for i in range(3):
        expect(picks.nth(i)).to_have_attribute("aria-checked", "false")
    expect(ui.by("reprint")).to_be_disabled()
    expect(ui.by("reprint")).to_have_text("Pilih dokumennya dulu")
    picks.nth(1).tap()
    expect(picks.nth(1)).to_have_attribute("aria-checked", "true")
    expect(ui.by("reprint")).to_have_text("Cetak ulang 1 dokumen")
    ui.overflow_free()
    for name in ("reprint", "spoil-back"):
        box = _box(ui, name)
        assert box["y"] + box["height"] <= size["height"], name
    ui.shot(f"c16-spoil-pick-{size['width']}")
    ui.by("reprint").tap()
    expect(ui.screen("confirm")).to_be_visible()
    expect(ui.by("message")).to_have_text("Sudah dicetak ulang. Periksa hasilnya lagi.")
    printed = sorted(p.read_bytes() for p in ui.api.kiosk.printed())
    assert len(printed) == 4 and printed.count(docs[1][1]) == 2  # the akta only, again
    expect(ui.by("sheets-total")).to_contain_text("2 lembar")  # the akta's two pages
    expect(ui.by("sheets-doc").nth(0)).to_contain_text("Sudah tercetak sebelumnya")
    expect(ui.by("sheets-doc").nth(1)).to_contain_text("2 lembar")
    ui.overflow_free()
    ui.shot(f"c16-spoil-reprinted-{size['width']}")
    ui.by("handover").tap()
    expect(ui.screen("done")).to_be_visible()
    assert ui.api.kiosk.local_state(job_id) in {None, "purged"}


def test_past_the_reprint_limit_the_screen_says_to_ask_the_district(ui: Ui) -> None:
    from tests.agent.harness import nik_pdf

    job_id = _open_bundle(ui, [("KK", nik_pdf(1, "kk"))])
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    for _ in range(ui.api.agent.config.max_reprints):  # spoiled three times already
        answer = ui.api.call("POST", f"/api/jobs/{job_id}/spoil", json={"reason": "blank"})
        assert answer.json()["state"] == "printed"
    ui.by("spoil").tap()
    ui.by("spoil-spoiled").tap()
    expect(ui.by("spoil-doc")).to_have_attribute("aria-checked", "true")  # the only one
    ui.by("reprint").tap()
    expect(ui.screen("confirm")).to_be_visible()
    expect(ui.by("message")).to_contain_text("Batas cetak ulang sudah tercapai")
    expect(ui.by("message")).to_contain_text("Minta kabupaten mengirim ulang dokumennya.")
    assert len(ui.api.kiosk.printed()) == 1 + ui.api.agent.config.max_reprints
    ui.shot("c16-reprint-limit")
