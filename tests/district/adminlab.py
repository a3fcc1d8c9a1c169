"""A district server with the admin API on loopback, three users (viewer, operator, admin)
with a token each, and an enrolled kiosk (the protocol side, from tests/district/conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from district.admin_http import AdminParts
from district.http import build_app
from district.identity import CLI, Identity
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.releases import ReleaseRepo
from district.service import DistrictService
from district.webhooks import Webhooks
from kiosk.access import Argon2Cost
from tests.district.conftest import Kiosk, new_district, serving
from tests.sim.district import make_pdf

OFFICE = "74.08.01.2002"
PASSWORD = "kolaka-utara-2026"
FAST = Argon2Cost(memory_kib=1024, passes=1, lanes=1)  # the rules are tested, not the cost
PRINTABLE = ["KK", "AKTA_LAHIR", "AKTA_MATI", "BIODATA", "SKPWNI", "SKET", "AKTA_KAWIN"]


@dataclass
class Admin:
    url: str
    keys: Keys
    identity: Identity
    webhooks: Webhooks
    kiosk: Kiosk
    tokens: dict[str, str]  # role -> token text
    home: Path  # the district's home (its keys, its release repository)

    def call(
        self, method: str, path: str, role: str | None = None, **kwargs: object
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return requests.request(
            method, self.url + "/admin/v1" + path, headers=headers, timeout=30, **kwargs
        )  # type: ignore[arg-type]

    def push(self, role: str = "operator", docs: int = 1) -> dict[str, object]:
        data, files = push_form(docs)
        answer = self.call("POST", "/jobs", role, data=data, files=files)
        assert answer.status_code == 201, answer.text
        result: dict[str, object] = answer.json()
        return result


def push_form(
    docs: int = 3,
) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
    data = [
        ("office", OFFICE),
        ("resident", "Test Resident"),
        ("release", "claim"),
        ("copies", "1"),
        ("expires_s", "86400"),
        *(("type", t) for t in PRINTABLE[:docs]),
    ]
    files = [("document", (f"doc{i}.pdf", make_pdf(i + 1), "application/pdf")) for i in range(docs)]
    return data, files


@contextmanager
def admin_server(tmp_path: Path, db_url: str | None = None) -> Iterator[Admin]:
    home = tmp_path / "district"
    keys, district_admin = new_district(home, db_url)
    identity = Identity(keys.store.identity, district_code="74.08", cost=FAST)
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        user = f"{role}.user"
        identity.add_user(CLI, user_id=user, name=role.title(), role=role, password=PASSWORD)
        tokens[role] = identity.create_token(
            CLI, user_id=user, label=f"{role} tests", scopes=[], lifetime_s=86400
        ).text
    webhooks = Webhooks(keys.store.webhooks, identity)
    releases = ReleaseRepo.of_home(home)
    parts = AdminParts(identity=identity, admin=district_admin, store=keys.store,
                       webhooks=webhooks, releases=releases)  # fmt: skip
    served = [Keys.open(home, db_url), Keys.open(home, db_url)]
    service = DistrictService(served[0])
    app = build_app(service, FeedNotifier(served[1].store), admin=parts, releases=releases)
    try:
        with serving(lambda _port: app) as url:
            kiosk = Kiosk(url)
            assert kiosk.enroll(district_admin.new_enroll_code(OFFICE, valid_s=3600)).ok
            yield Admin(url, keys, identity, webhooks, kiosk, tokens, home)
    finally:
        for opened in (keys, *served):
            opened.store.close()
