"""The district link: the port through which the agent's sync and reporter reach the district.

Declared here as a ``Protocol`` (as python-tuf declares its fetcher) so that ``Syncer`` and
``Reporter`` depend on what they call, not on the HTTP client. Two implementations:

- :class:`agent.client.DistrictClient` — the real one, HTTP with a fresh proof per request;
  it maps every foreign error (requests, urllib3, ssl, socket) at its boundary.
- ``tests.sim.district.DistrictSim`` — the in-memory test double: it answers the feed,
  serves blobs and records the events and heartbeats it receives, without HTTP.

Errors an implementation raises are the agent's own, never a library's:
``agent.client.LinkDownError`` (a ``TransportError``: the link failed, retry with backoff),
``kiosk.errors.RejectedError`` (the district refused, with a ``Reason``) and, for a blob,
``kiosk.errors.GoneError``. A link is used by one thread at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey


class DistrictLink(Protocol):
    """What the agent asks of its district (protocol sections 6, 8, 11.3 and 12)."""

    clock_offset_s: int
    """Estimate of district time minus local time (protocol 5.3). Sync sets it from each
    verified head's ``iat``; the link may correct it itself (the HTTP client does after a
    401 ``expired``)."""

    def feed(self, *, after: int, keyring_version: int, wait_s: int,
             operators_version: int = 0) -> bytes:  # fmt: skip
        """``GET /v1/feed``: the raw body of a v1 feed answer (``kiosk.feed.parse_feed``
        parses it), waiting up to ``wait_s`` (1…60) seconds for news after seq ``after``.

        Raises:
            LinkDownError (also BAD_ANSWER when the answer is not a v1 feed); RejectedError
            (DEVICE_REVOKED, UNKNOWN_DEVICE, a refused proof, …). ValueError: arguments out
            of range.
        """
        ...

    def download_blob(
        self, job_id: str, doc_id: str, *, part: Path, size: int, etag: str, deadline_s: float
    ) -> int:
        """Fetch the sealed document ``doc_id`` of ``job_id`` into ``part``, resuming what
        the file already holds, never writing more than ``size`` bytes; ``etag`` is the
        manifest's ``sha256`` (base64url). Returns the bytes received in this call. The
        file's hash is the caller's to check.

        Raises:
            LinkDownError (DEADLINE, SIZE_MISMATCH, TRUNCATED, …); GoneError (not_found,
            job_cancelled, job_expired, job_purged); RejectedError. OSError: the part file.
        """
        ...

    def post_events(self, tokens: list[bytes]) -> list[tuple[str | None, str, str | None]]:
        """``POST /v1/events``: one ``(id, status, reason)`` per token, in order; status is
        "stored", "duplicate" or "rejected" (then ``reason`` is a Reason code).

        Raises:
            LinkDownError; RejectedError (MALFORMED, TOO_LARGE, DEVICE_REVOKED, …). ValueError:
            not 1…100 tokens.
        """
        ...

    def post_heartbeat(self, body: bytes) -> int | None:
        """``POST /v1/heartbeat`` with a ``kiosk.report.heartbeat_body``; returns the
        answer's ``server_time`` (None if it has none).

        Raises:
            LinkDownError; RejectedError (MALFORMED, TOO_LARGE, DEVICE_REVOKED, …).
        """
        ...

    def post_seal_key(self, key: X25519PrivateKey) -> str:
        """``POST /v1/device/seal-key`` (protocol 14.2) with ``key``'s public JWK; returns
        the answer's ``seal_kid``. Idempotent.

        Raises:
            LinkDownError; RejectedError (MALFORMED, DEVICE_REVOKED, …).
        """
        ...

    def close(self) -> None:
        """Release the link's connections (nothing to do for an in-memory link). Raises
        nothing."""
        ...
