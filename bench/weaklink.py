"""A weak village link: a 3-document bundle (≈2 MB) pushed to a kiosk behind a slow, lossy,
high-latency link that is cut three times during the transfer.

    python -m bench weaklink [--quick]      # as root: it makes a network namespace

The kiosk (``cedoka enroll --ca`` then ``cedoka run``, real processes, virtual printer) runs
in a network namespace (``ip netns exec``); the district server (``cedoka-district serve``
with TLS: a throwaway CA and a server certificate for the link's address, made here) runs in
the root namespace. Between them a point-to-point link shaped on both ends (full: 64 kbit/s,
300 ms each way, 5 % loss each way; :mod:`bench.netns`). The push is timed until all three
documents are printed, and the link is cut (both ends down, a few seconds, up) each time the
kiosk has received another quarter of the bundle (full: 3 cuts of 5 s; quick: 1 of 3 s at
half). Bytes over the link are the district end's ``ip -s link`` counters.

Baselines, same run, same link: the ideal time (the sealed bytes at the link rate plus the
three round trips any HTTPS download needs: TCP, TLS 1.3, the request), and, measured, one plain
HTTPS download of the same number of bytes by Python's urllib in the namespace, with no
cut (so ours / plain is what Cedoka and the cuts cost over the raw transfer on that link).

Needs root and iproute2; without them it returns its figures with value 0 and says so.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import ipaddress
import json
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pypdf import PdfWriter
from pypdf.generic import ContentStream

from bench import netns
from bench.byteserver import BytesServer
from bench.netns import Shape, ShapedLink
from bench.result import Figure
from district.admin import DistrictAdmin
from district.keyring import Keys
from kiosk.model import ReleaseMode
from ui.demo import agent_command, child_env, district_command

GROUP = "weaklink"
OFFICE = "74.08.01.2002"
DOC_TYPES = ("KK", "AKTA_LAHIR", "BIODATA")


@dataclass(frozen=True)
class Plan:
    shape: Shape
    bundle_bytes: int  # the three PDFs together
    cuts: int
    cut_s: float
    timeout_s: float = 1800  # push -> printed, at most


FULL = Plan(Shape(64_000, 0.3, 0.05), bundle_bytes=2_000_000, cuts=3, cut_s=5)
QUICK = Plan(Shape(256_000, 0.3, 0.05), bundle_bytes=100_000, cuts=1, cut_s=3, timeout_s=60)


def run(quick: bool) -> list[Figure]:
    return measure(QUICK if quick else FULL)


# --- material: PDFs, certificates, a plain HTTPS server -----------------------------------


def padded_pdf(size: int) -> bytes:
    """A valid one-page A4 PDF of about ``size`` bytes (random comment lines as content)."""
    line_count = max(1, (size - 600) // 80)
    content = b"".join(b"% " + secrets.token_hex(38).encode() + b"\n" for _ in range(line_count))
    writer = PdfWriter()
    page = writer.add_blank_page(width=595.28, height=841.89)
    stream = ContentStream(None, writer)
    stream.set_data(content)
    page.replace_contents(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_tls(directory: Path, ip: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``ip``: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cedoka bench CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    paths[2].chmod(0o600)
    return paths


def plain_server(ip: str, size: int, cert: Path, key: Path) -> BytesServer:
    """HTTPS on ``ip``: ``GET /bundle`` answers ``size`` random bytes (the baseline)."""
    return BytesServer(secrets.token_bytes(size), host=ip, path="/bundle", tls=(cert, key))


_DOWNLOAD = """
import json, ssl, sys, time, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
started = time.perf_counter()
with urllib.request.urlopen(sys.argv[1], context=context, timeout=120) as answer:
    size = 0
    while chunk := answer.read(65536):
        size += len(chunk)
