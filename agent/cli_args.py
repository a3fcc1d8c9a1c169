"""The ``cedoka`` command line's argument types: every value is checked while the arguments
are parsed, before any command touches the home, the district or a printer. A bad value is
argparse's usage error (one ``cedoka …: error: argument …: <why>`` line, exit status 2),
never a traceback half-way through a command.

Each check is the rule that the value meets later (the claim code's, the event's operator
id, the operator book's, ``agent.toml``'s), so what passes here is never refused for its
form afterwards. Messages never echo a secret (a claim or enrolment code)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from kiosk.audit import OPERATOR
from kiosk.claim import normalize_claim_code
from kiosk.config import PrinterRole, parse_printer_target, parse_server_url
from kiosk.enroll import parse_enroll_code
from kiosk.errors import ClaimError, ConfigError, WireError
from kiosk.lifecycle import is_operator_id

MAX_WAIT_S = 3600.0
MAX_NAME_CHARS = 40


def claim_code(text: str) -> str:
    """A resident's claim code: 12 digits (spaces, dashes and dots allowed), check digit ok."""
    try:
        normalize_claim_code(text)
    except ClaimError as error:
        raise argparse.ArgumentTypeError(
            f"not a claim code ({error}): 12 digits, e.g. 1234 5678 9012"
        ) from None
    return text


def event_operator(text: str) -> str:
    """The staff id recorded in a job's events (protocol: ``[A-Za-z0-9._-]{1,32}``)."""
    if not is_operator_id(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a staff id: 1-32 letters, digits, '.', '_' or '-' (an id such "
            "as siti, never a name with spaces)"
        )
    return text


def operator_id(text: str) -> str:
    """An operator's id in the operator book: ``a-z 0-9 . _ -``, 1-32 characters."""
    if not OPERATOR.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an operator id: 1-32 small letters, digits, '.', '_' or '-' "
            "(e.g. siti)"
        )
    return text


def display_name(text: str) -> str:
    """An operator's name on the screen: 1-40 characters, no control characters."""
    name = " ".join(text.split())
    if not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise argparse.ArgumentTypeError(
            f'a name of 1-{MAX_NAME_CHARS} printable characters, e.g. "Siti Aminah"'
        )
    return text


def server_url(text: str) -> str:
    """The district server's URL, by ``agent.toml``'s rule (https://, or http:// to loopback)."""
    try:
        return parse_server_url(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def enrol_code(text: str) -> str:
    """A one-time enrolment code as district IT reads it out (base32, dashes allowed)."""
    try:
        parse_enroll_code(text)
    except WireError as error:
        raise argparse.ArgumentTypeError(f"not an enrolment code ({error})") from None
    return text


def printer_choice(text: str) -> str:
    """``ROLE=URI``: a role (``a4``, ``receipt``) and a URI that role accepts (kept as given)."""
    role, sep, uri = text.partition("=")
    if not sep or role not in {r.value for r in PrinterRole}:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give ROLE=URI with ROLE a4 or receipt (e.g. a4=cups:Kantor_A4)"
        )
    try:
        parse_printer_target(PrinterRole(role), uri)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    return text


def readable_file(text: str) -> Path:
    """A file that exists and can be read (a CA bundle)."""
    path = Path(text)
    try:
        with path.open("rb"):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error.strerror or error}") from None
    return path


def wait_seconds(text: str) -> float:
    """A wait in seconds: more than 0, at most an hour."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_WAIT_S:
        raise argparse.ArgumentTypeError(
            f"{text!r}: seconds, more than 0 and at most {MAX_WAIT_S:.0f}"
        )
    return value
