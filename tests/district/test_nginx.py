"""The shipped nginx site (deploy/nginx/cedoka-district.conf, ADR 0028) in front of two real
``cedoka-district serve`` processes on one PostgreSQL database.

A real nginx from Debian runs in a private prefix in a temporary directory, with the SAME
site file (only its ports, certificate and log paths substituted: each substitution must
find its text, so a change to the shipped file that drifts from the test fails here) and a
throwaway self-signed certificate. Everything goes through it over TLS, from two client
addresses (127.0.0.x are all loopback: a client binds its source address to be another
client): enrolment and a long-poll woken by a push made through the admin API, the kiosks
spread over both processes and each kept on one, a blob's range request, the body and header
limits, the client address the server sees, and a process killed under a kiosk.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pypdf import PdfWriter
from requests.adapters import HTTPAdapter

from district.admin_http import MAX_PUSH_BYTES
from district.http import MAX_BODY_BYTES, MAX_WAIT_S
from district.identity import CLI as BY_CLI
from district.identity import Identity
from district.keyring import Keys
from district.regions import MAX_CSV_BYTES
from kiosk.access import Argon2Cost
from kiosk.feed import parse_feed
from kiosk.model import VerifiedJob
from kiosk.verify import verify_document, verify_manifest
from tests.district import pglab
from tests.district.adminlab import push_form
from tests.district.conftest import Kiosk

pytestmark = pytest.mark.loopback

CLI = Path(sys.executable).parent / "cedoka-district"
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "cedoka-district.conf"
OFFICE = "74.08.01.2002"
MIB = 1024 * 1024


def _nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def render_site(
    text: str, *, https_port: int, http_port: int, upstreams: list[int], cert: Path,
    key: Path, logs: Path,
) -> str:  # fmt: skip
    """The shipped site with this run's ports and paths: every text replaced must be there."""
    replacements = [
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("return 308 https://cedoka.example.go.id$request_uri",
         f"return 308 https://127.0.0.1:{https_port}$request_uri"),
        ("server 127.0.0.1:8701 ", f"server 127.0.0.1:{upstreams[0]} "),
        ("server 127.0.0.1:8702 ", f"server 127.0.0.1:{upstreams[1]} "),
        ("/etc/cedoka/tls/fullchain.pem", str(cert)),
        ("/etc/cedoka/tls/privkey.pem", str(key)),
        ("/var/log/nginx/", f"{logs}/"),
    ]  # fmt: skip
    for old, new in replacements:
        assert old in text, f"{SITE.name} no longer holds {old!r}: update the test with it"
        text = text.replace(old, new)
    return text


def _main_conf(prefix: Path, site: Path) -> str:
    """nginx.conf of the private instance: foreground, its files in ``prefix``."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers reach the tmp dirs
    temps = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {prefix / 'access.log'};\n{temps}\n    include {site};\n}}\n"
    )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A TEST-ONLY certificate for 127.0.0.1 (generated per run, never committed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "test-only-cert.pem", directory / "test-only-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class FromAddress(HTTPAdapter):
    """Connections from one loopback source address: nginx sees another client."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str, cert: Path) -> requests.Session:
    session = requests.Session()
    session.mount("https://", FromAddress(source))
    session.mount("http://", FromAddress(source))
    session.verify = str(cert)
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies from the environment: not here
    return session


@dataclass
class Upstream:
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def lines(self, pattern: str) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if re.search(pattern, line)]


