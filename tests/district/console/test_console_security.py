"""The console's files and headers: a strict CSP on every response, nothing inline,
nothing from another site, no secret in the browser's storage; GET /admin/v1/session."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import requests

from district.console_http import CSP
from tests.district.adminlab import PASSWORD, Admin

FILES = Path(__file__).parents[3] / "district" / "console"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
BANNED = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
          "new Function", "localStorage", 'setAttribute("style"')  # fmt: skip


def test_the_csp_is_the_strict_one() -> None:
    assert CSP == EXPECTED_CSP


@pytest.mark.parametrize("path", ["/console/", "/console/app.js", "/console/console.css",
                                  "/console/i18n.js", "/console/no-such-file.js"])  # fmt: skip
def test_every_console_response_carries_the_security_headers(admin: Admin, path: str) -> None:
    answer = requests.get(admin.url + path, timeout=10)
    assert answer.status_code == (404 if "no-such" in path else 200)
    assert answer.headers["Content-Security-Policy"] == EXPECTED_CSP
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    if path.endswith(".js"):
        assert answer.status_code == 404 or "javascript" in answer.headers["Content-Type"]


def test_console_redirects_to_its_folder(admin: Admin) -> None:
    answer = requests.get(admin.url + "/console", timeout=10)
    assert answer.status_code == 200
    assert answer.url.endswith("/console/")


def test_the_console_files_have_nothing_inline_nothing_foreign_and_no_stored_secret() -> None:
    html = [p for p in FILES.iterdir() if p.suffix == ".html"]
    scripts = [p for p in FILES.iterdir() if p.suffix == ".js"]
    assert html and scripts
    for page in html:
        text = page.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) is None, page.name
        assert re.search(r"<style\b", text) is None, page.name
        assert re.search(r"\sstyle=", text) is None, page.name
        assert re.search(r"\son[a-z]+=", text) is None, page.name
    for path in [*html, *scripts, FILES / "console.css"]:
        text = path.read_text()
        assert re.search(r"(src|href|url)\(?=?\s*[\"']?(https?:)?//", text) is None, path.name
        assert "@import" not in text, path.name
    for script in scripts:
        text = script.read_text()
        for banned in BANNED:
            assert banned not in text, f"{script.name}: {banned}"
        assert 'sessionStorage.setItem("cedoka-console-lang"' in text or (
            "sessionStorage" not in text
        ), f"{script.name}: only the language preference may be stored"


def test_get_session_answers_the_csrf_of_a_live_session_and_204_without(admin: Admin) -> None:
    api = admin.url + "/admin/v1"
    assert requests.get(api + "/session", timeout=10).status_code == 204
    browser = requests.Session()
    signed = browser.post(api + "/session", json={"user_id": "viewer.user", "password": PASSWORD},
                          timeout=30)  # fmt: skip
    assert signed.status_code == 200
    again = browser.get(api + "/session", timeout=10)
    assert again.status_code == 200
    assert again.json()["csrf"] == signed.json()["csrf"]
    assert again.json()["role"] == "viewer"
    assert again.headers["Cache-Control"] == "no-store"
    origin = {"Origin": admin.url, "X-CSRF-Token": signed.json()["csrf"]}
    assert browser.delete(api + "/session", headers=origin, timeout=10).status_code == 204
    assert requests.get(api + "/session", cookies={"cedoka_session": "gone"},
                        timeout=10).status_code == 204  # fmt: skip


def test_an_enrolment_code_comes_with_its_qr_as_svg(admin: Admin) -> None:
    answer = admin.call("POST", "/offices/74.08.01.2002/enroll-codes", "operator", json={})
    assert answer.status_code == 201
    svg = answer.json()["qr_svg"]
    assert svg.startswith("<svg") and "<script" not in svg and "<path" in svg


def test_the_vendored_pdfjs_is_the_recorded_release_and_is_served_as_script(
    admin: Admin,
) -> None:
    vendor = FILES / "vendor" / "pdfjs"
    readme = (vendor / "README.md").read_text()
    assert "Apache" in (vendor / "LICENSE").read_text()
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in readme, name
        answer = requests.get(f"{admin.url}/console/vendor/pdfjs/{name}", timeout=10)
        assert answer.status_code == 200
        assert "javascript" in answer.headers["Content-Type"]
        assert answer.headers["Content-Security-Policy"] == EXPECTED_CSP
