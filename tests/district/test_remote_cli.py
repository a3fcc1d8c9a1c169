"""``cedoka-district --server URL --token …`` (issue 17 item 3) against a real
``cedoka-district serve`` over TLS on loopback (a TEST-ONLY certificate made per run): the
same commands print the same as on the server host (``--json`` byte for byte), TLS is
verified (``--cacert``), and every refusal is one line with the local command's exit status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from kiosk.lifecycle import JobEvent, JobState
from kiosk.report import JobReport, event_batch_body, sign_report
from tests.district.conftest import Kiosk
from tests.district.test_end_to_end import CLI, _free_port, _self_signed
from tests.sim.district import make_pdf

OFFICE = "74.08.01.2002"
PASSWORD = "kolaka-utara-2026"


@dataclass
class Remote:
    home: Path
    url: str
    cert: Path
    tokens: dict[str, str]
    kiosk: Kiosk
    tmp: Path
    db: list[str]  # ["--db", URL] when the store is on PostgreSQL

    def local(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return _run(["--home", str(self.home), *self.db, *argv])

    def remote(
        self, *argv: str, role: str = "operator", cacert: bool = True, server: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        extra = ["--cacert", str(self.cert)] if cacert else []
        return _run(["--server", server or self.url, "--token", self.tokens[role], *extra, *argv])


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "CEDOKA_DISTRICT_HOME": "",
        "CEDOKA_DISTRICT_TOKEN": "",
        "REQUESTS_CA_BUNDLE": "",
        **(env or {}),
    }
    return subprocess.run(
        [str(CLI), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def remote(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Remote]:
    """A served district with a token per role; the module runs on both stores."""
    tmp = tmp_path_factory.mktemp("remote")
    home = tmp / "district"
    db: list[str] = []
    if request.param == "postgresql":
        db = ["--db", request.getfixturevalue("pg_cluster").new_database()]
    _ok(
        _run(
            [
                "--home",
                str(home),
                *db,
                "init",
                "--name",
                "Disdukcapil Kolaka Utara",
                "--code",
                "74.08",
            ]
        )
    )
    _ok(_run(["--home", str(home), *db, "office", "add", OFFICE, "--name", "Desa Pitulua"]))
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        user = f"{role}.user"
        add = subprocess.run(
            [
                str(CLI),
                "--home",
                str(home),
                *db,
                "user",
                "add",
                user,
                "--name",
                role,
                "--role",
                role,
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert add.returncode == 0, add.stderr
        made = _ok(
            _run(
                [
                    "--home",
                    str(home),
                    *db,
                    *db,
                    "token",
                    "create",
                    "--user",
                    user,
                    "--label",
                    f"{role} remote",
                    "--expires",
                    "1d",
                ]
            )
        )
        tokens[role] = made.stdout.strip()
    cert, key = _self_signed(tmp)
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    log = (tmp / "serve.log").open("wb")
    server = subprocess.Popen(
        [
            str(CLI),
            "--home",
            str(home),
            *db,
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CEDOKA_DISTRICT_HOME": ""},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/healthz", timeout=1, verify=str(cert))
            break
        except requests.ConnectionError:
            assert server.poll() is None, (tmp / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.05)
    try:
        kiosk = Kiosk(url)
        kiosk.session.verify, kiosk.session.trust_env = str(cert), False
        code = _ok(_run(["--home", str(home), *db, "enroll-code", OFFICE, "--valid", "1h"]))
        assert kiosk.enroll(code.stdout.strip()).status_code == 200
        yield Remote(home, url, cert, tokens, kiosk, tmp, db)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            log.close()


def test_a_push_from_afar_and_the_same_listings_as_at_home(remote: Remote) -> None:
    kk, akta = remote.tmp / "kk.pdf", remote.tmp / "akta.pdf"
    kk.write_bytes(make_pdf(2))
    akta.write_bytes(make_pdf(1))
    pushed = _ok(
        remote.remote(
            "push",
            "--office",
            OFFICE,
            "--resident",
            "Test Resident",
            "--doc",
            f"KK={kk}",
            "--doc",
            f"AKTA_LAHIR={akta}",
        )
    )
    assert pushed.stdout.startswith("job job_") and "claim code: " in pushed.stdout
    for argv in (
        ("jobs", "--json"),
        ("jobs", "--office", OFFICE, "--json"),
        ("devices", "--json"),
        ("audit", OFFICE, "--json"),
        ("jobs",),
        ("jobs", "--wide"),
        ("devices",),
    ):
        at_home, afar = remote.local(*argv), remote.remote(*argv, role="viewer")
        assert (afar.returncode, afar.stdout) == (at_home.returncode, at_home.stdout), argv
    audited = remote.remote("audit", OFFICE, role="viewer")
    assert audited.returncode == 0 and "chain: intact" in audited.stderr


def push_one(remote: Remote, doc: Path) -> str:
    """Push one document from afar; its job id."""
    done = _ok(remote.remote("push", "--office", OFFICE, "--resident", "Test Resident",
                             "--doc", f"KK={doc}", "--json"))  # fmt: skip
    job_id: str = json.loads(done.stdout)["job_id"]
    return job_id


def test_cancel_from_afar_refuses_like_at_home(remote: Remote) -> None:
    doc = remote.tmp / "one.pdf"
    doc.write_bytes(make_pdf(1))
    job_id = push_one(remote, doc)
    done = _ok(remote.remote("cancel", job_id, "--reason", "duplicate"))
    assert f"job {job_id} cancelled (duplicate)" in done.stdout
    again = remote.remote("cancel", job_id, "--reason", "duplicate")
    assert (again.returncode, again.stderr.strip()) == (
        1,
        f"cedoka-district: error: job {job_id} is cancelled already",
    )

    printed = push_one(remote, doc)
    kiosk = remote.kiosk
    report = JobReport(
        event_id="evt_01JD0000000000000000000077",
        device_id=kiosk.device_id,
        district_code="74.08",
        job_id=printed,
        event=JobEvent.PRINT_DONE,
        state=JobState.PRINTED,
        at_s=int(time.time()),
    )
    body = event_batch_body([sign_report(report, kiosk.auth)])
    assert kiosk.call("POST", "/v1/events", body).status_code == 200
    late_home = remote.local("cancel", printed, "--reason", "duplicate")
    late_afar = remote.remote("cancel", printed, "--reason", "duplicate")
    assert late_afar.returncode == late_home.returncode == 3
    assert late_afar.stderr == late_home.stderr


@pytest.mark.parametrize(
    ("argv", "status", "says"),
    [
        (("--server", "http://192.0.2.7:8700", "--token", "x", "jobs"), 2, "use https://"),
        (("--server", "https://127.0.0.1:9", "jobs"), 2, "needs an API token"),
        (
            ("--server", "https://127.0.0.1:9", "--token", "x", "serve", "--listen", "127.0.0.1:1"),
            2,
            "works on the server host only",
        ),
        (("--server", "https://127.0.0.1:9", "--token", "x", "jobs"), 1, "cannot reach the server"),
    ],
)
def test_mistakes_before_any_request(argv: tuple[str, ...], status: int, says: str) -> None:
    done = _run(list(argv))
    assert done.returncode == status and says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_refusals_of_the_server_are_one_line(remote: Remote) -> None:
    untrusted = remote.remote("jobs", cacert=False)
    assert untrusted.returncode == 1 and "certificate is not trusted" in untrusted.stderr
    wrong = _run(
        [
            "--server",
            remote.url,
            "--cacert",
            str(remote.cert),
            "--token",
            remote.tokens["operator"][:-3] + "xyz",
            "jobs",
        ]
    )
    assert wrong.returncode == 1 and "refused the token" in wrong.stderr
    viewer = remote.remote(
        "cancel", "job_01JD0000000000000000000001", "--reason", "other", role="viewer"
    )
    assert viewer.returncode == 1 and "not allowed" in viewer.stderr
    unknown = remote.remote("jobs", "--office", "74.08.01.2999", role="viewer")
    assert unknown.returncode == 1 and "unknown office 74.08.01.2999" in unknown.stderr
    for done in (untrusted, wrong, viewer, unknown):
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_releases_listed_and_promoted_from_afar(remote: Remote) -> None:
    """``release list|promote`` through the admin API (ADR 0031): the same listing as at
    home; promote needs the admin's token and the targets key on the server."""
    from district.releases import write_archive

    if not (remote.home / "tuf" / "metadata" / "1.root.json").exists():  # module-scoped server
        _ok(remote.local("release", "init"))
    version = "0.2.0"
    archive = remote.tmp / f"cedoka-{version}.tar.gz"
    write_archive(archive, version, [], [])
    _ok(remote.local("release", "publish", str(archive), "--version", version))
    for flags in ((), ("--json",)):
        home, afar = remote.local("release", "list", *flags), remote.remote(
            "release", "list", *flags, role="viewer")  # fmt: skip
        assert afar.returncode == home.returncode == 0, afar.stderr
        assert afar.stdout == home.stdout
    refused = remote.remote("release", "promote", version, "--percent", "10")  # an operator
    assert refused.returncode == 1 and "not allowed" in refused.stderr
    done = _ok(remote.remote("release", "promote", version, "--percent", "10", role="admin"))
    assert done.stdout.strip() == f"{version}: stage 10%"
    narrower = remote.remote("release", "promote", version, "--percent", "5", role="admin")
    assert narrower.returncode == 1 and "only widens" in narrower.stderr
    publish = remote.remote("release", "publish", str(archive), "--version", version)
    assert publish.returncode == 2 and "release list|promote" in publish.stderr
    targets = remote.home / "keys" / "tuf-targets.pem"
    targets.rename(remote.tmp / "tuf-targets.pem")  # kept off the server from now on
    try:
        offline = remote.remote("release", "promote", version, "--percent", "20", role="admin")
    finally:
        (remote.tmp / "tuf-targets.pem").rename(targets)
    assert offline.returncode == 1
    assert f"release --keys DIR promote {version} --percent 20" in offline.stderr
    for failed in (refused, narrower, publish, offline):
        assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) == 1


