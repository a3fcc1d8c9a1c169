"""The OpenAPI document agrees with docs/protocol.md and with what the server really sends."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from kiosk.lifecycle import JobEvent, JobState
from kiosk.model import ReleaseMode
from kiosk.report import JobReport, event_batch_body, sign_report
from tests.district.conftest import Kiosk, Server
from tests.sim.district import RESIDENT, make_pdf

STORES = ("sqlite", "postgresql")  # every test using the server runs on both stores
PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
ROUTES = {
    ("post", "/v1/enroll"),
    ("get", "/v1/feed"),
    ("get", "/v1/blobs/{job_id}/{doc_id}"),
    ("post", "/v1/events"),
    ("post", "/v1/heartbeat"),
    ("post", "/v1/device/seal-key"),
}


def _document(server: Server) -> dict[str, Any]:
    answer = requests.get(server.base_url + "/openapi.json", timeout=10)
    assert answer.status_code == 200
    return dict(answer.json())


def _validate(document: dict[str, Any], schema_name: str, value: object) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", **document}
    jsonschema.validate(value, schema)


def test_every_protocol_route_is_in_the_openapi_document_and_no_other(server: Server) -> None:
    paths = _document(server)["paths"]
    served = {(method, path) for path, item in paths.items() for method in item}
    assert served == ROUTES
    text = PROTOCOL.read_text(encoding="utf-8")
    for method, path in ROUTES:
        spelled = re.sub(r"\{(\w+)\}", r"{\1}", path)
        assert f"{method.upper()} {spelled}" in text, f"{method.upper()} {path} not in the protocol"


def test_real_bodies_match_their_schemas(server: Server) -> None:
    document = _document(server)
    kiosk = Kiosk(server.base_url)
    answer = kiosk.enroll(server.admin.new_enroll_code("74.08.01.2002", valid_s=3600))
    _validate(document, "EnrollResponse", answer.json())
    server.admin.push(
        office_code="74.08.01.2002", resident=RESIDENT, documents=[("KK", make_pdf())],
        release=ReleaseMode.AUTO, copies=1, lifetime_s=3600 * 24,
    )  # fmt: skip
    feed = kiosk.feed()
    _validate(document, "FeedResponse", feed.json())
    job_id = server.keys.store.jobs()[0].job_id
    report = JobReport(
        event_id="evt_01JD0000000000000000000001", device_id=kiosk.device_id,
        district_code="74.08", job_id=job_id, event=JobEvent.VERIFY_OK,
        state=JobState.VERIFIED, at_s=int(time.time()),
    )  # fmt: skip
    batch = event_batch_body([sign_report(report, kiosk.auth)])
    _validate(document, "EventBatch", json.loads(batch))
    _validate(document, "EventResults", kiosk.call("POST", "/v1/events", batch).json())
    beat = (
        b'{"agent":"cedoka/0.1.0","feed_seq":1,"journal_head":null,"keyring_version":1,'
        b'"last_errors":[],"printers":[],"sent_at":1,"spool":{"held":1},"time_floor":1,"v":1}'
    )
    _validate(document, "Heartbeat", json.loads(beat))
    _validate(document, "HeartbeatAnswer", kiosk.call("POST", "/v1/heartbeat", beat).json())
    error = kiosk.call(
        "GET", "/v1/blobs/job_01JD0000000000000000000009/doc_01JD0000000000000000000009"
    )
    assert error.status_code == 404
    _validate(document, "Error", error.json())


@pytest.mark.parametrize("name", ["EnrollRequest", "EnrollResponse", "Heartbeat", "SealKeyRequest"])
def test_schemas_are_valid_json_schema(server: Server, name: str) -> None:
    document = _document(server)
    jsonschema.Draft202012Validator.check_schema(document["components"]["schemas"][name])
