"""Log lines: logfmt pairs, one record per line, levels for journald."""

from __future__ import annotations

import pytest

from kiosk.logfmt import log_line, logfmt_value

AT = 1_795_000_000.123  # 2026-11-18T11:06:40.123Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("dev_01ABC", "dev_01ABC"),
        ("cups:Office-A4", "cups:Office-A4"),
        ("", '""'),
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\x0abreak"'),
        ("back\\slash", '"back\\\\slash"'),
    ],
)
def test_values_are_quoted_only_when_needed(value: str, expected: str) -> None:
    assert logfmt_value(value) == expected


def test_an_event_message_is_kept_and_the_context_follows_the_logger() -> None:
    line = log_line(level="INFO", logger="cedoka.agent.jobs", at_s=AT, journald=False,
                    message="event=job_state job=job_1 state=printed reason=-",
                    context={"device": "dev_1"})  # fmt: skip
    assert line == ("ts=2026-11-18T11:06:40.123Z level=info logger=cedoka.agent.jobs "
                    "device=dev_1 event=job_state job=job_1 state=printed reason=-")  # fmt: skip


def test_a_library_message_becomes_one_quoted_pair() -> None:
    line = log_line(level="WARNING", logger="uvicorn.error", at_s=AT, journald=False,
                    message='Started server process [42] "x"', context={})  # fmt: skip
    assert line.endswith('level=warning logger=uvicorn.error '
                         'msg="Started server process [42] \\"x\\""')  # fmt: skip


def test_under_journald_no_timestamp_and_every_line_has_the_priority() -> None:
    line = log_line(level="ERROR", logger="cedoka.agent", at_s=AT, journald=True,
                    message="event=sync_error\nTraceback (most recent call last):\n  boom",
                    context={})  # fmt: skip
    assert line.splitlines() == [
        "<3>level=error logger=cedoka.agent event=sync_error",
        "<3>    Traceback (most recent call last):",
        "<3>      boom",
    ]


def test_a_context_pair_the_message_already_has_is_not_repeated() -> None:
    line = log_line(level="INFO", logger="cedoka.agent", at_s=AT, journald=True,
                    message="event=agent_started device=dev_1",
                    context={"device": "dev_1"})  # fmt: skip
    assert line == "<6>level=info logger=cedoka.agent event=agent_started device=dev_1"


@pytest.mark.parametrize("formatter", ["agent", "district"])
def test_both_log_formatters_escape_event_arguments(formatter: str) -> None:
    """A value that came from the other side (an error code, a path, a peer's text) stays
    one value in the agent's lines as in the district's: it cannot add a field or a line."""
    import logging

    from agent.logs import LogfmtFormatter as AgentFormatter
    from district.logs import LogfmtFormatter as DistrictFormatter

    record = logging.LogRecord(
        "cedoka.x", logging.WARNING, __file__, 1, "event=link_down code=%s n=%d",
        ("x level=critical\nevent=forged", 3), None,
    )  # fmt: skip
    kind = AgentFormatter if formatter == "agent" else DistrictFormatter
    assert kind(journald=True).format(record) == (
        "<4>level=warning logger=cedoka.x event=link_down"
        ' code="x level=critical\\x0aevent=forged" n=3'
    )


def test_a_message_that_does_not_fit_its_arguments_is_still_one_escaped_line() -> None:
    from kiosk.logfmt import record_message

    assert record_message("event=x a=%d", ("not a number",)) == (
        'event=log_format_error template="event=x a=%d"'
    )
    assert record_message("plain %s", ("text",)) == "plain text"
    assert record_message("no args", ()) == "no args"