print(json.dumps({"bytes": size, "seconds": time.perf_counter() - started}))
"""


# --- processes ------------------------------------------------------------------------


@dataclass
class Run:
    """What one measured delivery saw."""

    seconds: float = 0.0
    complete: bool = False
    printed: int = 0
    down_bytes: int = 0
    up_bytes: int = 0
    cuts: list[float] = field(default_factory=list)  # bytes-fraction at each cut
    recoveries_s: list[float] = field(default_factory=list)  # link up -> bytes flow again
    resumed: int = 0  # downloads that went on from a part file (HTTP Range)
    link_down: dict[str, int] = field(default_factory=dict)
    fetches: list[tuple[str, str]] = field(default_factory=list)  # (bytes, ms) per fetch
    queue: str = ""  # how deep the link's queue got


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT, env=child_env(),
                                start_new_session=True)  # fmt: skip


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port(ip: str) -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def _wait(
    what: str, ready: Callable[[], bool], timeout_s: float, procs: list[subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: a process stopped (exit {proc.returncode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.05)


def _quiet(link: ShapedLink, *, for_s: float, timeout_s: float) -> None:
    """Until no byte has crossed the link for ``for_s`` (at most ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    last, since = link.counters(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = link.counters()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_s:
            return


def _deliver(
    link: ShapedLink, plan: Plan, admin: DistrictAdmin, pdfs: list[bytes], printed: Path
) -> Run:
    """Push the bundle and cut the link each time the kiosk has received a further
    1/(cuts+1) of it (its own RX counter: the sender's runs ahead by what the link queues);
    until all documents are printed."""
    result = Run()
    link.queue_peak(reset=True)
    down0, up0 = link.counters()
    got0 = link.kiosk_received()
    bundle = sum(len(pdf) for pdf in pdfs)  # sealing adds a few dozen bytes per document
    thresholds = [bundle * (k + 1) / (plan.cuts + 1) for k in range(plan.cuts)]
    started = time.monotonic()
    admin.push(office_code=OFFICE, resident="BENCH RESIDENT",
               documents=list(zip(DOC_TYPES, pdfs, strict=True)), release=ReleaseMode.AUTO,
               copies=1, lifetime_s=3600)  # fmt: skip
    recovering: tuple[float, int] | None = None
    while True:
        result.printed = len(list(printed.glob("*.pdf")))
        now = time.monotonic()
        if result.printed >= len(pdfs):
            result.complete = True
            break
        if now - started > plan.timeout_s:
            break
        got = link.kiosk_received() - got0
        if recovering is not None and got - recovering[1] > 3000:  # two full packets
            result.recoveries_s.append(now - recovering[0])
            recovering = None
        if thresholds and got >= thresholds[0]:
            thresholds.pop(0)
            result.cuts.append(got / bundle)
            link.cut()
            time.sleep(plan.cut_s)
            link.restore()
            recovering = time.monotonic(), link.kiosk_received() - got0
        time.sleep(0.05)
    result.seconds = time.monotonic() - started
    down, up = link.counters()
    result.down_bytes, result.up_bytes = down - down0, up - up0
    result.queue = link.queue_peak()
    return result


def _read_agent_log(log: Path, result: Run) -> None:
    text = log.read_text(errors="replace")
    result.resumed = len(re.findall(r"event=blob_downloaded .*resumed_from=[1-9]", text))
    kinds: dict[str, int] = {}
    for kind in re.findall(r"event=link_down kind=(\S+)", text):
        kinds[kind] = kinds.get(kind, 0) + 1
    result.link_down = kinds
    result.fetches = re.findall(r"event=blob_fetched .*?bytes=(\d+) ms=(\d+)", text)


def measure(plan: Plan) -> list[Figure]:
    why = netns.missing()
    if why:
        return _skipped(plan, f"skipped: needs root and iproute2 ({why})")
    per_doc = plan.bundle_bytes // len(DOC_TYPES)
    pdfs = [padded_pdf(per_doc) for _ in DOC_TYPES]
    procs: list[subprocess.Popen[bytes]] = []
    plain: BytesServer | None = None
    with tempfile.TemporaryDirectory(prefix="cedoka-bench-weaklink-") as tmp, \
            ShapedLink(plan.shape) as link:  # fmt: skip
        root = Path(tmp)
        try:
            ca, cert, key = make_tls(root, link.outer_ip)
            home, kiosk, printed = root / "district", root / "kiosk", root / "printed"
            printed.mkdir()
            DistrictAdmin.init(home, name="Bench District", code="74.08")
            admin = DistrictAdmin(Keys.open(home))
            admin.add_office(OFFICE, "Desa Pitulua")
            code = admin.new_enroll_code(OFFICE, valid_s=3600)
            port = _free_port(link.outer_ip)
            url = f"https://{link.outer_ip}:{port}"
            district_log, agent_log = root / "district.log", root / "agent.log"
            procs.append(_spawn([*district_command(), "--home", str(home), "serve", "--listen",
                                 f"{link.outer_ip}:{port}", "--tls-cert", str(cert),
                                 "--tls-key", str(key), "--public-url", url],
                                district_log))  # fmt: skip
            _wait("the district server", lambda: _listening(link.outer_ip, port), 60, procs)

            enrol_started = time.monotonic()
            enrolled = subprocess.run(
                link.inside([*agent_command(), "--home", str(kiosk), "enroll", "--server", url,
                             "--code", code, "--ca", str(ca), "--printer",
                             f"a4=virtual:{printed}"]),
                capture_output=True, text=True, env=child_env(), timeout=300, check=False,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if enrolled.returncode != 0:
                raise RuntimeError(f"cedoka enroll failed: {enrolled.stderr.strip()[-500:]}")
            enrol_s = time.monotonic() - enrol_started
            procs.append(_spawn(link.inside([*agent_command(), "--home", str(kiosk), "run"]),
                                agent_log))  # fmt: skip
            _wait("the agent's first feed request",
                  lambda: "path=/v1/feed status=200" in district_log.read_text(errors="replace"),
                  120, procs)  # fmt: skip
            _quiet(link, for_s=1.5, timeout_s=20)  # its long-poll is in, the heartbeat done

            ours = _deliver(link, plan, admin, pdfs, printed)
            _stop(procs.pop())  # the agent: nothing else on the link for the baseline
            _read_agent_log(agent_log, ours)
            store = Keys.open(home).store
            job = store.jobs(office_code=OFFICE)[-1]
            sealed = sum(row.size for row in store.blobs(job.job_id))

            _quiet(link, for_s=1.0, timeout_s=20)
            plain = plain_server(link.outer_ip, sealed, cert, key)
            link.queue_peak(reset=True)
            down0, _ = link.counters()
            fetched = subprocess.run(
                link.inside([sys.executable, "-c", _DOWNLOAD, plain.url, str(ca)]),
                capture_output=True, text=True, timeout=max(600, plan.timeout_s), check=True,
            )  # fmt: skip
            plain_down = link.counters()[0] - down0
            plain_queue = link.queue_peak()
            baseline = json.loads(fetched.stdout)
        finally:
            if plain is not None:
                plain.close()
            for proc in reversed(procs):
                _stop(proc)
        mode = link.mode
    return _figures(plan, ours, sealed=sealed, plain_s=float(baseline["seconds"]),
                    plain_down=plain_down, enrol_s=enrol_s, mode=mode,
                    plain_queue=plain_queue)  # fmt: skip


def _listening(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _figures(plan: Plan, ours: Run, *, sealed: int, plain_s: float, plain_down: int,
             enrol_s: float, mode: str, plain_queue: str) -> list[Figure]:  # fmt: skip
    shape = plan.shape
    # the least an HTTPS download of these bytes needs: TCP and TLS 1.3 handshakes, the request
    round_trips = 3
    ideal_s = sealed * 8 / shape.rate_bit_s + round_trips * shape.rtt_s
    cuts = f"{len(ours.cuts)} cut(s) of {plan.cut_s:g} s at " + ", ".join(
        f"{c:.0%}" for c in ours.cuts
    )
    recoveries = ", ".join(f"{r:.1f}" for r in ours.recoveries_s) or "-"
    link = f"{shape.describe()}; {mode}"
    state = (
        ""
        if ours.complete
        else (f"NOT COMPLETE after {ours.seconds:.0f} s ({ours.printed} of 3 printed). ")
    )
    return [
        Figure(GROUP, f"push -> 3 documents printed ({sealed / 1e6:.2f} MB, {cuts})",
               ours.seconds, "s", "one plain HTTPS download, same bytes, same link, no cut",
               plain_s,
               limit=f"{state}{link}. Includes {len(ours.cuts) * plan.cut_s:g} s of link "
               f"down; the kiosk received again {recoveries} s after each link up (TCP's "
               f"retransmission timer, doubled by every lost try); {ours.resumed} download(s) "
               f"resumed with Range; agent link_down: {ours.link_down or 'none'}",
               note=f"set-up, not timed: enrol over the link {enrol_s:.1f} s; "
               f"blob fetches (bytes, ms): {ours.fetches}; {ours.queue}"),
        Figure(GROUP, "plain HTTPS download, same link, no cut", plain_s, "s",
               f"ideal: bytes x 8 / rate + {round_trips} RTT (TCP, TLS 1.3, GET)", ideal_s,
               limit=f"{link}: the link's rate bounds it; TCP loses time to the loss "
               "(fast retransmit, and RTOs when a retransmission or a tail is lost); "
               f"{plain_queue or 'netem queue'}"),
        Figure(GROUP, "bytes down the link / bundle size", ours.down_bytes / sealed, "B/B",
               "the plain download's bytes / bundle size", plain_down / sealed,
               limit=f"district end's TX counter (ip -s link), headers and retransmissions "
               f"included; up the link: {ours.up_bytes / 1000:.0f} kB (ACKs, requests, "
               "events); what the link held at a cut is sent again"),
    ]  # fmt: skip


def _skipped(plan: Plan, why: str) -> list[Figure]:
    return [
        Figure(GROUP, f"push -> 3 documents printed ({plan.cuts} cuts)", 0, "s", note=why,
               limit=why),
        Figure(GROUP, "plain HTTPS download, same link, no cut", 0, "s", note=why, limit=why),
        Figure(GROUP, "bytes down the link / bundle size", 0, "B/B", note=why, limit=why),
    ]  # fmt: skip