@dataclass
class Stack:
    url: str  # https://127.0.0.1:PORT: what the kiosks use and the servers' --public-url
    http_url: str
    cert: Path
    upstreams: list[Upstream]
    operator_token: str
    db_env: dict[str, str]
    home: Path
    access_log: Path
    clients: dict[str, requests.Session] = field(default_factory=dict)

    def session(self, source: str = "127.0.0.1") -> requests.Session:
        if source not in self.clients:
            self.clients[source] = session_from(source, self.cert)
        return self.clients[source]

    def kiosk(self, source: str) -> Kiosk:
        kiosk = Kiosk(self.url, session=self.session(source))
        code = subprocess.run(
            [str(CLI), "--home", str(self.home), "enroll-code", OFFICE], capture_output=True,
            text=True, timeout=60, check=True, env=self.db_env,
        ).stdout.strip()  # fmt: skip
        answer = kiosk.enroll(code)
        assert answer.status_code == 200, answer.text
        return kiosk

    def serving(self, device_id: str) -> list[int]:
        """Which upstreams (their index) have answered this device."""
        pattern = rf"event=request .*device={device_id}"
        return [i for i, up in enumerate(self.upstreams) if up.lines(pattern)]

    def reached(self, path: str) -> int:
        """How many requests for ``path`` the processes have answered."""
        return sum(
            len(up.lines(rf"event=request method=\w+ path={path} ")) for up in self.upstreams
        )

    def source_for(self, upstream: int) -> str:
        """A client address whose requests without a proof nginx sends to ``upstream`` (it
        hashes them on the address): found by asking, as the access log tells."""
        port = self.upstreams[upstream].port
        for last in range(100, 140):
            source = f"127.0.0.{last}"
            assert self.session(source).get(self.url + "/healthz", timeout=10).ok
            pattern = rf"^{re.escape(source)} .*GET /healthz.* upstream=127\.0\.0\.1:(\d+) "
            deadline = time.monotonic() + 5
            while not (seen := re.findall(pattern, self.access_log.read_text(), re.MULTILINE)):
                assert time.monotonic() < deadline, f"no access log line for {source}"
                time.sleep(0.02)  # the line is written just after the answer
            if int(seen[-1]) == port:
                return source
        raise AssertionError(f"no client address of 40 hashed to upstream {upstream}")

    def admin(
        self, method: str, path: str, source: str = "127.0.0.1", **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.operator_token}", **kwargs.pop("headers", {})}
        return self.session(source).request(
            method, self.url + "/admin/v1" + path, headers=headers, timeout=60, **kwargs
        )


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path, verify: str | bool) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(url, timeout=1, verify=verify).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _new_district(base: Path, db_url: str, env: dict[str, str]) -> tuple[list[Path], str]:
    """A district on ``db_url`` with one office: the home both processes share (the
    replay cache and the rate limits are in PostgreSQL, ADR 0027), twice, and an
    operator's API token."""
    home = base / "district"
    for argv in (["init", "--name", "Disdukcapil Kolaka Utara", "--code", "74.08"],
                 ["office", "add", OFFICE, "--name", "Desa Pitulua"]):  # fmt: skip
        subprocess.run([str(CLI), "--home", str(home), *argv], capture_output=True,
                       timeout=60, check=True, env=env)  # fmt: skip
    keys = Keys.open(home, db_url)
    try:
        identity = Identity(keys.store.identity, district_code="74.08",
                            cost=Argon2Cost(memory_kib=1024, passes=1, lanes=1))  # fmt: skip
        identity.add_user(BY_CLI, user_id="operator.user", name="Operator", role="operator",
                          password="kolaka-utara-2026")  # fmt: skip
        token = identity.create_token(BY_CLI, user_id="operator.user", label="nginx test",
                                      scopes=[], lifetime_s=86400).text  # fmt: skip
    finally:
        keys.store.close()
    return [home, home], token


