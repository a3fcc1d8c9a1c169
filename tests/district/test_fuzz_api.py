"""Fuzzing of the district API from its own OpenAPI document (schemathesis), bounded in time.

The real server on 127.0.0.1 (uvicorn, real HTTP), the document it serves at
``/openapi.json`` (``district/openapi.py``). For every operation schemathesis draws requests
that fit the document (positive) and requests that break it (negative); each is sent as a
kiosk sends it — with a fresh request proof of an enrolled device, signed over the exact
target and body bytes, so the fuzzer reaches past authentication — and each answer must:

- never be a 5xx;
- carry a status the document declares for the operation, with its content type;
- match the declared schema: the endpoint's message, or the protocol's error body
  (section 15.1), which every non-2xx answer must be (checked again here, strictly);
- for a negative request, be a 4xx.

Bounded by count, not by the clock: 25 examples per operation and mode (300 requests),
drawn from a fixed seed (``derandomize``: the same requests every run, so a failure
reproduces), no example database, the long-poll made immediate (``wait=0``; long-polls are
tested in test_server.py). Measured: about 18 s on a 2-core machine shared with other test
runs. Two deliberate exceptions, each for a rule of the protocol: ``/v1/events`` answers a
bad event inside a well-formed batch with a per-event ``rejected`` result (section 11.3),
not a 4xx; a schema-violating request may be refused with any of the protocol's 4xx.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from kiosk.model import ReleaseMode
from kiosk.strictjson import loads_object
from tests.district.conftest import Kiosk, Server, enrolled
from tests.sim.district import RESIDENT, make_pdf

pytestmark = pytest.mark.loopback

# per operation and generation mode; CEDOKA_FUZZ_EXAMPLES=500 for a longer run by hand
STORES = ("sqlite", "postgresql")  # the fuzzing runs against both stores (conftest)
EXAMPLES = int(os.environ.get("CEDOKA_FUZZ_EXAMPLES", "25"))
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
# Explicit, so no schemathesis.toml found on the way is read. A schema-violating request
# is refused with one of the protocol's 4xx (section 15.1; 413: over the endpoint's cap).
CONFIG = schemathesis.Config.from_dict({
    "checks": {"negative_data_rejection": {
        "expected-statuses": [400, 401, 403, 404, 405, 409, 413, 416, 429],
    }},
})  # fmt: skip
CHECKS = [
    not_a_server_error, status_code_conformance, content_type_conformance,
    response_schema_conformance,
]  # fmt: skip


def protocol_error_body(response: requests.Response) -> None:
    """Every non-2xx answer: ``application/json; charset=utf-8`` and exactly the error body
    of protocol section 15.1 (strict JSON, at most 4 096 bytes)."""
    if response.status_code < 300:
        return
    assert response.headers.get("content-type") == "application/json; charset=utf-8", response
    body = loads_object(response.content, max_bytes=4096)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and {"code", "message"} <= set(error) <= {
        "code", "message", "retry_after_s",
    }, error  # fmt: skip
    assert isinstance(error["code"], str) and _ERROR_CODE.fullmatch(error["code"]), error
    assert isinstance(error["message"], str) and 1 <= len(error["message"]) <= 500, error
    retry = error.get("retry_after_s", 0)
    assert type(retry) is int and 0 <= retry <= 86400, error


@pytest.fixture
def fuzzed(server: Server) -> Iterator[tuple[Server, Kiosk]]:
    kiosk = enrolled(server)
    server.admin.push(
        office_code="74.08.01.2002", resident=RESIDENT, documents=[("KK", make_pdf())],
        release=ReleaseMode.AUTO, copies=1, lifetime_s=3600,
    )  # fmt: skip
    yield server, kiosk


def _send(kiosk: Kiosk, case: schemathesis.Case, base_url: str) -> requests.Response:
    """Send ``case`` as a kiosk would: the exact bytes, with a proof signed over them."""
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    if "json" in kwargs:  # serialized here, so the proof's body hash covers these bytes
        kwargs["data"] = json.dumps(kwargs.pop("json")).encode()
        kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
    for key in ("timeout", "verify", "allow_redirects", "cookies"):
        kwargs.pop(key, None)
    prepared = requests.Request(**kwargs).prepare()
    body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    if "Authorization" in prepared.headers:  # else the case tests a missing proof: keep so
        prepared.headers["Authorization"] = kiosk.proof(prepared.method or "", prepared.path_url,
                                                        body)  # fmt: skip
    return kiosk.session.send(prepared, timeout=30, allow_redirects=False)


def _fuzz(operation: Any, mode: GenerationMode, run: Callable[[schemathesis.Case], None]) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    if operation.path == "/v1/feed":  # answered at once: the long-poll is not fuzzed
        strategy = strategy.map(_no_wait)

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )  # fmt: skip
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        run(case)

    fuzz()


def _no_wait(case: schemathesis.Case) -> schemathesis.Case:
    if isinstance(case.query, dict):
        case.query["wait"] = 0
    return case


def test_the_api_answers_every_request_as_its_document_says(
    fuzzed: tuple[Server, Kiosk],
) -> None:
    server, kiosk = fuzzed
    schema = schemathesis.openapi.from_url(server.base_url + "/openapi.json", config=CONFIG)
    sent: dict[str, int] = {}

    def run(case: schemathesis.Case) -> None:
        response = _send(kiosk, case, server.base_url)
        sent[case.path] = sent.get(case.path, 0) + 1
        protocol_error_body(response)
        checks = CHECKS + ([negative_data_rejection] if _negative(case) else [])
        if case.path == "/v1/events":  # a bad event in a batch is rejected in its own result
            checks = [check for check in checks if check is not negative_data_rejection]
        case.validate_response(response, checks=checks)

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, run)
    assert set(sent) == {"/v1/enroll", "/v1/feed", "/v1/blobs/{job_id}/{doc_id}", "/v1/events",
                         "/v1/heartbeat", "/v1/device/seal-key"}, sent  # fmt: skip


def _negative(case: schemathesis.Case) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode is GenerationMode.NEGATIVE


def test_the_error_body_check_itself() -> None:
    good = requests.Response()
    good.status_code, good.headers["content-type"] = 404, "application/json; charset=utf-8"
    good._content = b'{"error":{"code":"not_found","message":"not available"}}'
    protocol_error_body(good)
    bad = requests.Response()
    bad.status_code, bad.headers["content-type"] = 404, "application/json"
    bad._content = b'{"detail":"Not Found"}'
    with pytest.raises(AssertionError):
        protocol_error_body(bad)
