"""The district server's trust edges (issue 14, items 10-13), over real HTTP where they are
reached that way: the proof audience comes from configuration, not from ``Host``; used
proofs stay refused across a restart; the enrolment rate limit is keyed on the real client
and cannot block everybody; the database is private, spent enrolment secrets are erased,
and attacker-controlled text cannot add fields to a log line."""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from district import cli, sqlite_store
from district.admin import DistrictAdmin
from district.http import build_app
from district.keyring import Keys
from district.logs import LogfmtFormatter
from district.notifier import FeedNotifier
from district.ratelimit import RateLimiter
from district.reach import LOOPBACK, PublicUrl, client_address, parse_public_url
from district.replay import ReplayCache, open_replay_cache, save_replay_cache
from district.service import DistrictService
from district.sqlite_store import SqliteStore
from kiosk.b64 import b64u_encode
from kiosk.enroll import EnrollRequest, enroll_request_body, parse_enroll_code
from kiosk.errors import RateLimitedError, Reason, RejectedError
from kiosk.proof import RequestFacts, make_proof
from kiosk.strictjson import canonical_dumps, loads_object
from tests.district.conftest import (
    Kiosk,
    Server,
    enrolled,
    new_district,
    serving,
    stored_bytes,
)

STORES = ("sqlite", "postgresql")  # every test using the server runs on both stores
OFFICE = "74.08.01.2002"
FEED = "/v1/feed?after=0&kr=1&wait=0"
T0 = 1_750_000_000


def _code(answer: requests.Response) -> str:
    return str(loads_object(answer.content, max_bytes=4096)["error"]["code"])  # type: ignore[index]


# --- item 10: the proof's audience is the configured public origin ----------------------


def test_a_proof_for_another_origin_is_refused_whatever_the_host_header(server: Server) -> None:
    kiosk = enrolled(server)
    evil = Kiosk("http://evil.example", auth=kiosk.auth, seal=kiosk.seal)
    evil.device_id = kiosk.device_id
    lines = _Lines()
    logger = logging.getLogger("cedoka.district")
    logger.addHandler(lines)
    try:
        answer = requests.get(
            server.base_url + FEED, timeout=10,
            headers={"Authorization": evil.proof("GET", FEED), "Host": "evil.example"},
        )  # fmt: skip
    finally:
        logger.removeHandler(lines)
    assert answer.status_code == 401 and _code(answer) == "proof_invalid"
    # The answer hides the precise reason; the log gives it, with the origin the server
    # expects (the clue when kiosks use a URL that --public-url does not name).
    [line] = [line for line in lines.lines if "event=proof_refused" in line]
    assert "reason=request_mismatch" in line and f"origin={server.base_url}" in line
    assert kiosk.feed().status_code == 200  # the server's own origin still passes


def test_a_public_url_with_a_path_prefix_is_prepended_to_the_target(tmp_path: Path) -> None:
    """Behind a proxy that strips ``/cedoka``: the kiosk signs ``/cedoka/v1/feed…``, the
    server sees ``/v1/feed…`` and checks the proof against the prefixed target."""
    home = tmp_path / "district"
    _, admin = new_district(home)

    def app(port: int) -> object:
        public = parse_public_url(f"http://127.0.0.1:{port}/cedoka")
        service = DistrictService(Keys.open(home))
        return build_app(service, FeedNotifier(Keys.open(home).store), public_url=public)

    with serving(app) as base_url:  # type: ignore[arg-type]
        kiosk = Kiosk(base_url)
        assert kiosk.enroll(admin.new_enroll_code(OFFICE, valid_s=3600)).status_code == 200
        signed = {"Authorization": kiosk.proof("GET", "/cedoka" + FEED)}
        assert requests.get(base_url + FEED, headers=signed, timeout=10).status_code == 200
        bare = {"Authorization": kiosk.proof("GET", FEED)}
        answer = requests.get(base_url + FEED, headers=bare, timeout=10)
        assert answer.status_code == 401 and _code(answer) == "proof_invalid"


