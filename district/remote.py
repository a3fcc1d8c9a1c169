"""``cedoka-district --server URL --token …``: the command line from district IT's own PC,
through the admin API (issue 17 item 3, ADR 0022).

:class:`RemoteDistrict` offers what the command line's commands use of a local district
home — the operations of :class:`district.admin.DistrictAdmin` (push, cancel, revoke,
rotate the key, add an office, issue an enrolment code) and the listings of
:mod:`district.views` (jobs, kiosks, a kiosk's audit trail) — over HTTPS with the system's
trust store or ``--cacert``, so each command prints exactly what it prints at home. The
API's refusals come back as the same errors (``OperatorError``, ``PastPrintingError``) with
the server's message; a token refused, a scope missing or a server out of reach is one
clear ``OperatorError`` line.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from cedoka_io.version import package_version
from district.admin import CancelResult, PastPrintingError, PushResult
from kiosk.errors import OperatorError
from kiosk.model import ReleaseMode

TOKEN_ENV = "CEDOKA_DISTRICT_TOKEN"
TIMEOUT_S = 120  # a push of seven documents over a village-grade link
PREFIX = "/admin/v1"
_CONSOLE_ONLY = frozenset({"heartbeat", "clock_offset_s"})


def check_server_url(url: str) -> str:
    """``https://host[:port][/prefix]`` (``http://`` only to a loopback address: a token is
    never sent in the clear over a network). Returns it without a trailing ``/``; raises
    ValueError with what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ValueError(f"{url!r}: give the server's URL, e.g. https://cedoka.example.go.id")
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"{url!r}: use https:// (the token must not travel in the clear)")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: no query or fragment")
    return url.rstrip("/")


