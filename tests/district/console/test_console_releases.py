"""The console's kiosk versions screen (issue 19 item 1, ADR 0031) in Chromium over the live
server: each release's stage and the kiosks running it, a failed update on a kiosk's row,
promote by an admin (with its confirmation), the command shown instead when the targets key
is kept off the server, and no promote for a viewer."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import expect

from district import cli as district_cli
from district.releases import write_archive
from kiosk.report import Heartbeat, UpdateReport, heartbeat_body
from tests.district.adminlab import OFFICE, Admin
from tests.district.console.conftest import Console


def _district(admin: Admin, *argv: str) -> None:
    assert district_cli.main(["--home", str(admin.home), *argv]) == 0


def _releases(admin: Admin, work: Path, *versions: str) -> None:
    _district(admin, "release", "init")
    for version in versions:
        archive = work / f"cedoka-{version}.tar.gz"
        write_archive(archive, version, [], [])
        _district(admin, "release", "publish", str(archive), "--version", version)


def _beat(admin: Admin, agent: str, update: UpdateReport | None) -> None:
    body = heartbeat_body(Heartbeat(agent, int(time.time()), 0, 1, 1, {}, (), None, (),
                                    update=update))  # fmt: skip
    assert admin.kiosk.call("POST", "/v1/heartbeat", body).status_code == 200


def test_an_admin_sees_the_releases_and_widens_a_roll_out(console: Console,
                                                          tmp_path: Path) -> None:  # fmt: skip
    admin = console.admin
    _releases(admin, tmp_path, "0.2.0", "0.3.0")
    _beat(admin, "cedoka/0.2.0", UpdateReport(int(time.time()), "rolled_back", "0.3.0",
                                              "unhealthy"))  # fmt: skip
    console.signed_in("admin")
    expect(console.by("dash-updates-value")).to_have_text("1")  # on the first screen too
    expect(console.by("dash-updates-list")).to_contain_text(f"{OFFICE} · 0.3.0: dikembalikan")
    console.nav("releases")
    expect(console.by("release-stage-0.3.0")).to_have_text("0%")
    expect(console.by("release-kiosks-0.2.0")).to_have_text("1")
    expect(console.by("release-failed-0.3.0")).to_contain_text("1 kiosk gagal / dikembalikan")
    expect(console.by("version-0.2.0")).to_contain_text("1")
    expect(console.by("releases-offline-key")).to_have_count(0)
    console.by("promote-percent-0.2.0").fill("25")
    console.by("promote-offices-0.2.0").fill(OFFICE)
    console.by("promote-0.2.0").get_by_role("button").click()
    expect(console.by("confirm")).to_contain_text("0.2.0")
    console.by("confirm-no").click()
    expect(console.by("release-stage-0.2.0")).to_have_text("0%")  # nothing was signed
    console.by("promote-0.2.0").get_by_role("button").click()
    console.by("confirm-yes").click()
    expect(console.by("release-stage-0.2.0")).to_have_text(f"25% + {OFFICE}")
    expect(console.by("releases-message")).to_contain_text(f"25% + {OFFICE}")
    (listed,) = [r for r in admin.call("GET", "/releases", "viewer").json()["releases"]
                 if r["version"] == "0.2.0"]  # fmt: skip
    assert (listed["percent"], listed["offices"]) == (25, [OFFICE])
    console.shot("releases")
    console.fits()
    # the kiosk's row on the offices screen: its version and the rolled-back release
    console.nav("offices")
    device = admin.kiosk.device_id
    expect(console.by(f"device-version-{device}")).to_contain_text("cedoka/0.2.0")
    expect(console.by(f"device-update-{device}")).to_have_text("0.3.0: dikembalikan")
    console.by("lang-en").click()
    expect(console.by(f"device-update-{device}")).to_have_text("0.3.0: rolled back")


def test_with_the_targets_key_offline_the_console_shows_the_command(
    console: Console, tmp_path: Path
) -> None:
    admin = console.admin
    _releases(admin, tmp_path, "0.2.0")
    usb = tmp_path / "usb"
    usb.mkdir(mode=0o700)
    (admin.home / "keys" / "tuf-targets.pem").rename(usb / "tuf-targets.pem")
    console.signed_in("admin")
    console.nav("releases")
    expect(console.by("releases-offline-key")).to_contain_text("di luar server")
    expect(console.by("releases-command")).to_have_text(
        "cedoka-district release --keys DIR promote V --percent N --office CODE"
    )
    expect(console.by("promote-0.2.0")).to_have_count(0)  # nothing to click that would fail
    console.shot("releases-key-offline")
    # taken off while the screen was open: the promote is refused, the screen says why
    (usb / "tuf-targets.pem").rename(admin.home / "keys" / "tuf-targets.pem")
    console.page.reload()
    console.ready("releases")
    console.by("promote-percent-0.2.0").fill("50")
    (admin.home / "keys" / "tuf-targets.pem").rename(usb / "tuf-targets.pem")
    console.allowed.add(409)
    console.by("promote-0.2.0").get_by_role("button").click()
    console.by("confirm-yes").click()
    expect(console.by("releases-offline-key")).to_be_visible()
    expect(console.by("release-stage-0.2.0")).to_have_text("0%")


def test_a_viewer_sees_the_releases_but_cannot_promote(console: Console, tmp_path: Path) -> None:
    admin = console.admin
    _releases(admin, tmp_path, "0.2.0")
    console.signed_in("viewer")
    expect(console.by("dash-updates")).to_have_count(0)  # no kiosk reported a failed update
    console.nav("releases")
    expect(console.by("release-stage-0.2.0")).to_have_text("0%")
    expect(console.by("promote-0.2.0")).to_have_count(0)
    console.allowed.add(403)
    answer = console.page.evaluate("""async () => (await fetch('/admin/v1/releases/0.2.0/promote',
        {method: 'POST', headers: {'Content-Type': 'application/json'},
         body: JSON.stringify({percent: 50})})).status""")
    assert answer == 403  # no CSRF token here, and no scope anyway: refused either way