@pytest.mark.parametrize(
    ("text", "origin", "prefix"),
    [
        ("https://cedoka.kolakautarakab.go.id", "https://cedoka.kolakautarakab.go.id", ""),
        ("https://Cedoka.Example:443/", "https://cedoka.example", ""),
        ("https://cedoka.example:8443/cedoka/", "https://cedoka.example:8443", "/cedoka"),
        ("http://127.0.0.1:8700", "http://127.0.0.1:8700", ""),
        ("http://[::1]:8700/a/b", "http://[::1]:8700", "/a/b"),
        ("http://localhost:80", "http://localhost", ""),
    ],
)
def test_parse_public_url(text: str, origin: str, prefix: str) -> None:
    assert parse_public_url(text) == PublicUrl(origin, prefix)


@pytest.mark.parametrize(
    "text",
    [
        "cedoka.example", "ftp://cedoka.example", "https://", "https://cedoka.example?x=1",
        "https://cedoka.example#top", "https://user@cedoka.example", "https://cedoka.example:0",
        "https://cedoka.example:99999", "http://cedoka.example", "http://10.0.0.1:8700",
        "https://cedoka.example/a b", "https://cedoka.example/a/../b", "https://ex ample",
        "https://cedoka_1.example",
    ],
)  # fmt: skip
def test_parse_public_url_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # the message is checked through the command line
        parse_public_url(text)


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    return tmp_path / "district"


