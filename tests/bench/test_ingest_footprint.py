"""Smoke runs of the ingest and footprint benchmarks at tiny sizes: every figure is there, is
positive, has a positive baseline measured in the same run and says what limits it; and the
forwarder's HTTP meter reads messages right. Never a timed assertion."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import pytest

from bench import footprint, ingest
from bench.result import Figure, table
from bench.wire import HttpMeter, Message
from kiosk.pdfcheck import inspect_pdf

pytestmark = [pytest.mark.slow, pytest.mark.loopback]


def _check(figures: Sequence[Figure], count: int) -> None:
    assert len(figures) == count
    assert len({f.name for f in figures}) == count
    for figure in figures:
        assert figure.limit and figure.unit and figure.baseline_name, figure
        assert figure.baseline is not None and figure.baseline > 0, figure
        assert figure.ratio is not None and math.isfinite(figure.ratio), figure
        if figure.unit == "%":  # a few clock ticks over a short idle window: may round to 0
            assert figure.value >= 0, figure
        else:
            assert figure.value > 0, figure
    assert table(figures)


def test_the_document_is_a_one_page_a4_pdf_of_the_size_asked() -> None:
    for size in (100_000, 1_000_000):
        pdf = ingest.make_document(size)
        assert abs(len(pdf) - size) < 3000
        facts = inspect_pdf(pdf)
        assert facts.page_count == 1 and facts.all_pages_a4


def test_the_meter_splits_http_messages_and_their_essential_headers() -> None:
    pending: deque[str] = deque()
    seen: list[Message] = []
    up, down = HttpMeter(True, pending, seen), HttpMeter(False, pending, seen)
    request = (
        b"GET /v1/feed?after=0 HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\nAuthorization: C t\r\n\r\n"
    )
    for byte in range(len(request)):  # one byte at a time: heads split anywhere
        up.feed(request[byte : byte + 1], 1.0)
    body = b'{"jobs":[],"v":1}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nServer: u\r\n\r\n%s" % (len(body), body)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    up.feed(b"POST /v1/events HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 2.0)
    down.feed(answer + chunked, 3.0)
    assert [(m.up, m.endpoint, m.wire_bytes) for m in seen] == [
        (True, "feed", len(request)), (True, "events", 49),
        (False, "feed", len(answer)), (False, "events", len(chunked)),
    ]  # fmt: skip
    assert seen[0].essential_bytes == len(request) - len(b"User-Agent: x\r\n")
    assert seen[2].essential_bytes == len(answer) - len(b"Server: u\r\n")
    assert not seen[2].has_jobs
    assert not up.broken and not down.broken


def test_ingest_runs_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "QUICK_JOBS", 3)
    _check(ingest.run(quick=True), 5)


def test_footprint_runs_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(footprint, "QUICK_IDLE_S", 6.0)
    monkeypatch.setattr(footprint, "QUICK_BURST", 3)
    _check(footprint.run(quick=True), 8)