def test_rotate_seal_from_afar_as_at_home(remote: Remote) -> None:
    device = remote.kiosk.device_id
    done = _ok(remote.remote("devices", "rotate-seal", device, role="admin"))
    assert f"device {device}: sealing-key rotation requested at" in done.stdout
    [row] = json.loads(_ok(remote.remote("devices", "--json", role="viewer")).stdout)
    assert isinstance(row["seal_rotate_s"], int) and row["seal_kid"]
    operator = remote.remote("devices", "rotate-seal", device, role="operator")
    assert operator.returncode == 1 and "needs the scope keys:rotate" in operator.stderr
    unknown = remote.remote(
        "devices", "rotate-seal", "dev_01JD0000000000000000000000", role="admin"
    )
    at_home = remote.local("devices", "rotate-seal", "dev_01JD0000000000000000000000")
    assert unknown.returncode == at_home.returncode == 1
    assert unknown.stderr == at_home.stderr and "no device" in unknown.stderr


def test_operators_managed_remotely_as_on_the_server_host(remote: Remote) -> None:
    """ADR 0034: an admin adds, resets and disables an office's staff through the admin API;
    a viewer lists them (the same JSON as on the server host); district IT's operator role
    may not change them; every refusal is one line, exit status 1."""
    office = ["--office", OFFICE]
    added = json.loads(_ok(remote.remote("operators", "add", "rina", "--name", "Rina",
                                         *office, "--json", role="admin")).stdout)  # fmt: skip
    assert added["id"] == "rina" and len(added["pin"]) == 6 and added["pin"].isdigit()
    shown = _ok(remote.remote("operators", "reset", "rina", *office, role="admin"))
    assert shown.stdout.strip().isdigit() and shown.stdout.strip() != added["pin"]
    assert "shown only now" in shown.stderr
    refused = remote.remote("operators", "disable", "rina", *office)  # the operator role
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "not allowed" in refused.stderr
    listed = _ok(remote.remote("operators", "list", *office, "--json", role="viewer")).stdout
    assert listed == _ok(remote.local("operators", "list", *office, "--json")).stdout
    rina = next(o for o in json.loads(listed)["operators"] if o["id"] == "rina")
    assert rina["origin"] == "central" and rina["pin_pending"] and "pin" not in rina
    _ok(remote.remote("operators", "disable", "rina", *office, role="admin"))
    for where in (remote.local, lambda *a: remote.remote(*a, role="admin")):
        unknown = where("operators", "reset", "nobody", *office)
        assert unknown.returncode == 1 and "no operator nobody" in unknown.stderr
        assert unknown.stderr.count("\n") == 1 and "Traceback" not in unknown.stderr