def _serve_refused(home: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = cli.main(["--home", str(home), "serve", *argv])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_serve_beyond_loopback_needs_a_public_url(
    bare: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _serve_refused(bare, capsys, "--listen", "0.0.0.0:8443",
                         "--tls-cert", "missing.pem", "--tls-key", "missing.pem")  # fmt: skip
    assert "--public-url" in err


def test_serve_refuses_a_bad_public_url(bare: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _serve_refused(bare, capsys, "--listen", "127.0.0.1:8700",
                         "--public-url", "http://cedoka.example")  # fmt: skip
    assert "--public-url" in err and "https://" in err
    err = _serve_refused(bare, capsys, "--listen", "127.0.0.1:8700", "--trusted-proxy", "nginx")
    assert "--trusted-proxy" in err


# --- item 11: a used proof stays refused after a restart ---------------------------------


def _enrolled_service(home: Path, clock: list[float]) -> tuple[Keys, str, Kiosk]:
    keys, admin = new_district(home)
    code = parse_enroll_code(admin.new_enroll_code(OFFICE, valid_s=3600))
    kiosk = Kiosk("http://127.0.0.1:8700")
    nonce = b64u_encode(secrets.token_bytes(16))
    body = enroll_request_body(
        EnrollRequest(code.code_id, kiosk.auth.public_key(), kiosk.seal.public_key(),
                      "cedoka/0.1.0", nonce), code,
    )  # fmt: skip
    answer = DistrictService(keys, now=lambda: clock[0]).enroll(body, remote="192.0.2.1")
    kiosk.device_id = str(loads_object(answer, max_bytes=30_000)["device_id"])
    return keys, kiosk.device_id, kiosk


def _proof(kiosk: Kiosk, *, iat: int) -> bytes:
    facts = RequestFacts(kiosk.base_url, "GET", FEED, b"")
    jti = b64u_encode(secrets.token_bytes(16))
    return make_proof(facts, device_id=kiosk.device_id, key=kiosk.auth, now_s=iat, jti=jti)


def _authenticate(service: DistrictService, kiosk: Kiosk, token: bytes) -> Reason | None:
    try:
        service.authenticate(token, RequestFacts(kiosk.base_url, "GET", FEED, b""))
    except RejectedError as error:
        return error.reason
    return None


def test_after_a_crash_no_proof_the_lost_cache_could_have_held_is_accepted(
    tmp_path: Path,
) -> None:
    """A proof can be accepted from ``iat`` - 60 s to ``iat`` + 180 s. A cache that holds
    every proof accepted since second T cannot vouch for one with ``iat`` < T + 60."""
    clock = [float(T0)]
    keys, _, kiosk = _enrolled_service(tmp_path / "district", clock)
    state = tmp_path / "proof-replay.json"
    first = DistrictService(keys, now=lambda: clock[0],
                            replays=open_replay_cache(state, now_s=T0))  # fmt: skip
    used = _proof(kiosk, iat=T0 + 59)  # the kiosk's clock 59 s ahead: still accepted
    assert _authenticate(first, kiosk, used) is None
    # the process dies without saving its cache (a crash) and starts again, same second
    restarted = DistrictService(keys, now=lambda: clock[0],
                                replays=open_replay_cache(state, now_s=T0))  # fmt: skip
    assert _authenticate(restarted, kiosk, used) is Reason.REPLAYED
    clock[0] = T0 + 1
    assert _authenticate(restarted, kiosk, _proof(kiosk, iat=T0 + 60)) is Reason.REPLAYED
    assert _authenticate(restarted, kiosk, _proof(kiosk, iat=T0 + 61)) is None
    assert _authenticate(restarted, kiosk, used) is Reason.REPLAYED


def test_a_clean_stop_hands_its_cache_to_the_next_start(tmp_path: Path) -> None:
    clock = [float(T0)]
    keys, _, kiosk = _enrolled_service(tmp_path / "district", clock)
    state = tmp_path / "proof-replay.json"
    cache = open_replay_cache(state, now_s=T0)
    first = DistrictService(keys, now=lambda: clock[0], replays=cache)
    used = _proof(kiosk, iat=T0)
    assert _authenticate(first, kiosk, used) is None
    save_replay_cache(state, cache)
    late = _proof(kiosk, iat=T0)  # made before the stop, presented after it
    assert _authenticate(first, kiosk, late) is Reason.REPLAYED  # a stopped cache takes none
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    clock[0] = T0 + 5
    restarted = DistrictService(keys, now=lambda: clock[0],
                                replays=open_replay_cache(state, now_s=T0 + 5))  # fmt: skip
    assert _authenticate(restarted, kiosk, used) is Reason.REPLAYED
    assert _authenticate(restarted, kiosk, _proof(kiosk, iat=T0 + 5)) is None  # no outage


def test_a_proof_is_remembered_as_long_as_it_could_be_accepted(tmp_path: Path) -> None:
    """``iat`` 60 s ahead (the leeway) and a 120 s lifetime: acceptable until now + 240."""
    clock = [float(T0)]
    keys, _, kiosk = _enrolled_service(tmp_path / "district", clock)
    service = DistrictService(keys, now=lambda: clock[0])
    facts = RequestFacts(kiosk.base_url, "GET", FEED, b"")
    ahead = make_proof(facts, device_id=kiosk.device_id, key=kiosk.auth, now_s=T0 + 60,
                       jti=b64u_encode(secrets.token_bytes(16)), lifetime_s=120)  # fmt: skip
    assert _authenticate(service, kiosk, ahead) is None
    clock[0] = T0 + 239
    service.authenticate(_proof(kiosk, iat=T0 + 239), facts)  # the cache drops what expired
    assert _authenticate(service, kiosk, ahead) is Reason.REPLAYED
    clock[0] = T0 + 240
    assert _authenticate(service, kiosk, ahead) is Reason.EXPIRED


@pytest.mark.parametrize("content", [b"", b"{", b'{"v":1,"state":"closed"}', b"\xff" * 10])
def test_an_unreadable_replay_state_counts_as_a_crash(tmp_path: Path, content: bytes) -> None:
    state = tmp_path / "proof-replay.json"
    state.write_bytes(content)
    assert open_replay_cache(state, now_s=T0).since_s == T0 + 1


def test_the_first_start_of_a_home_has_nothing_to_fear(tmp_path: Path) -> None:
    assert open_replay_cache(tmp_path / "proof-replay.json", now_s=T0).since_s is None
    assert ReplayCache().since_s is None


# --- item 12: the enrolment rate limit ---------------------------------------------------


def _enrol_attempt(base_url: str, code_id: str, **headers: str) -> int:
    body = canonical_dumps({"v": 1, "code_id": code_id, "mac": "x"})
    return requests.post(
        base_url + "/v1/enroll", data=body, headers=headers, timeout=10
    ).status_code


def _code_ids(count: int) -> list[str]:
    return [f"ZZZ{n // 10}{n % 10}" for n in range(count)]


def test_a_proxy_without_forwarded_for_does_not_block_all_enrolment(server: Server) -> None:
    """The server on loopback sits behind a local TLS proxy; without X-Forwarded-For every
    kiosk has the proxy's address: that address must not be limited as one client."""
    assert [_enrol_attempt(server.base_url, c) for c in _code_ids(12)] == [403] * 12
    enrolled(server)


def test_the_client_behind_a_trusted_proxy_is_limited_by_its_own_address(server: Server) -> None:
    ids = iter(_code_ids(20))
    client = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(10):
        assert _enrol_attempt(server.base_url, next(ids), **client) == 403
    assert _enrol_attempt(server.base_url, next(ids), **client) == 429
    # a spoofed address in front of the one the proxy appended changes nothing
    spoofed = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    assert _enrol_attempt(server.base_url, next(ids), **spoofed) == 429
    assert _enrol_attempt(server.base_url, next(ids), **{"X-Forwarded-For": "203.0.113.8"}) == 403
    enrolled(server)


def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    home = tmp_path / "district"
    new_district(home)

    def app(_port: int) -> object:
        service = DistrictService(Keys.open(home))
        return build_app(service, FeedNotifier(Keys.open(home).store), trusted_proxies=())

    with serving(app) as base_url:  # type: ignore[arg-type]
        statuses = [
            _enrol_attempt(base_url, code_id, **{"X-Forwarded-For": f"203.0.113.{n}"})
            for n, code_id in enumerate(_code_ids(11))
        ]
    assert statuses == [403] * 10 + [429]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("192.0.2.9", [], "192.0.2.9"),  # a direct client
        ("192.0.2.9", ["203.0.113.7"], "192.0.2.9"),  # not from a proxy: the header is noise
        ("127.0.0.1", [], None),  # a proxy that says nothing: no address to limit
        ("127.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        ("::1", ["198.51.100.1, 203.0.113.7"], "203.0.113.7"),  # right-most untrusted
        ("127.0.0.1", ["198.51.100.1", "203.0.113.7, 127.0.0.2"], "203.0.113.7"),
        ("127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("127.0.0.1", ["unknown"], None),  # not an address: nothing to key on
        ("127.0.0.1", ["127.0.0.5"], None),  # only proxies: a local client
        (None, [], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str | None) -> None:
    assert client_address(peer, forwarded, LOOPBACK) == client


def test_the_rate_limit_table_is_bounded_and_forgets_old_windows() -> None:
    limiter = RateLimiter(per_minute=2, max_keys=3)
    for n in range(10):
        limiter.hit(f"k{n}", now_s=100.0)
        assert len(limiter) <= 3
    limiter.hit("a", now_s=200.0)
    limiter.hit("a", now_s=200.5)
    with pytest.raises(RateLimitedError) as caught:
        limiter.hit("a", now_s=201.0)
    assert caught.value.retry_after_s == 60
    assert len(limiter) == 1  # the windows of minute-old keys were dropped
    limiter.hit("a", now_s=261.0)  # a minute later: allowed again


def test_a_full_table_forgets_the_key_seen_least_recently() -> None:
    """A client at its limit that keeps trying stays remembered while new keys arrive."""
    limiter = RateLimiter(per_minute=2, max_keys=2)
    limiter.hit("busy", now_s=0.0)
    limiter.hit("busy", now_s=1.0)
    limiter.hit("x", now_s=2.0)
    with pytest.raises(RateLimitedError):
        limiter.hit("busy", now_s=2.5)
    limiter.hit("y", now_s=3.0)  # full: "x" goes
    with pytest.raises(RateLimitedError):
        limiter.hit("busy", now_s=4.0)
    limiter.hit("x", now_s=5.0)
    limiter.hit("x", now_s=5.0)  # a fresh window: "x" was forgotten


# --- item 13: files, secrets and logs ----------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_the_database_and_its_wal_and_shm_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "district.sqlite"
    store = SqliteStore(path)
    store.set_meta("k", "v")  # a write: the -wal and -shm files exist while it is open
    try:
        for suffix in ("", "-wal", "-shm"):
            assert _mode(Path(f"{path}{suffix}")) == 0o600, suffix
    finally:
        store.close()


@pytest.mark.usefixtures("umask_022")
def test_an_existing_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "district.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").chmod(0o644)
    store = SqliteStore(path)
    try:
        for suffix in ("", "-wal", "-shm"):
            assert _mode(Path(f"{path}{suffix}")) == 0o600, suffix
    finally:
        store.close()
        conn.close()


@pytest.mark.usefixtures("umask_022")
def test_the_command_line_creates_private_files(tmp_path: Path) -> None:
    home = tmp_path / "district"
    assert cli.main(["--home", str(home), "init", "--name", "Disdukcapil", "--code", "74.08"]) == 0
    assert os.umask(0o022) == 0o022  # restored after the command
    for path in home.rglob("*"):
        assert _mode(path) & 0o077 == 0, path


def _secret_stored(server: Server, code_id: str) -> str:
    row = server.keys.store.enroll_code(code_id)
    assert row is not None
    return row.secret


def test_an_enrolment_secret_is_erased_once_used_and_a_retry_still_answered(
    server: Server,
) -> None:
    code = parse_enroll_code(server.admin.new_enroll_code(OFFICE, valid_s=3600))
    kiosk = Kiosk(server.base_url)
    body = enroll_request_body(
        EnrollRequest(code.code_id, kiosk.auth.public_key(), kiosk.seal.public_key(),
                      "cedoka/0.1.0", b64u_encode(secrets.token_bytes(16))), code,
    )  # fmt: skip
    first = kiosk.session.post(server.base_url + "/v1/enroll", data=body, timeout=10)
    assert first.status_code == 200
    assert _secret_stored(server, code.code_id) == ""
    # the same members, serialized otherwise: a retry after a lost answer
    retry = canonical_dumps(loads_object(body, max_bytes=30_000)).replace(b"{", b"{ ", 1)
    again = kiosk.session.post(server.base_url + "/v1/enroll", data=retry, timeout=10)
    assert again.status_code == 200 and again.content == first.content
    other = Kiosk(server.base_url)  # valid members, other keys: refused as before
    answer = other.enroll(code.text())
    assert answer.status_code == 403 and _code(answer) == "enroll_code_invalid"
    # nowhere in the database either (SQLite: its files, freed space zeroed, the WAL
    # checkpointed; PostgreSQL: every table)
    assert code.secret.encode() not in stored_bytes(server.home, server.db_url)


def test_expired_enrolment_secrets_are_erased(tmp_path: Path) -> None:
    keys, admin = new_district(tmp_path / "district")
    code = parse_enroll_code(admin.new_enroll_code(OFFICE, valid_s=3600))
    row = keys.store.enroll_code(code.code_id)
    assert row is not None and row.secret == code.secret
    DistrictService(keys, now=lambda: row.expires_s - 1)  # start-up sweep: not yet expired
    assert keys.store.enroll_code(code.code_id).secret == code.secret  # type: ignore[union-attr]
    DistrictService(keys, now=lambda: row.expires_s)  # the sweep at start-up
    assert keys.store.enroll_code(code.code_id).secret == ""  # type: ignore[union-attr]


def test_an_older_database_loses_the_secrets_of_codes_used_before_the_upgrade(
    tmp_path: Path,
) -> None:
    path = tmp_path / "district.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(f"{sqlite_store._SCHEMA}{sqlite_store._SCHEMA_V2}PRAGMA user_version = 2;")
    conn.execute("INSERT INTO offices VALUES (?, ?, ?)", (OFFICE, "Desa Pitulua", T0))
    for code_id, consumed in (("USED0", T0), ("FRESH", None)):
        conn.execute("INSERT INTO enroll_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (code_id, "S" * 20, OFFICE, T0, T0 + 3600, consumed, None, None))  # fmt: skip
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        used, fresh = store.enroll_code("USED0"), store.enroll_code("FRESH")
        assert used is not None and used.secret == "" and used.request_digest is None
        assert fresh is not None and fresh.secret == "S" * 20
        version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
        assert version == sqlite_store.SCHEMA_VERSION == 7
    finally:
        store.close()


def test_a_running_server_erases_expired_secrets_within_a_minute(tmp_path: Path) -> None:
    clock = [float(T0)]
    keys, _, kiosk = _enrolled_service(tmp_path / "district", clock)
    service = DistrictService(keys, now=lambda: clock[0])
    code = parse_enroll_code(DistrictAdmin(keys).new_enroll_code(OFFICE, valid_s=3600))
    row = keys.store.enroll_code(code.code_id)
    assert row is not None
    clock[0] = row.expires_s + 60  # expired; a kiosk's request runs the sweep
    assert _authenticate(service, kiosk, _proof(kiosk, iat=int(clock[0]))) is None
    assert keys.store.enroll_code(code.code_id).secret == ""  # type: ignore[union-attr]


_PAIR = re.compile(r'([a-z_]+)=([A-Za-z0-9_.:/@+\-]+|"(?:[^"\\]|\\.)*")')


def _fields(line: str) -> list[str]:
    """The keys of one logfmt line; fails unless the whole line is ``key=value`` pairs."""
    keys, at = [], 0
    for match in _PAIR.finditer(line):
        assert match.start() == at, f"not logfmt at {at}: {line!r}"
        keys.append(match.group(1))
        at = match.end() + 1
    assert at == len(line) + 1, line
    return keys


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(LogfmtFormatter(journald=False))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.mark.parametrize(
    "path",
    ["/v1/feed%20level=error", "/v1/x%0Alevel=critical%20event=forged", '/v1/a"b%22%5C'],
)
def test_a_request_path_cannot_add_a_field_to_the_log_line(server: Server, path: str) -> None:
    lines = _Lines()
    logger = logging.getLogger("cedoka.district")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        requests.get(server.base_url + path, timeout=10)
    finally:
        logger.removeHandler(lines)
        logger.setLevel(logging.NOTSET)
    [line] = [line for line in lines.lines if "event=request" in line]
    assert "\n" not in line
    assert _fields(line) == ["ts", "level", "logger", "event", "method", "path", "status",
                             "device", "ms"]  # fmt: skip


def test_event_arguments_are_escaped_and_numbers_kept() -> None:
    record = logging.LogRecord(
        "cedoka.district", logging.WARNING, __file__, 1,
        "event=x path=%s status=%d ms=%.1f who=%s", ("/a b=c", 404, 1.25, None), None,
    )  # fmt: skip
    line = LogfmtFormatter(journald=True).format(record)
    assert line == (
        '<4>level=warning logger=cedoka.district event=x path="/a b=c" status=404 ms=1.2 who=None'
    )