def _start_serve(up: Upstream, home: Path, public_url: str, env: dict[str, str]) -> None:
    """``cedoka-district serve`` as the site file expects it: loopback, the public URL,
    nginx as the trusted proxy."""
    with up.log.open("ab") as out:
        up.proc = subprocess.Popen(
            [str(CLI), "--home", str(home), "serve", "--listen", f"127.0.0.1:{up.port}",
             "--public-url", public_url, "--trusted-proxy", "127.0.0.1/32"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip


def _start_nginx(nginx: str, prefix: Path, site: str) -> subprocess.Popen[bytes]:
    """The private nginx in ``prefix`` with ``site``, checked first (``nginx -t``)."""
    (prefix / "logs").mkdir(parents=True)
    (prefix / "cedoka-district.conf").write_text(site)
    conf = prefix / "nginx.conf"
    conf.write_text(_main_conf(prefix, prefix / "cedoka-district.conf"))
    argv = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30,
                           check=False)  # fmt: skip
    assert check.returncode == 0, check.stderr
    with (prefix / "stderr.log").open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    nginx = _nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx; install.sh --test does)")
    assert CLI.exists(), f"{CLI} missing: the package is not installed in this venv"
    lab: pglab.PgLab = request.getfixturevalue("pg_cluster")  # skips without PostgreSQL
    db_url = lab.new_database()
    env = {**os.environ, "CEDOKA_DISTRICT_HOME": "", "CEDOKA_DISTRICT_DB": db_url}
    base = tmp_path_factory.mktemp("nginx")
    homes, token = _new_district(base, db_url, env)
    https_port, http_port = _free_port(), _free_port()
    url = f"https://127.0.0.1:{https_port}"
    upstreams = [Upstream(_free_port(), base / f"serve-{i}.log") for i in range(2)]
    cert, key = _self_signed(base)
    site = render_site(
        SITE.read_text(), https_port=https_port, http_port=http_port,
        upstreams=[u.port for u in upstreams], cert=cert, key=key, logs=base / "nginx" / "logs",
    )  # fmt: skip
    proxy: subprocess.Popen[bytes] | None = None
    stack = Stack(url, f"http://127.0.0.1:{http_port}", cert, upstreams, token, env, homes[0],
                  base / "nginx" / "logs" / "cedoka-district.access.log")  # fmt: skip
    try:
        for up, home in zip(upstreams, homes, strict=True):
            _start_serve(up, home, url, env)
        for up in upstreams:
            assert up.proc is not None
            _wait_up(f"http://127.0.0.1:{up.port}/readyz", up.proc, up.log, False)
        proxy = _start_nginx(nginx, base / "nginx", site)
        _wait_up(url + "/healthz", proxy, base / "nginx" / "error.log", str(cert))
        yield stack
    finally:
        for session in stack.clients.values():
            session.close()
        _stop(proxy, signal.SIGQUIT)  # nginx: graceful stop
        for up in upstreams:
            _stop(up.proc)


def _directives(text: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name}\s+([^;]+);", text, re.MULTILINE)


def _bytes(size: str) -> int:
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


def test_the_site_s_limits_are_the_server_s() -> None:
    """No nginx needed: the shipped numbers agree with the code's (a cap changed in the
    server and not in the site would refuse real pushes, or let bigger bodies through)."""
    site = SITE.read_text()
    locations = dict(re.findall(r"location\s+(?:=\s+)?(\S+)\s*\{([^}]*)\}", site))
    server_cap = {_bytes(v) for v in _directives(site, "client_max_body_size")} - {
        _bytes(v) for body in locations.values() for v in _directives(body, "client_max_body_size")
    }
    assert server_cap == {MAX_BODY_BYTES}
    assert _directives(locations["/admin/v1/jobs"], "client_max_body_size") == [str(MAX_PUSH_BYTES)]
    [csv_cap] = _directives(locations["/admin/v1/offices/import"], "client_max_body_size")
    assert _bytes(csv_cap) == MAX_CSV_BYTES
    # a feed is held up to 60 s before its first byte; idle upstream connections are closed
    # by nginx before uvicorn's keep-alive timeout closes them under a request
    [read_timeout] = _directives(site, "proxy_read_timeout")
    assert int(read_timeout.removesuffix("s")) > MAX_WAIT_S
    upstream = re.search(r"upstream cedoka_district \{([^}]*)\}", site)
    assert upstream is not None
    [upstream_idle] = _directives(upstream.group(1), "keepalive_timeout")
    assert int(upstream_idle.removesuffix("s")) < 75  # run_server's timeout_keep_alive


