"""The shared logging formatter and the journald detection."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from cedoka_io.logs import LogfmtFormatter, under_journald

AT = 1_795_000_000.123  # 2026-11-18T11:06:40.123Z


def _record(msg: str, args: tuple[object, ...] = ()) -> logging.LogRecord:
    record = logging.LogRecord("cedoka.x", logging.INFO, __file__, 1, msg, args, None)
    record.created = AT
    return record


def test_context_pairs_added_later_follow_the_logger() -> None:
    formatter = LogfmtFormatter()
    formatter.context["device"] = "dev_1"
    assert formatter.format(_record("event=agent_started")) == (
        "ts=2026-11-18T11:06:40.123Z level=info logger=cedoka.x device=dev_1 event=agent_started"
    )


def test_the_context_given_is_copied_not_shared() -> None:
    given = {"device": "dev_1"}
    formatter = LogfmtFormatter(given, journald=True)
    given["device"] = "dev_2"
    assert (
        formatter.format(_record("event=x")) == "<6>level=info logger=cedoka.x device=dev_1 event=x"
    )


def test_a_traceback_stays_in_the_record_under_journald() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "cedoka.x", logging.ERROR, __file__, 1, "event=failed", (), sys.exc_info()
        )
    lines = LogfmtFormatter(journald=True).format(record).splitlines()
    assert lines[0] == "<3>level=error logger=cedoka.x event=failed"
    assert all(line.startswith("<3>") for line in lines)
    assert lines[-1] == "<3>    ValueError: boom"


def test_journald_only_when_stderr_is_the_stream_systemd_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    st = os.fstat(sys.stderr.fileno())
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    assert not under_journald()
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")
    assert not under_journald()  # stderr was redirected away from the journal
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    assert under_journald()
