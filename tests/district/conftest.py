"""A real district server on 127.0.0.1 (uvicorn, port 0) in a thread, and a kiosk client."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import FastAPI

from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.notifier import FeedNotifier
from district.service import DistrictService
from kiosk.b64 import b64u_encode
from kiosk.enroll import (
    EnrollRequest,
    enroll_request_body,
    parse_enroll_code,
    parse_enroll_response,
)
from kiosk.feed import parse_feed
from kiosk.keys import thumbprint
from kiosk.proof import AUTH_SCHEME, RequestFacts, make_proof
from kiosk.verify import TrustState, verify_head, verify_keyring
from tests.district import pglab


@dataclass
class Server:
    base_url: str
    home: Path
    keys: Keys
    admin: DistrictAdmin
    notifier: FeedNotifier
    app: FastAPI | None = None  # app.state.public_url: set it to serve behind a forwarder
    db_url: str | None = None  # the store's PostgreSQL database; None: SQLite in the home


@contextmanager
def serving(make_app: Callable[[int], FastAPI]) -> Iterator[str]:
    """Serve ``make_app(port)`` on 127.0.0.1 (a free port, bound first so the app can know
    it) in a thread, as ``run_server`` does (no proxy headers); yield the base URL."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        make_app(port), host="127.0.0.1", port=port, log_level="warning", lifespan="on",
        timeout_graceful_shutdown=1, proxy_headers=False,
    )  # fmt: skip
    uv = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(uv.serve(sockets=[sock]),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        loop.close()
        sock.close()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pglab.PgLab]:
    """One private PostgreSQL cluster for the session (skipped without its binaries)."""
    if (reason := pglab.missing()) is not None:
        pytest.skip(reason)
    with pglab.pg_lab() as lab:
        yield lab


@pytest.fixture
def pg_url(pg_cluster: pglab.PgLab) -> str:
    """The URL of a fresh, empty database in the session's cluster."""
    return pg_cluster.new_database()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``STORES = ("sqlite", "postgresql")`` runs each test using the
    ``server`` or ``db_url`` fixture once per store."""
    stores = getattr(metafunc.module, "STORES", None)
    if stores is None:
        return
    for name in ("server", "db_url"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, stores, indirect=True)
            return


def _db_url_for(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the home) unless the test is parametrized with "postgresql"."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        return None
    assert kind == "postgresql", kind
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def db_url(request: pytest.FixtureRequest) -> str | None:
    """Where the district's store lives: None for SQLite in the home, else a URL."""
    return _db_url_for(request)


def new_district(home: Path, db_url: str | None = None) -> tuple[Keys, DistrictAdmin]:
    """A district with one office (74.08.01.2002) in ``home`` (its store at ``db_url``
    when given): its keys and its admin."""
    DistrictAdmin.init(home, name="Disdukcapil Kolaka Utara", code="74.08", db_url=db_url)
    keys = Keys.open(home, db_url)
    admin = DistrictAdmin(keys)
    admin.add_office("74.08.01.2002", "Desa Pitulua")
    return keys, admin


def execute_raw(server: Server, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run one statement (``?`` placeholders) straight on the district's database, either
    store: the tests' way to age a row or flip a bit behind the server's back."""
    if server.db_url is None:
        with contextlib.closing(sqlite3.connect(server.home / "district.sqlite")) as db, db:
            db.execute(sql, params)
        return
    import psycopg

    with psycopg.connect(server.db_url) as conn:
        conn.execute(sql.replace("?", "%s").encode(), params)


def stored_bytes(home: Path, db_url: str | None) -> bytes:
    """Everything the store holds on disk (SQLite's files in ``home``, the WAL checkpointed
    first) or in its tables (PostgreSQL)."""
    if db_url is None:
        with contextlib.closing(sqlite3.connect(home / "district.sqlite")) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return b"".join(path.read_bytes() for path in home.glob("district.sqlite*"))
    import psycopg

    with psycopg.connect(db_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public'")]  # fmt: skip
        return b"".join(
            str(row[0]).encode() for table in tables
            for row in conn.execute(f'SELECT t::text FROM "{table}" t'.encode())
        )  # fmt: skip


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    db_url = _db_url_for(request)
    home = tmp_path / "district"
    keys, admin = new_district(home, db_url)
    served = [Keys.open(home, db_url), Keys.open(home, db_url)]
    notifier = FeedNotifier(served[0].store, listen_url=db_url)  # LISTEN on PostgreSQL
    app = build_app(DistrictService(served[1]), notifier)
    try:
        with serving(lambda _port: app) as base_url:
            yield Server(base_url, home, keys, admin, notifier, app, db_url)
    finally:
        for opened in (keys, *served):
            opened.store.close()


@dataclass
class Kiosk:
    """The kiosk side of the protocol, built from the pure core (the agent comes later)."""

    base_url: str
    auth: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seal: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    device_id: str = ""
    trust: TrustState | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def enroll(self, code_text: str) -> requests.Response:
        code = parse_enroll_code(code_text)
        nonce = b64u_encode(secrets.token_bytes(16))
        request = EnrollRequest(
            code.code_id, self.auth.public_key(), self.seal.public_key(), "cedoka/0.1.0", nonce
        )
        answer = self.session.post(
            self.base_url + "/v1/enroll", data=enroll_request_body(request, code), timeout=10
        )
        if answer.status_code == 200:
            response = parse_enroll_response(answer.content, code=code, nonce=nonce)
            keyring = verify_keyring(
                response.keyring_token, district_code=response.district_code,
                root_key=response.root_key, current=None,
            )  # fmt: skip
            self.device_id = response.device_id
            self.trust = TrustState(
                district_code=response.district_code, device_id=response.device_id,
                root_key=response.root_key, keyring=keyring, head=None, time_floor_s=0,
            )  # fmt: skip
        return answer

    @property
    def seal_keys(self) -> dict[str, X25519PrivateKey]:
        return {thumbprint(self.seal.public_key()): self.seal}

    def proof(
        self, method: str, target: str, body: bytes = b"", *, now_s: int | None = None
    ) -> str:
        facts = RequestFacts(self.base_url, method, target, body)
        token = make_proof(
            facts, device_id=self.device_id, key=self.auth,
            now_s=int(time.time()) if now_s is None else now_s,
            jti=b64u_encode(secrets.token_bytes(16)),
        )  # fmt: skip
        return f"{AUTH_SCHEME} {token.decode()}"

    def call(
        self, method: str, target: str, body: bytes = b"", **headers: str
    ) -> requests.Response:
        all_headers = {"Authorization": self.proof(method, target, body), **headers}
        return self.session.request(
            method, self.base_url + target, data=body or None, headers=all_headers, timeout=90
        )

    def feed(self, after: int = 0, kr: int = 1, wait: int = 0) -> requests.Response:
        return self.call("GET", f"/v1/feed?after={after}&kr={kr}&wait={wait}")

    def take_head(self, answer: requests.Response) -> None:
        from dataclasses import replace

        assert self.trust is not None
        feed = parse_feed(answer.content)
        head = verify_head(feed.head, trust=self.trust, local_now_s=int(time.time()))
        self.trust = replace(self.trust, head=head, time_floor_s=head.issued_at_s)


def enrolled(server: Server) -> Kiosk:
    kiosk = Kiosk(server.base_url)
    answer = kiosk.enroll(server.admin.new_enroll_code("74.08.01.2002", valid_s=3600))
    assert answer.status_code == 200, answer.text
    return kiosk
