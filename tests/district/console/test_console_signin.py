"""Signing in to the console in Chromium: wrong password, lockout, reload, expiry, sign-out."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from playwright.sync_api import expect

from district.identity import CLI
from tests.district.console.conftest import Console


def totp_code(secret_text: str) -> str:
    secret = base64.b32decode(secret_text + "=" * (-len(secret_text) % 8))
    return TOTP(secret, 6, SHA1(), 30, enforce_key_length=False).generate(time.time()).decode()


def test_sign_in_shows_the_dashboard_and_survives_a_reload(console: Console) -> None:
    console.signed_in("admin")
    console.shot("dashboard-empty")
    console.fits()
    console.page.reload()  # the CSRF token was in memory only: fetched again for the cookie
    expect(console.by("screen-dashboard")).to_be_visible()
    assert console.page.evaluate("() => localStorage.length") == 0
    console.by("sign-out").click()
    expect(console.by("screen-signin")).to_be_visible()
    expect(console.by("message")).to_contain_text("Anda sudah keluar")
    console.page.reload()
    expect(console.by("screen-signin")).to_be_visible()


def test_a_wrong_password_and_then_a_lockout_are_said_plainly(console: Console) -> None:
    console.allowed = {401, 429}
    console.open()
    console.sign_in("operator", password="not-the-password")
    expect(console.by("message")).to_have_text("Nama pengguna atau kata sandi salah.")
    for _ in range(4):
        console.by("signin-submit").click()
        expect(console.by("signin-submit")).to_be_enabled()
    console.by("signin-submit").click()
    expect(console.by("message")).to_contain_text("Terlalu banyak percobaan yang salah")
    console.shot("signin-locked")
    console.by("lang-en").click()
    console.sign_in("operator", password="not-the-password")
    expect(console.by("message")).to_contain_text("Too many wrong attempts")


def test_an_ended_session_goes_back_to_sign_in_with_a_message(console: Console) -> None:
    console.allowed = {401}
    console.signed_in("operator")
    console.page.context.clear_cookies()  # as when the server ends an idle session
    console.by("nav-jobs").click()
    expect(console.by("screen-signin")).to_be_visible()
    expect(console.by("message")).to_contain_text("Sesi Anda sudah berakhir")
    console.shot("session-over")


def test_an_account_with_an_authenticator_is_asked_for_its_code(console: Console) -> None:
    console.allowed = {401}  # the first answer: totp_required
    new = console.admin.identity.enable_totp(CLI, "admin.user")
    console.open()
    console.sign_in("admin")
    expect(console.by("signin-totp")).to_be_visible()
    expect(console.by("message")).to_contain_text("kode 6 angka")
    console.shot("signin-totp")
    console.by("signin-totp").fill(totp_code(new.secret))
    console.by("signin-submit").click()
    console.ready("dashboard")
