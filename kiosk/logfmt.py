"""Log lines in logfmt (``key=value`` pairs), the one format of every Cedoka log.

A line: ``[ts=…] level=info logger=cedoka.agent.sync device=dev_… event=job_state job=…``.
Log messages are written as logfmt pairs that start with ``event=`` (and carry only ids,
states, reasons and numbers: never a name, a NIK or a claim code); any other message
(a library's) becomes one quoted ``msg="…"`` pair. Under journald the timestamp is left out
(the journal stamps each line) and the syslog priority prefix ``<N>`` carries the level.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-]+")
# RFC 5424 severities, for journald's "<N>" line prefix.
PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


def logfmt_value(value: str) -> str:
    """``value`` as is when it needs no quotes, else double-quoted with \\, " and control
    characters escaped (one line always stays one line)."""
    if _BARE.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c >= " " else f"\\x{ord(c):02x}" for c in escaped)
    return f'"{escaped}"'


def event_message(template: str, args: tuple[object, ...]) -> str:
    """``template % args`` for a message of logfmt pairs (``event=x path=%s n=%d``) with each
    argument escaped by :func:`logfmt_value` first (numbers go as they are): a value from a
    request (a path, a header, a peer's text) stays one value, whatever it holds.

    Raises:
        TypeError, ValueError: ``args`` do not fit ``template`` (as ``%`` would).
    """
    escaped = tuple(arg if isinstance(arg, int | float) else logfmt_value(str(arg)) for arg in args)
    return template % escaped


def record_message(template: object, args: object) -> str:
    """The message of a log record (``record.msg``, ``record.args``): an ``event=…``
    template with a tuple of arguments through :func:`event_message`; a template that does
    not fit its arguments is still one escaped line; anything else as ``%`` makes it."""
    text = str(template)
    if not (text.startswith("event=") and isinstance(args, tuple) and args):
        return text % args if args else text
    try:
        return event_message(text, args)
    except (TypeError, ValueError):  # a broken call: still one line, escaped
        return f"event=log_format_error template={logfmt_value(text)}"


def log_line(
    *, level: str, logger: str, message: str, context: Mapping[str, str], at_s: float,
    journald: bool,
) -> str:  # fmt: skip
    """One log line (without the newline) for a record made at ``at_s`` (Unix time).

    ``message`` goes as is when it is already logfmt pairs (``event=…``); the further lines
    of a multi-line message (a traceback) follow indented, each with the priority prefix
    under journald (which stores every line as an entry of its own).
    """
    stamp = datetime.fromtimestamp(at_s, UTC).isoformat(timespec="milliseconds")
    head = [] if journald else [f"ts={stamp.replace('+00:00', 'Z')}"]
    head += [f"level={level.lower()}", f"logger={logfmt_value(logger)}"]
    first, _, rest = message.partition("\n")
    body = first if first.startswith("event=") else f"msg={logfmt_value(first)}"
    said = {pair.partition("=")[0] for pair in body.split(" ")}
    head += [f"{key}={logfmt_value(value)}" for key, value in context.items() if key not in said]
    prefix = f"<{PRIORITY.get(level, 6)}>" if journald else ""
    lines = [prefix + " ".join([*head, body])]
    lines += [f"{prefix}    {part}" for part in rest.splitlines()]
    return "\n".join(lines)