def test_the_site_passes_nginx_t_inside_debian_s_own_nginx_conf(tmp_path: Path) -> None:
    """Installed as the operations guide says, into Debian's nginx.conf (its http-level
    gzip, ssl_protocols, log paths): ``nginx -t`` accepts it. Only the certificate and the
    log and pid paths are replaced (the check opens them)."""
    nginx, debian = _nginx(), Path("/etc/nginx/nginx.conf")
    if nginx is None or not debian.is_file():
        pytest.skip("nginx from Debian is not installed (apt-get install nginx)")
    cert, key = _self_signed(tmp_path)
    site = tmp_path / "cedoka-district"
    site.write_text(
        SITE.read_text()
        .replace("/etc/cedoka/tls/fullchain.pem", str(cert))
        .replace("/etc/cedoka/tls/privkey.pem", str(key))
        .replace("/var/log/nginx/", f"{tmp_path}/")
    )
    main = debian.read_text()
    assert "include /etc/nginx/sites-enabled/*;" in main
    main = main.replace("include /etc/nginx/sites-enabled/*;", f"include {site};")
    main = re.sub(r"(?m)^pid .*$", f"pid {tmp_path}/nginx.pid;", main)
    conf = tmp_path / "nginx.conf"
    conf.write_text(main.replace("/var/log/nginx/", f"{tmp_path}/"))
    check = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr
    warnings = [line for line in check.stderr.splitlines()
                if "[warn]" in line and '"user" directive' not in line]  # fmt: skip
    assert warnings == [], check.stderr  # e.g. a duplicate or conflicting setting


def _error_code(answer: requests.Response) -> str:
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    return str(answer.json()["error"]["code"])


