"""The kiosk screens (``ui/static``) in real headless Chromium — Debian's ``/usr/bin/chromium``,
never a downloaded browser — over the live local API: a real agent enrolled with the real
district server, uvicorn on 127.0.0.1, the virtual printer (a folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, expect

from kiosk.model import ReleaseMode
from tests.agent.harness import push
from tests.ui.conftest import STAFF, SUPERVISOR, Api

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("/tmp/cedoka-shots")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]  # fmt: skip
__all__ = ["STAFF", "SUPERVISOR", "Ui", "printed", "push_job"]


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """None: each test opens its own live API's URL. (Also replaces pytest-base-url's
    fixture, an instance method that pytest 9 warns about: an error under this project's
    filterwarnings.)"""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):  # CI installs it (install.sh --test): missing is a failure
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True,
            "args": CHROMIUM_ARGS}  # fmt: skip


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "has_touch": True, "locale": "id-ID", "timezone_id": "Asia/Makassar"}  # fmt: skip


def push_job(api: Api, release: ReleaseMode = ReleaseMode.CLAIM) -> tuple[str, str, list[bytes]]:
    """A job pushed by the district and fetched by the kiosk: (job id, claim code, PDFs)."""
    job_id, claim, pdfs = push(api.kiosk.server, release)
    api.sync()
    return job_id, claim or "", pdfs


def printed(api: Api) -> list[bytes]:
    """What the virtual A4 printer received, sorted."""
    return sorted(p.read_bytes() for p in api.kiosk.printed())


@dataclass
class Ui:
    """The kiosk window: a Playwright page on the live API, with helpers in staff terms."""

    page: Page
    api: Api
    errors: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.api.guard.window_url())
        expect(self.screen("signin")).to_be_visible()

    def screen(self, name: str) -> Locator:
        return self.page.get_by_test_id(f"screen-{name}")

    def by(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    def tap_keys(self, digits: str) -> None:
        """Digits on the on-screen keypad, by touch."""
        for digit in digits:
            self.by(f"key-{digit}").tap()

    def sign_in(self, who: tuple[str, str, str] = STAFF) -> None:
        operator_id, name, pin = who
        self.by(f"operator-{operator_id}").tap()
        expect(self.screen("pin")).to_contain_text(name)
        self.tap_keys(pin)
        expect(self.by("pin-display")).to_have_attribute("data-length", str(len(pin)))
        self.by("pin-submit").tap()
        expect(self.screen("queue")).to_be_visible()
        expect(self.by("operator-name")).to_have_text(name)

    def previews_loaded(self, count: int) -> None:
        """``count`` preview images shown, each decoded (not a broken image)."""
        self.page.wait_for_function(
            """n => { const imgs = [...document.querySelectorAll('[data-testid=preview]')];
                      return imgs.length === n
                             && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
            arg=count,
        )

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def overflow_free(self) -> None:
        """Nothing sticks out sideways, and every visible button is a real touch target."""
        report = self.page.evaluate(
            """() => {
                const doc = document.documentElement;
                const small = [...document.querySelectorAll('button')]
                  .filter(b => b.offsetParent !== null && b.getBoundingClientRect().height < 64)
                  .map(b => b.textContent);
                return {wide: doc.scrollWidth > doc.clientWidth, small};
            }"""
        )
        assert report == {"wide": False, "small": []}


@pytest.fixture
def ui(api: Api, page: Page) -> Iterator[Ui]:
    """The kiosk window, signed out, over the live API (``api`` mounts ``ui/static``); fails
    the test on a script error or a CSP violation."""
    screens = Ui(page, api)

    def on_console(message: ConsoleMessage) -> None:
        # A refused API call (401/403/409 …) is logged as a failed resource load: expected;
        # so is what other sites' pages log (a test's stand-in attacker).
        mine = page.url.startswith(api.url)
        if mine and message.type == "error" and "Failed to load resource" not in message.text:
            screens.errors.append(message.text)

    def on_error(error: Error) -> None:
        screens.errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.set_default_timeout(15000)
    expect.set_options(timeout=10000)  # an old PC: PDF previews take a moment
    yield screens
    page.close()
    assert screens.errors == []
