"""The district simulator behind real HTTP, and a kiosk built from the agent's real parts.

``SimServer`` puts ``tests.sim.district.DistrictSim`` (production signing code, signs on
demand) on ``tests.agent.faulty.FaultyServer`` (raw sockets on 127.0.0.1), so the agent's
real ``DistrictClient`` does real HTTP against a district that misbehaves on cue:

- ``GET /v1/feed``: a fresh head signed at the simulator's ``now_s`` and the items listed
  after ``after`` in ascending seq, at most 50; a seq in ``withheld`` is left out of as many
  answers as ``withheld[seq]`` says (a lost manifest); ``add_raw`` puts any JSON value into
  the ``jobs`` array (a bad token);
- ``GET /v1/blobs/{job}/{doc}``: the sealed document, unless ``blob_errors[doc]`` still
  holds scripted ``(status, code)`` answers (a 404 or 410 that no signed head backs);
- ``POST /v1/events`` and ``/v1/heartbeat``: verified with the device's key and recorded
  (``events``, ``heartbeats``): what the district sees.

Proofs are not checked here (the real server's tests do that). ``SimKiosk`` builds an
enrolled kiosk home around the simulator's keys and wires the agent's real ``Spool``,
``JobBook``, ``BlobStore``, ``DistrictClient``, ``Syncer`` and ``Reporter`` on one injected
clock, so a test steps the sync loop round by round and moves time without sleeping.
TEST-ONLY.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent import trust as trust_store
from agent.blobs import BlobStore
from agent.client import DistrictClient
from agent.jobs import JobBook
from agent.keys import DeviceKeys
from agent.recent import RecentErrors
from agent.reporter import Reporter
from agent.settings import save_config
from agent.spool import Spool
from agent.sync import Syncer
from kiosk.b64 import b64u_encode
from kiosk.clock import trusted_now
from kiosk.config import validate_agent_config
from kiosk.errors import RejectedError
from kiosk.feed import ErrorBody, error_body
from kiosk.issue import IssuedJob
from kiosk.lifecycle import JobState
from kiosk.limits import MAX_JOBS_PER_FEED
from kiosk.report import Heartbeat, JobReport, parse_event_batch, parse_heartbeat, verify_report
from kiosk.strictjson import canonical_dumps
from kiosk.verify import TrustState, verify_keyring
from tests.agent.faulty import Exchange, FaultyServer
from tests.sim.district import DistrictSim, fixed_key

_BLOB = re.compile(r"/v1/blobs/([A-Za-z0-9_]+)/([A-Za-z0-9_]+)")


class SimServer:
    """``with SimServer(sim, device_key) as district: …district.base_url…``"""

    def __init__(self, sim: DistrictSim, *, device_key: Ed25519PublicKey) -> None:
        self.sim = sim
        self._device_key = device_key
        self.items: list[tuple[int, object]] = []  # (seq, jobs[] item), kept in seq order
        self.withheld: dict[int, int] = {}  # seq -> how many more answers leave it out
        self.blobs: dict[tuple[str, str], bytes] = {}
        self.blob_errors: dict[str, list[tuple[int, str]]] = {}
        self.events: list[JobReport] = []
        self.heartbeats: list[Heartbeat] = []
        self.feed_asks: list[dict[str, int]] = []  # the query of every feed request
        self.blob_asks: list[str] = []  # the doc id of every blob request
        self._lock = threading.Lock()
        self._http = FaultyServer()
        self._http.handler = self._handle
        self.base_url = self._http.base_url

    def __enter__(self) -> SimServer:
        self._http.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:  # fmt: skip
        self._http.__exit__(kind, error, traceback)

    # --- what the district publishes --------------------------------------------------

    def issue(self, job: IssuedJob) -> IssuedJob:
        """Publish a job the simulator issued: its manifest in the feed, its blobs."""
        with self._lock:
            self.items.append((job.manifest.seq, job.token.decode("ascii")))
            self.items.sort(key=lambda item: item[0])
            for doc_id, sealed in job.blobs.items():
                self.blobs[(job.manifest.job_id, doc_id)] = sealed
        return job

    def add_raw(self, item: object, *, seq: int) -> None:
        """Put any value into the feed's ``jobs`` array, delivered with ``seq``'s place."""
        with self._lock:
            self.items.append((seq, item))
            self.items.sort(key=lambda entry: entry[0])

    def events_of(self, job_id: str) -> list[tuple[str, str | None]]:
        """(event, reason) of every event the district received for ``job_id``, in order."""
        with self._lock:
            return [(e.event.value, e.reason) for e in self.events if e.job_id == job_id]

    # --- HTTP ----------------------------------------------------------------------------

    def _handle(self, exchange: Exchange) -> None:
        request = exchange.request
        url = urlsplit(request.target)
        if request.method == "GET" and url.path == "/v1/feed":
            query = {k: int(v[0]) for k, v in parse_qs(url.query).items()}
            self._feed(exchange, query)
        elif request.method == "GET" and (match := _BLOB.fullmatch(url.path)):
            self._blob(exchange, match.group(1), match.group(2))
        elif request.method == "POST" and url.path == "/v1/events":
            self._events(exchange, request.body)
        elif request.method == "POST" and url.path == "/v1/heartbeat":
            with self._lock:
                self.heartbeats.append(parse_heartbeat(request.body))
            exchange.respond(200, canonical_dumps({"v": 1, "server_time": self.sim.now_s}))
        else:
            exchange.respond(404, error_body(ErrorBody("not_found", "no such path")))

    def _feed(self, exchange: Exchange, query: dict[str, int]) -> None:
        with self._lock:
            self.feed_asks.append(query)
            jobs: list[object] = []
            for seq, item in self.items:
                if seq <= query["after"] or len(jobs) == MAX_JOBS_PER_FEED:
                    continue
                if self.withheld.get(seq, 0) > 0:  # lost on the way, this time
                    self.withheld[seq] -= 1
                    continue
                jobs.append(item)
            body = canonical_dumps({"v": 1, "head": self.sim.head().decode(), "jobs": jobs})
        exchange.respond(200, body)

    def _blob(self, exchange: Exchange, job_id: str, doc_id: str) -> None:
        with self._lock:
            self.blob_asks.append(doc_id)
            scripted = self.blob_errors.get(doc_id)
            answer = scripted.pop(0) if scripted else None
            sealed = self.blobs.get((job_id, doc_id))
        if answer is not None:
            exchange.respond(answer[0], error_body(ErrorBody(answer[1], "scripted answer")))
        elif sealed is None:
            exchange.respond(404, error_body(ErrorBody("not_found", "no such document")))
        else:
            etag = b64u_encode(hashlib.sha256(sealed).digest())
            exchange.respond(200, sealed, {"ETag": f'"{etag}"', "Accept-Ranges": "bytes"},
                             content_type="application/octet-stream")  # fmt: skip

    def _events(self, exchange: Exchange, body: bytes) -> None:
        def verify(token: bytes) -> JobReport:
            return verify_report(
                token, device_id=self.sim.device_id, device_key=self._device_key,
                district_code=self.sim.district_code,
            )  # fmt: skip

        results: list[dict[str, object]] = []
        for item in parse_event_batch(body, verify=verify):
            if isinstance(item, RejectedError):
                results.append({"id": None, "status": "rejected", "reason": item.reason.value})
                continue
            with self._lock:
                self.events.append(item)
            results.append({"id": item.event_id, "status": "stored"})
        exchange.respond(200, canonical_dumps({"v": 1, "results": results}))


@dataclass
class Clock:
    """The kiosk's local clock and the simulator's, moved together by the test."""

    sim: DistrictSim
    now_s: int = 0

    def __post_init__(self) -> None:
        self.now_s = self.sim.now_s

    def __call__(self) -> int:
        return self.now_s

    def advance(self, seconds: int) -> None:
        self.now_s += seconds
        self.sim.now_s = self.now_s


def jitter_at_ceiling(low: float, high: float) -> float:
    """A ``uniform`` that always draws the top of the range: a backoff waits its ceiling."""
    return high


@dataclass
class SimKiosk:
    """An enrolled kiosk home around ``sim``'s keys, and the agent's real parts over it."""

    home: Path
    district: SimServer
    clock: Clock
    auth: Ed25519PrivateKey = field(default_factory=lambda: fixed_key("device-auth"))
    uniform: Callable[[float, float], float] = jitter_at_ceiling

    def __post_init__(self) -> None:
        sim = self.district.sim
        keys = DeviceKeys(self.auth, sim.seal_key)
        keys.save(self.home)
        keyring_token = sim.keyring_token()
        keyring = verify_keyring(keyring_token, district_code=sim.district_code,
                                 root_key=sim.root.public_key(), current=None)  # fmt: skip
        self.spool = Spool(self.home / "spool.db")
        trust_store.pin(self.spool, TrustState(
            district_code=sim.district_code, device_id=sim.device_id,
            root_key=sim.root.public_key(), keyring=keyring, head=None, time_floor_s=0,
        ), keyring_token)  # fmt: skip
        out = self.home / "printed"
        out.mkdir()
        self.config = validate_agent_config({
            "server_url": self.district.base_url, "device_id": sim.device_id,
            "district_code": sim.district_code, "office_code": sim.office_code,
            "printers": {"a4": f"virtual:{out}"}, "request_timeout_s": 10,
        })  # fmt: skip
        save_config(self.home, self.config)
        self.errors = RecentErrors()
        self.book = JobBook(
            self.spool, device_id=sim.device_id, district_code=sim.district_code,
            auth_key=keys.auth, now_s=self.trusted_now_s, max_reprints=3,
        )  # fmt: skip
        self.blobs = BlobStore(self.home / "blobs")
        self.client, self.report_client = (DistrictClient(
            base_url=self.district.base_url, device_id=sim.device_id, auth_key=keys.auth,
            request_timeout_s=10,
        ) for _ in range(2))  # fmt: skip
        self.ready = 0
        self.syncer = Syncer(
            spool=self.spool, book=self.book, blobs=self.blobs, client=self.client, keys=keys,
            config=self.config, errors=self.errors, local_now_s=self.clock,
            on_ready=self._on_ready, uniform=self.uniform,
        )  # fmt: skip
        self.reporter = Reporter(
            spool=self.spool, client=self.report_client, printers={}, errors=self.errors,
            agent="cedoka/0.1.0", local_now_s=self.clock,
        )  # fmt: skip

    def restart(self) -> None:
        """A new sync service over the same home (what ``cedoka run`` keeps in memory is
        gone; the spool stays)."""
        self.syncer = Syncer(
            spool=self.spool, book=self.book, blobs=self.blobs, client=self.client,
            keys=DeviceKeys(self.auth, self.district.sim.seal_key), config=self.config,
            errors=self.errors, local_now_s=self.clock, on_ready=self._on_ready,
            uniform=self.uniform,
        )  # fmt: skip

    def _on_ready(self) -> None:
        self.ready += 1

    def trusted_now_s(self) -> int:
        floor = int(self.spool.get_meta("time_floor") or b"0")
        return trusted_now(local_now_s=self.clock(), floor_s=floor)

    def state(self, job_id: str) -> JobState | None:
        row = self.spool.job(job_id)
        return None if row is None else row.status.state

    def reasons(self) -> list[str]:
        """The heartbeat's ``last_errors`` reasons, oldest first."""
        return [reason for _, reason in self.errors.items()]

    def report(self) -> None:
        """Deliver every pending event, then one heartbeat."""
        self.reporter.deliver()
        self.reporter.heartbeat()

    def close(self) -> None:
        self.client.close()
        self.report_client.close()
        self.spool.close()
