"""A job the district cancels while it waits for its resident (issue 16, broken 3), on the
kiosk screen in real headless Chromium: staff opened it with the resident's code, the
district cancelled it before they pressed print. The print is refused with the district's
word, nothing comes out, and the queue shows the job as cancelled, with no action left."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.ui.browser.conftest import Ui, printed, push_job

pytestmark = [pytest.mark.system, pytest.mark.loopback]


def test_a_job_cancelled_while_held_is_refused_and_shows_as_cancelled(ui: Ui) -> None:
    job_id, code, _ = push_job(ui.api)
    ui.open()
    ui.sign_in()
    job = ui.page.locator(f'[data-job="{job_id}"]')
    expect(job.get_by_test_id("job-state")).to_have_text("Menunggu kode warga")

    ui.by("enter-code").tap()
    expect(ui.screen("claim")).to_be_visible()
    ui.tap_keys("".join(c for c in code if c.isdigit()))
    ui.by("open-code").tap()
    expect(ui.screen("bundle")).to_be_visible()

    ui.api.kiosk.server.admin.cancel(job_id, reason="resident_request")
    ui.api.sync()
    ui.by("print").tap()
    expect(ui.screen("printing")).to_contain_text("Dibatalkan oleh Disdukcapil")
    expect(ui.by("message")).to_contain_text("jangan dicetak atau diserahkan")
    expect(ui.by("retry")).to_have_count(0)  # nothing to try again
    assert printed(ui.api) == []
    ui.shot("16b-release-of-a-cancelled-job")

    ui.by("back-to-queue").tap()
    expect(ui.screen("queue")).to_be_visible()
    expect(job.get_by_test_id("job-state")).to_have_text("Dibatalkan oleh Disdukcapil")
    expect(job.get_by_test_id("job-docs")).to_contain_text("Kartu Keluarga")
    expect(job.locator("button")).to_have_count(0)
    ui.overflow_free()
    ui.shot("16b-queue-cancelled")
    assert printed(ui.api) == []


def test_a_printed_job_the_district_cancels_is_not_handed_over_but_destroyed(ui: Ui) -> None:
    """The cancel arrives while staff check the printed sheets: the hand-over is refused,
    the queue says not to hand it over but to destroy the sheets, and staff record that."""
    job_id, code, pdfs = push_job(ui.api)
    ui.open()
    ui.sign_in()
    ui.by("enter-code").tap()
    ui.tap_keys("".join(c for c in code if c.isdigit()))
    ui.by("open-code").tap()
    ui.by("print").tap()
    expect(ui.screen("confirm")).to_be_visible()
    assert printed(ui.api) == sorted(pdfs)

    ui.api.kiosk.server.admin.cancel(job_id, reason="data_error")
    ui.api.sync()
    ui.by("handover").tap()
    expect(ui.screen("queue")).to_be_visible()
    expect(ui.by("message")).to_contain_text("jangan dicetak atau diserahkan")
    job = ui.page.locator(f'[data-job="{job_id}"]')
    expect(job.get_by_test_id("job-state")).to_contain_text("Dibatalkan oleh Disdukcapil")
    expect(job.get_by_test_id("job-state")).to_contain_text("Hancurkan lembarnya")
    expect(job.get_by_test_id("check-result")).to_have_count(0)
    ui.overflow_free()
    ui.shot("16b-queue-printed-then-cancelled")

    job.get_by_test_id("discard").tap()
    expect(ui.by("message")).to_have_text("Tercatat: lembar dihancurkan.")
    expect(job.get_by_test_id("discard")).to_have_count(0)
    expect(job.get_by_test_id("job-state")).to_have_text("Dibatalkan oleh Disdukcapil")
    assert printed(ui.api) == sorted(pdfs)  # nothing reprinted
    assert ui.api.kiosk.local_state(job_id) == "purged"
