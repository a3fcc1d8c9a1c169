"""The district console (``district/console``) in real headless Chromium — Debian's
``/usr/bin/chromium`` — against the live district server of :mod:`tests.district.adminlab`,
at 1366 x 768. Any script error, console error or unexpected refused request fails a test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, Response, expect

from tests.district.adminlab import PASSWORD, Admin, admin_server
from tests.ui.browser.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS


@pytest.fixture(scope="session")
def base_url() -> str | None:
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True,
            "args": CHROMIUM_ARGS}  # fmt: skip


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768},
            "locale": "id-ID", "timezone_id": "Asia/Makassar"}  # fmt: skip


@pytest.fixture
def admin(tmp_path: Path, db_url: str | None) -> Iterator[Admin]:
    """The live server; SQLite unless the test module sets ``STORES`` (tests/district)."""
    with admin_server(tmp_path, db_url) as live:
        yield live


@dataclass
class Console:
    """The console in a Playwright page, with helpers in district IT's terms."""

    page: Page
    admin: Admin
    errors: list[str] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # statuses of refused API calls
    allowed: set[int] = field(default_factory=set)  # refusals a test expects

    def open(self) -> None:
        self.page.goto(self.admin.url + "/console/")
        expect(self.by("screen-signin")).to_be_visible()

    def by(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    def sign_in(self, role: str = "admin", password: str = PASSWORD) -> None:
        self.by("signin-user").fill(f"{role}.user")
        self.by("signin-password").fill(password)
        self.by("signin-submit").click()

    def signed_in(self, role: str = "admin") -> None:
        self.open()
        self.sign_in(role)
        self.ready("dashboard")
        expect(self.by("who-user")).to_have_text(f"{role}.user")

    def nav(self, name: str) -> None:
        self.by(f"nav-{name}").click()
        self.ready(name)

    def ready(self, name: str) -> None:
        """The screen ``name`` is shown and its data loaded."""
        expect(self.by(f"screen-{name}")).to_have_attribute("data-ready", "true")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"console-{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path

    def fits(self) -> None:
        """Nothing sticks out sideways at 1366 px."""
        wide = self.page.evaluate(
            "() => document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
        assert wide is False


@pytest.fixture
def console(admin: Admin, page: Page) -> Iterator[Console]:
    screens = Console(page, admin)

    def on_console(message: ConsoleMessage) -> None:
        # A refused API call is logged as a failed resource load: judged by on_response.
        if message.type == "error" and "Failed to load resource" not in message.text:
            screens.errors.append(message.text)

    def on_error(error: Error) -> None:
        screens.errors.append(str(error))

    def on_response(response: Response) -> None:
        if response.status >= 400:
            screens.refused.append(response.status)

    page.on("console", on_console)
    page.on("pageerror", on_error)
    page.on("response", on_response)
    page.on("requestfailed", lambda request: screens.errors.append(f"failed: {request.url}"))
    page.set_default_timeout(15000)
    expect.set_options(timeout=10000)
    yield screens
    page.close()
    assert screens.errors == []
    assert [s for s in screens.refused if s not in screens.allowed] == []
