"""Job events, heartbeats, the feed envelope and error bodies."""

from __future__ import annotations

import pytest

from kiosk.errors import Reason, RejectedError, WireError
from kiosk.feed import ErrorBody, FeedResponse, error_body, feed_body, parse_error, parse_feed
from kiosk.lifecycle import JobEvent, JobState
from kiosk.report import (
    Heartbeat,
    JobReport,
    Marker,
    PrinterHealth,
    UpdateReport,
    event_batch_body,
    heartbeat_body,
    parse_event_batch,
    parse_heartbeat,
    sign_report,
    verify_report,
)
from tests.sim.district import T0, DistrictSim, fixed_key

DEVICE = "dev_01JD0000000000000000000001"
KEY = fixed_key("device-auth")
REPORT = JobReport(
    event_id="evt_01JD0000000000000000000001",
    device_id=DEVICE,
    district_code="74.08",
    job_id="job_01JD0000000000000000000002",
    event=JobEvent.PRINT_FAIL,
    state=JobState.FAILED,
    at_s=T0,
    reason="media_empty",
    doc_id="doc_01JD0000000000000000000003",
    printer_role="a4",
)


def _verify(token: bytes) -> JobReport:
    return verify_report(
        token, device_id=DEVICE, device_key=KEY.public_key(), district_code="74.08"
    )


def test_event_round_trip_and_idempotent_batch() -> None:
    token = sign_report(REPORT, KEY)
    assert _verify(token) == REPORT
    results = parse_event_batch(event_batch_body([token, token]), verify=_verify)
    assert results == [REPORT, REPORT]  # the server stores one, answers the other "duplicate"


def test_event_from_another_device_key_is_rejected_alone() -> None:
    good, bad = sign_report(REPORT, KEY), sign_report(REPORT, fixed_key("attacker"))
    results = parse_event_batch(event_batch_body([bad, good]), verify=_verify)
    assert isinstance(results[0], RejectedError) and results[0].reason is Reason.BAD_SIGNATURE
    assert results[1] == REPORT


def test_heartbeat_round_trip() -> None:
    beat = Heartbeat(
        agent="cedoka/0.1.0",
        sent_at_s=T0,
        time_floor_s=T0 - 5,
        feed_seq=7,
        keyring_version=2,
        spool={"held": 3, "printed": 1},
        printers=(
            PrinterHealth(
                "a4",
                "cups",
                "stopped",
                False,
                ("media-empty-error", "marker-supply-low-warning"),
                (Marker("Black", 7), Marker("Cyan", -1)),
                "iso_a4_210x297mm",
            ),
        ),
        journal_head=None,
        last_errors=((T0 - 60, "media_empty"),),
    )
    assert parse_heartbeat(heartbeat_body(beat)) == beat


def test_heartbeat_seal_keys_is_optional() -> None:
    base = (
        b'{"v":1,"agent":"cedoka/0.1.0","sent_at":1,"time_floor":1,"feed_seq":0,'
        b'"keyring_version":1,"spool":{},"printers":[],"journal_head":null,"last_errors":[]'
    )
    assert parse_heartbeat(base + b"}").seal_keys is None  # an older agent
    beat = parse_heartbeat(base + b',"seal_keys":2}')
    assert beat.seal_keys == 2 and b'"seal_keys":2' in heartbeat_body(beat)
    assert b"seal_keys" not in heartbeat_body(parse_heartbeat(base + b"}"))
    for bad in (b"0", b"65", b'"2"', b"true"):
        with pytest.raises(WireError):
            parse_heartbeat(base + b',"seal_keys":' + bad + b"}")


def test_heartbeat_with_a_bool_count_is_refused() -> None:
    body = (
        b'{"v":1,"agent":"cedoka/0.1.0","sent_at":1,"time_floor":1,"feed_seq":true,'
        b'"keyring_version":1,"spool":{},"printers":[],"journal_head":null,"last_errors":[]}'
    )
    with pytest.raises(WireError):
        parse_heartbeat(body)


def test_heartbeat_update_member_round_trip_and_optional() -> None:
    """§12 ``update``: the last self-update attempt; omitted when there is none."""
    beat = Heartbeat("cedoka/0.2.0", T0, T0, 1, 1, {}, (), None, ())
    assert b'"update"' not in heartbeat_body(beat)
    assert parse_heartbeat(heartbeat_body(beat)).update is None
    for report in (UpdateReport(T0, "rolled_back", "0.3.0", "unhealthy"),
                   UpdateReport(T0, "updated", "0.2.0")):  # fmt: skip
        body = heartbeat_body(Heartbeat("cedoka/0.2.0", T0, T0, 1, 1, {}, (), None, (),
                                        update=report))  # fmt: skip
        assert parse_heartbeat(body).update == report
    assert b'"update":{"at":%d,"reason":null,"result":"updated","version":"0.2.0"}' % T0 in body
    with_null = heartbeat_body(beat)[:-1] + b',"update":null}'
    assert parse_heartbeat(with_null).update is None  # null: the same as absent


@pytest.mark.parametrize("update", [
    b'{"at":1,"result":"exploded","version":"0.2.0","reason":null}',
    b'{"at":1,"result":"failed","version":"v2","reason":null}',
    b'{"at":1,"result":"failed","version":"0.2.0","reason":"Not A Code"}',
    b'{"at":-1,"result":"failed","version":"0.2.0","reason":null}',
    b'"rolled_back"',
    b'{"at":1,"result":"failed","version":"0.2.0"}',  # reason is required (string or null)
])  # fmt: skip
def test_heartbeat_with_a_bad_update_member_is_refused(update: bytes) -> None:
    body = (
        b'{"v":1,"agent":"cedoka/0.1.0","sent_at":1,"time_floor":1,"feed_seq":1,'
        b'"keyring_version":1,"spool":{},"printers":[],"journal_head":null,"last_errors":[],'
        b'"update":' + update + b"}"
    )
    with pytest.raises(WireError):
        parse_heartbeat(body)


def test_feed_round_trip() -> None:
    sim = DistrictSim()
    response = FeedResponse(head=sim.head(), jobs=(sim.job().token,), keyring=sim.keyring_token())
    assert parse_feed(feed_body(response)) == response


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Login to the hotspot</body></html>",  # captive portal
        b'{"v":1,"head":"x","jobs":[]}',
        b'{"v":2,"head":"a.b.c","jobs":[]}',
        b"",
    ],
)
def test_feed_that_is_not_v1_is_a_wire_error(body: bytes) -> None:
    with pytest.raises(WireError):
        parse_feed(body)


def test_error_body() -> None:
    error = ErrorBody("rate_limited", "Too many requests", retry_after_s=30)
    assert parse_error(error_body(error)) == error
    with pytest.raises(WireError):
        parse_error(b"<html>502 Bad Gateway</html>")


def test_event_for_another_district_or_an_impossible_state_is_rejected() -> None:
    from dataclasses import replace

    with pytest.raises(RejectedError) as caught:
        verify_report(
            sign_report(REPORT, KEY),
            device_id=DEVICE,
            device_key=KEY.public_key(),
            district_code="16.12",
        )
    assert caught.value.reason is Reason.WRONG_AUDIENCE
    impossible = replace(REPORT, event=JobEvent.HAND_OVER, state=JobState.FAILED)
    with pytest.raises(RejectedError) as caught:
        _verify(sign_report(impossible, KEY))
    assert caught.value.reason is Reason.BAD_CLAIM