class RemoteDistrict:
    """A district reached through its admin API."""

    def __init__(self, server_url: str, token: str, *, cacert: str | None = None) -> None:
        self._base = server_url + PREFIX
        self._session = requests.Session()
        agent = f"cedoka-district/{package_version()}"
        self._session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": agent})
        # Given per request: requests lets $REQUESTS_CA_BUNDLE / $CURL_CA_BUNDLE override a
        # session's own setting, and --cacert must win.
        self._verify: str | bool = cacert if cacert is not None else True

    def close(self) -> None:
        self._session.close()

    def record(self, action: str, *targets: tuple[str, str]) -> None:
        """Nothing to do: the server writes its admin audit log for every API call."""
        del action, targets

    def admin(self) -> RemoteDistrict:
        """The operations (the local home's ``admin()``)."""
        return self

    # --- the listings ---------------------------------------------------------------------
    def jobs(self, office: str | None) -> list[dict[str, Any]]:
        params: dict[str, str] = {"oldest_first": "true", "limit": "100000"}
        if office is not None:
            params["office"] = office
        jobs: list[dict[str, Any]] = self._call("GET", "/jobs", params=params)["jobs"]
        return jobs

    def devices(self) -> list[dict[str, Any]]:
        devices = self._call("GET", "/devices")["devices"]
        # The API adds what the console shows (the raw heartbeat, the clock offset); the
        # command line prints what it prints at home.
        return [{k: v for k, v in d.items() if k not in _CONSOLE_ONLY} for d in devices]

    def audit(self, kiosk: str) -> tuple[dict[str, Any], str | None]:
        report = self._call("GET", f"/devices/{quote(kiosk, safe='')}/audit")
        note = report.pop("note", None)
        return report, note

    # --- the operations -------------------------------------------------------------------
    def push(self, *, office_code: str, resident: str, documents: Sequence[tuple[str, bytes]],
             release: ReleaseMode, copies: int, lifetime_s: int) -> PushResult:  # fmt: skip
        fields = [("office", office_code), ("resident", resident), ("release", release.value),
                  ("copies", str(copies)), ("expires_s", str(lifetime_s)),
                  *(("type", doc_type) for doc_type, _ in documents)]  # fmt: skip
        files = [("document", (f"document-{i}.pdf", data, "application/pdf"))
                 for i, (_, data) in enumerate(documents, 1)]  # fmt: skip
        made = self._call("POST", "/jobs", data=fields, files=files)
        return PushResult(made["job_id"], made["device_id"], made["claim_code"],
                          tuple(made["warnings"]))  # fmt: skip

    def cancel(self, job_id: str, *, reason: str) -> CancelResult:
        done = self._call("POST", f"/jobs/{quote(job_id, safe='')}/cancel",
                          json={"reason": reason})  # fmt: skip
        return CancelResult(done["job_id"], tuple(done["warnings"]))

    def revoke(self, device_id: str) -> None:
        self._call("POST", f"/devices/{quote(device_id, safe='')}/revoke")

    def rotate_seal(self, device_id: str) -> int:
        at_s: int = self._call("POST", f"/devices/{quote(device_id, safe='')}/rotate-seal")[
            "seal_rotate"
        ]
        return at_s

    def rotate_key(self) -> str:
        kid: str = self._call("POST", "/keys/rotate")["kid"]
        return kid

    def add_office(self, code: str, name: str) -> None:
        self._call("POST", "/offices", json={"code": code, "name": name})

    def new_enroll_code(self, office_code: str, *, valid_s: int) -> str:
        made = self._call("POST", f"/offices/{quote(office_code, safe='')}/enroll-codes",
                          json={"valid_s": valid_s})  # fmt: skip
        code: str = made["enroll_code"]
        return code

    def releases(self) -> dict[str, Any]:
        """``GET /releases``: the agent releases, their stages and the kiosks on each."""
        return self._call("GET", "/releases")

    def promote(self, version: str, *, percent: int | None,
                offices: Sequence[str]) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {"offices": list(offices)}
        if percent is not None:
            body["percent"] = percent
        return self._call("POST", f"/releases/{quote(version, safe='')}/promote", json=body)

    # --- an office's village staff (ADR 0034) ------------------------------------------------
    def staff(self) -> RemoteStaff:
        """``operators …`` through the admin API."""
        return RemoteStaff(self._call)

    # --- HTTP ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = self._session.request(method, self._base + path, timeout=TIMEOUT_S,
                                           verify=self._verify, allow_redirects=False,
                                           **kwargs)  # fmt: skip
        except requests.exceptions.SSLError:
            raise OperatorError(f"{self._base}: the server's certificate is not trusted "
                                "(give --cacert FILE for a private CA)") from None  # fmt: skip
        except requests.RequestException as error:
            raise OperatorError(f"{self._base}: cannot reach the server "
                                f"({type(error).__name__})") from None  # fmt: skip
        try:
            body = answer.json()
        except ValueError:
            body = None
        if 200 <= answer.status_code < 300 and isinstance(body, dict):  # noqa: PLR2004
            return body
        refusal = body.get("error", {}) if isinstance(body, dict) else {}
        code, message = refusal.get("code", "http_error"), refusal.get("message", "")
        if answer.status_code == 401:  # noqa: PLR2004
            raise OperatorError(f"the server refused the token ({code}): check --token or "
                                f"${TOKEN_ENV}; it may be expired or revoked")  # fmt: skip
        if answer.status_code == 403:  # noqa: PLR2004
            raise OperatorError(f"not allowed: {message or code}")
        if code == "past_printing":
            raise PastPrintingError(message)
        if code in {"refused", "not_found", "malformed", "key_offline"} and message:
            raise OperatorError(message)
        raise OperatorError(f"the server answered HTTP {answer.status_code} ({code})"
                            + (f": {message}" if message else ""))  # fmt: skip


class RemoteStaff:
    """``cedoka-district operators …`` through the admin API (``/offices/{code}/operators``)."""

    def __init__(self, call: Callable[..., dict[str, Any]]) -> None:
        self._call = call

    @staticmethod
    def _path(office: str, *rest: str) -> str:
        return "/".join(["/offices", quote(office, safe=""), "operators",
                         *(quote(part, safe="") for part in rest)])  # fmt: skip

    def add(self, office: str, operator_id: str, *, name: str, role: str) -> dict[str, Any]:
        return self._call("POST", self._path(office),
                          json={"id": operator_id, "name": name, "role": role})  # fmt: skip

    def reset(self, office: str, operator_id: str) -> dict[str, Any]:
        return self._call("POST", self._path(office, operator_id, "reset"))

    def disable(self, office: str, operator_id: str) -> dict[str, Any]:
        return self._call("POST", self._path(office, operator_id, "disable"))

    def list(self, office: str) -> dict[str, Any]:
        return self._call("GET", self._path(office))
