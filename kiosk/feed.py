"""The feed response and the error body: the two JSON envelopes around signed tokens.

``GET /v1/feed`` answers ``{"v":1, "head": JWS, "jobs": [JWS, …], "keyring": JWS?,
"root": [[JWS, JWS], …]?, "operators": JWS?}`` (``root``: the root chain, with a keyring after a
root rotation; ``operators``: the office operator list, protocol 6.6). The
envelope itself is not signed: every token inside is, and the agent verifies the keyring
(if present) first, then the head, then each job (``kiosk.verify``). Each job token and the
keyring token are checked on their own by that recipe (size cap, structure, …), so one bad
token is refused with its own reason and spoils no other; only an envelope that is not a v1
feed answer at all (not strict JSON, ``v`` ≠ 1, no valid head, ``jobs`` not an array of at
most 50) is refused whole. Any non-2xx answer carries
``{"error": {"code", "message", "retry_after_s"?}}`` — a captive portal's HTML or anything
else that does not parse is a transport failure, never data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk import PROTOCOL_VERSION
from kiosk.errors import Reason, WireError
from kiosk.fields import Fields
from kiosk.limits import (
    MAX_FEED_RESPONSE_BYTES,
    MAX_HEAD_BYTES,
    MAX_JOBS_PER_FEED,
    MAX_ROOT_LINKS,
)
from kiosk.strictjson import canonical_dumps, loads_object

_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
ROOT_LINK_TOKENS = 2  # a link of the root chain: signed by the previous root, by the new one
_CODE = re.compile(r"[a-z][a-z0-9_]{0,47}")
MAX_ERROR_BYTES = 4096


@dataclass(frozen=True, slots=True)
class FeedResponse:
    """The tokens of one feed answer, still unverified."""

    head: bytes
    jobs: tuple[bytes, ...]  # every string item of ``jobs``, in order, unchecked
    keyring: bytes | None
    refused: tuple[Reason, ...] = ()  # why items of ``jobs`` that are not strings were dropped
    # the root chain (§6.5): links (signed by root ver - 1, signed by root ver), oldest first
    root: tuple[tuple[bytes, bytes], ...] | None = None
    operators: bytes | None = None  # the office operator list (protocol 6.6), unchecked


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """A district error: machine code, English message, optional retry hint."""

    code: str
    message: str
    retry_after_s: int | None = None


def feed_body(response: FeedResponse) -> bytes:
    """Serialize a feed answer (district side)."""
    body: dict[str, object] = {
        "v": PROTOCOL_VERSION,
        "head": response.head.decode("ascii"),
        "jobs": [job.decode("ascii") for job in response.jobs],
    }
    if response.keyring is not None:
        body["keyring"] = response.keyring.decode("ascii")
    if response.root is not None:
        body["root"] = [[first.decode("ascii"), second.decode("ascii")]
                        for first, second in response.root]  # fmt: skip
    if response.operators is not None:
        body["operators"] = response.operators.decode("ascii")
    return canonical_dumps(body)


def _optional_token(f: Fields, name: str) -> bytes | None:
    """The feed member ``name`` (a compact JWS), or None when absent."""
    if not f.has(name):
        return None
    value = f.raw(name)
    if not isinstance(value, str):
        raise WireError(Reason.BAD_CLAIM, f"feed.{name}: expected a compact JWS")
    return value.encode("utf-8")


def parse_feed(data: bytes) -> FeedResponse:
    """Parse a feed answer (kiosk side); the tokens are verified afterwards, each on its own.

    A string item of ``jobs`` is passed on as it is, whatever it holds: the recipe refuses
    a bad one with its own reason (``too_large``, ``malformed``, ``bad_alg`` …) and goes on
    with the rest. An item that is not a string is dropped and its reason (``malformed``)
    listed in ``refused``. The same holds for a ``keyring`` and an ``operators`` string.

    Raises:
        WireError: too large, not strict JSON, UNSUPPORTED_VERSION, BAD_CLAIM (the head is
            not a compact JWS within its cap, ``jobs`` is not an array of at most 50 items,
            ``keyring`` or ``operators`` is not a string).
    """
    f = Fields(loads_object(data, max_bytes=MAX_FEED_RESPONSE_BYTES), "feed")
    f.version()
    head = f.text("head", pattern=_JWS, max_len=MAX_HEAD_BYTES).encode("ascii")
    jobs, refused = [], []
    for item in f.array("jobs", max_items=MAX_JOBS_PER_FEED):
        if isinstance(item, str):
            jobs.append(item.encode("utf-8"))
        else:
            refused.append(Reason.MALFORMED)
    keyring = _optional_token(f, "keyring")
    root = None
    if f.has("root"):
        links = []
        for link in f.array("root", min_items=1, max_items=MAX_ROOT_LINKS):
            if (not isinstance(link, list) or len(link) != ROOT_LINK_TOKENS
                    or not all(isinstance(token, str) for token in link)):  # fmt: skip
                raise WireError(Reason.BAD_CLAIM, "feed.root[]: expected two compact JWS")
            links.append((link[0].encode("utf-8"), link[1].encode("utf-8")))
        root = tuple(links)
    operators = _optional_token(f, "operators")
    return FeedResponse(head=head, jobs=tuple(jobs), keyring=keyring, refused=tuple(refused),
                        root=root, operators=operators)  # fmt: skip


def error_body(error: ErrorBody) -> bytes:
    """Serialize an error answer."""
    inner: dict[str, object] = {"code": error.code, "message": error.message}
    if error.retry_after_s is not None:
        inner["retry_after_s"] = error.retry_after_s
    return canonical_dumps({"error": inner})


def parse_error(data: bytes) -> ErrorBody:
    """Parse an error answer.

    Raises:
        WireError: anything that is not a v1 error body (e.g. a captive portal's HTML).
    """
    e = Fields(loads_object(data, max_bytes=MAX_ERROR_BYTES), "error").nested("error")
    return ErrorBody(
        code=e.text("code", pattern=_CODE, max_len=48),
        message=e.text("message", max_len=500),
        retry_after_s=e.integer("retry_after_s", high=86400) if e.has("retry_after_s") else None,
    )