def _big_pdf() -> bytes:
    """A one-page A4 PDF of about 3 MiB (random metadata: nothing compresses it)."""
    writer = PdfWriter()
    writer.add_blank_page(width=595.28, height=841.89)
    writer.add_metadata({"/Title": "TEST DOCUMENT", "/Keywords": secrets.token_hex(MIB + MIB // 2)})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_a_kiosk_enrols_and_a_push_through_the_admin_api_wakes_its_long_poll(
    stack: Stack,
) -> None:
    kiosk = stack.kiosk("127.0.0.11")
    first = kiosk.feed(wait=0)
    assert first.status_code == 200, first.text
    kiosk.take_head(first)
    assert kiosk.trust is not None and kiosk.trust.head is not None
    after = kiosk.trust.head.seq
    answers: list[tuple[requests.Response, float]] = []

    def poll() -> None:
        answer = kiosk.feed(after=after, wait=30)
        answers.append((answer, time.monotonic()))

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)  # the poll is held on its process
    [held_on] = stack.serving(kiosk.device_id)
    # pushed through the other process: its change reaches the held poll through the database
    source = stack.source_for(1 - held_on)
    data, files = push_form(2)
    big = _big_pdf()  # over 1 MiB: the push's own body cap; its blob streams in 13 chunks
    files[0] = ("document", ("big.pdf", big, "application/pdf"))
    pushed = stack.admin("POST", "/jobs", source, data=data, files=files)
    pushed_at = time.monotonic()
    assert pushed.status_code == 201, pushed.text
    waiting.join(timeout=40)
    [(answer, answered_at)] = answers
    assert answer.status_code == 200, answer.text
    assert answered_at - pushed_at < 2.0  # woken, not the end of the 30 s wait
    assert stack.upstreams[1 - held_on].lines("path=/admin/v1/jobs status=201")
    kiosk.take_head(answer)
    [token] = parse_feed(answer.content).jobs
    assert kiosk.trust is not None
    job = verify_manifest(
        token, trust=kiosk.trust, local_now_s=int(time.time()), is_known=lambda _: False,
        seal_keys=kiosk.seal_keys,
    )  # fmt: skip
    assert job.manifest.job_id == pushed.json()["job_id"]

    doc = job.manifest.documents[0]
    assert doc.sealed_size > len(big) > 3 * MIB
    _check_blob_through_nginx(kiosk, job, doc.doc_id, doc.sealed_size)
    # neither the 3 MiB push (a resident's PDF) nor the blob touched nginx's temporary files
    errors = stack.access_log.with_name("cedoka-district.error.log")
    assert "temporary file" not in (errors.read_text() if errors.exists() else "")


def _check_blob_through_nginx(kiosk: Kiosk, job: VerifiedJob, doc_id: str, size: int) -> None:
    """The blob streams through whole, then a resumed download gets exactly the rest."""
    target = f"/v1/blobs/{job.manifest.job_id}/{doc_id}"
    whole = kiosk.call("GET", target)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert "content-encoding" not in whole.headers
    assert int(whole.headers["content-length"]) == len(whole.content) == size
    assert verify_document(job, doc_id, whole.content, seal_keys=kiosk.seal_keys)
    etag, start = whole.headers["etag"], len(whole.content) // 3
    rest = kiosk.call("GET", target, b"", Range=f"bytes={start}-", **{"If-Range": etag})
    assert rest.status_code == 206, rest.text
    assert rest.headers["content-range"] == f"bytes {start}-{size - 1}/{size}"
    assert rest.headers["etag"] == etag
    assert rest.content == whole.content[start:]
    changed = kiosk.call("GET", target, b"", Range=f"bytes={start}-", **{"If-Range": '"other"'})
    assert changed.status_code == 200 and changed.content == whole.content
    beyond = kiosk.call("GET", target, Range=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"


def test_proofs_are_checked_against_the_public_url_whatever_host_says(stack: Stack) -> None:
    kiosk = stack.kiosk("127.0.0.8")
    assert kiosk.call("GET", "/v1/feed?after=0&kr=1&wait=0", Host="other.example").ok
    # a proof signed for another origin is refused, even with that origin as Host
    elsewhere = replace(kiosk, base_url="https://other.example")
    proof = elsewhere.proof("GET", "/v1/feed?after=0&kr=1&wait=0")
    answer = kiosk.session.get(
        stack.url + "/v1/feed?after=0&kr=1&wait=0", timeout=10,
        headers={"Authorization": proof, "Host": "other.example"},
    )  # fmt: skip
    assert answer.status_code == 401 and _error_code(answer) == "proof_invalid"


def test_kiosks_spread_over_both_processes_and_each_stays_on_one(stack: Stack) -> None:
    seen: dict[str, list[int]] = {}
    for i in range(24):  # hashed on the device: all on one process has odds 2^-23
        kiosk = stack.kiosk(f"127.0.0.{20 + i}")
        for _ in range(3):
            assert kiosk.feed(wait=0).status_code == 200
        seen[kiosk.device_id] = stack.serving(kiosk.device_id)
        if {tuple(s) for s in seen.values()} == {(0,), (1,)}:
            break
    assert all(len(where) == 1 for where in seen.values()), seen  # every poll: one process
    assert {where[0] for where in seen.values()} == {0, 1}, seen


def test_the_body_limits_are_nginx_s_before_the_server_s(stack: Stack) -> None:
    session = stack.session("127.0.0.5")
    reached = stack.reached("/v1/events")

    # exactly 1 MiB passes nginx: the server answers it (here: no proof)
    answer = session.post(stack.url + "/v1/events", data=b"x" * MIB, timeout=30)
    assert answer.status_code == 401 and _error_code(answer) == "proof_invalid"
    time.sleep(0.2)
    assert stack.reached("/v1/events") == reached + 1
    # one byte more is nginx's own 413, with the protocol's error body, never sent on
    answer = session.post(stack.url + "/v1/events", data=b"x" * (MIB + 1), timeout=30)
    assert answer.status_code == 413 and _error_code(answer) == "too_large"
    time.sleep(0.2)
    assert stack.reached("/v1/events") == reached + 1

    # the region import takes 16 MiB: 2 MiB reaches the server, which reads it all. (One
    # that answers before reading a streamed body, e.g. 401 without a token, closes the
    # connection under nginx's feet: nginx may then answer 503 instead.)
    rows = b"kode,nama,level,jenis\n" + b"".join(
        b"16.12.99.%04d,DESA %d,4,desa\n" % (i % 10000, i) for i in range(80_000)
    )  # another regency's villages: read, counted, not added
    assert 2 * MIB < len(rows) < 16 * MIB
    answer = stack.admin("POST", "/offices/import", "127.0.0.5", data=rows,
                         headers={"Content-Type": "text/csv"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    answer = session.post(stack.url + "/admin/v1/offices/import", data=b"x" * (16 * MIB + 1),
                          timeout=30)  # fmt: skip
    assert answer.status_code == 413 and _error_code(answer) == "too_large"


def test_header_limits_metrics_and_plain_http(stack: Stack) -> None:
    session = stack.session("127.0.0.6")
    # an Authorization as long as a proof can be (4 096 bytes) reaches the server
    proof = "CedokaProof " + ".".join(["a" * 2000, "a" * 2000, "a" * 94])
    before = stack.reached("/v1/feed")
    answer = session.get(stack.url + "/v1/feed?after=0&kr=1&wait=0",
                         headers={"Authorization": proof}, timeout=10)  # fmt: skip
    assert answer.status_code >= 400 and _error_code(answer)  # the server refuses it, not nginx
    assert stack.reached("/v1/feed") == before + 1
    # a header field over 8 KiB is refused by nginx
    answer = session.get(stack.url + "/healthz", headers={"X-Pad": "a" * 9000}, timeout=10)
    assert answer.status_code == 400 and _error_code(answer) == "malformed"
    answer = session.get(stack.url + "/healthz?" + "a" * 9000, timeout=10)
    assert answer.status_code == 414  # a request line over 8 KiB: nginx's own page

    # /metrics only from the allow list (127.0.0.1), health checks from anywhere
    assert session.get(stack.url + "/metrics", timeout=10).status_code == 403
    metrics = stack.session("127.0.0.1").get(stack.url + "/metrics", timeout=10)
    assert metrics.status_code == 200 and "cedoka_kiosks" in metrics.text
    assert session.get(stack.url + "/readyz", timeout=10).json() == {"status": "ready"}
    assert session.get(stack.url + "/healthz", timeout=10).status_code == 200

    plain = session.get(stack.http_url + "/console/", allow_redirects=False, timeout=10)
    assert plain.status_code == 308 and plain.headers["location"] == stack.url + "/console/"


def test_the_console_signs_in_through_nginx_and_its_session_works_on_either_process(
    stack: Stack,
) -> None:
    page = stack.session("127.0.0.7").get(stack.url + "/console/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    first, second = stack.source_for(0), stack.source_for(1)
    signed_in = stack.session(first).post(
        stack.url + "/admin/v1/session", timeout=30, headers={"Origin": stack.url},
        json={"user_id": "operator.user", "password": "kolaka-utara-2026"},
    )  # fmt: skip
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("__Host-cedoka_session=") and "Secure" in cookie  # https origin
    session_id = cookie.split(";", 1)[0]
    change = stack.session(second).post(
        stack.url + f"/admin/v1/offices/{OFFICE}/enroll-codes", json={"valid_s": 3600},
        headers={"Cookie": session_id, "X-CSRF-Token": signed_in.json()["csrf"],
                 "Origin": stack.url},
        timeout=30,
    )  # fmt: skip
    assert change.status_code == 201, change.text
    assert stack.upstreams[0].lines("path=/admin/v1/session status=200")
    assert stack.upstreams[1].lines(rf"path=/admin/v1/offices/{re.escape(OFFICE)}/enroll-codes")
    # another origin is refused, whatever Host nginx passes
    forged = stack.session(second).post(
        stack.url + f"/admin/v1/offices/{OFFICE}/enroll-codes", json={"valid_s": 3600},
        headers={"Cookie": session_id, "X-CSRF-Token": signed_in.json()["csrf"],
                 "Origin": "https://evil.example"},
        timeout=30,
    )  # fmt: skip
    assert forged.status_code == 403, forged.text


def test_tls_1_2_and_1_3_only(stack: Stack) -> None:
    port = int(stack.url.rsplit(":", 1)[1])
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        context = ssl.create_default_context(cafile=str(stack.cert))
        context.minimum_version = context.maximum_version = version
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() == version.name.replace("_", ".")
    # TLS 1.1 refused (a client that would still speak it, however it is built)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=str(stack.cert))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # what is tested is deprecated
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises(ssl.SSLError),
        ):
            old.wrap_socket(raw, server_hostname="127.0.0.1")


def test_the_enrolment_limit_keys_on_the_real_client_not_on_x_forwarded_for(
    stack: Stack,
) -> None:
    """Each client's attempts are counted under its own address, whatever X-Forwarded-For it
    sends (nginx overwrites it); 10 a minute, then 429."""
    first, second = stack.session("127.0.0.3"), stack.session("127.0.0.4")

    def attempt(session: requests.Session, forged: str) -> requests.Response:
        return session.post(stack.url + "/v1/enroll", data=b"{}", timeout=10,
                            headers={"X-Forwarded-For": forged})  # fmt: skip

    for _ in range(10):  # each a fresh forged address: were it believed, none would be limited
        forged = f"198.51.100.{secrets.randbelow(250) + 1}"
        assert _error_code(attempt(first, forged)) == "malformed"
    limited = attempt(first, "203.0.113.9")
    assert limited.status_code == 429 and _error_code(limited) == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    # the other client is not limited, even when it claims to be the first one
    assert _error_code(attempt(second, "127.0.0.3")) == "malformed"


def test_a_killed_process_loses_its_kiosks_to_the_other(stack: Stack) -> None:
    """A process dies with a GET and a POST of its kiosk in its hands: nginx passes the GET
    to the other process, never the POST (it answers 503); the next polls go to the other."""
    kiosk = stack.kiosk("127.0.0.12")
    assert kiosk.feed(wait=0).status_code == 200
    [home] = stack.serving(kiosk.device_id)
    process = stack.upstreams[home].proc
    assert process is not None
    answers: dict[str, requests.Response] = {}
    held = threading.Thread(target=lambda: answers.update(get=kiosk.feed(wait=5)))
    held.start()
    time.sleep(0.5)  # held by its process
    process.send_signal(signal.SIGSTOP)  # the kernel still takes connections and bytes for it
    events_before = stack.reached("/v1/events")
    sender = replace(kiosk, session=session_from("127.0.0.12", stack.cert))
    posting = threading.Thread(
        target=lambda: answers.update(post=sender.call("POST", "/v1/events", b"{}"))
    )
    posting.start()
    time.sleep(0.5)  # sent to the stopped process
    _stop(process, signal.SIGKILL)
    for thread in (held, posting):
        thread.join(timeout=40)
    sender.session.close()
    # the GET: answered by the other process (or, once the replay cache is shared, 409 for a
    # proof the dead process had accepted: the agent signs a new one)
    assert answers["get"].status_code in (200, 409), answers["get"].text
    # the POST: never sent to a second process
    assert answers["post"].status_code == 503 and _error_code(answers["post"]) == "unavailable"
    assert stack.reached("/v1/events") == events_before
    for _ in range(3):  # the next polls: the other process
        answer = kiosk.feed(wait=0)
        assert answer.status_code == 200, answer.text
    assert stack.serving(kiosk.device_id) == [0, 1]  # before the kill, and after it

    # no process left: the protocol's 503 with Retry-After, not nginx's page
    _stop(stack.upstreams[1 - home].proc, signal.SIGKILL)
    answer = kiosk.feed(wait=0)
    assert answer.status_code == 503 and _error_code(answer) == "unavailable"
    assert answer.headers["retry-after"] == "5" and answer.json()["error"]["retry_after_s"] == 5
