"""Feed answers whose head the real district's own key signed with the times a test picks:
a district (or anything replaying its answers) that stops confirming the feed. TEST-ONLY."""

from __future__ import annotations

import json
import time

from kiosk.issue import sign_head
from kiosk.model import FeedHead
from tests.district.conftest import Server


def district_head(server: Server, device_id: str, *, iat: int, exp: int, seq: int = 0) -> bytes:
    """A head for ``device_id`` signed with the district's active job-signing key."""
    now = int(time.time())
    version, _ = server.keys.keyring(now_s=now)
    head = FeedHead(
        device_id=device_id, issuer=server.keys.district_code, seq=seq, issued_at_s=iat,
        expires_at_s=exp, cancelled=frozenset(), keyring_version=version,
    )  # fmt: skip
    return sign_head(head, server.keys.active_signer(now_s=now))


def feed_answer(head: bytes) -> bytes:
    """A v1 feed answer (protocol 6.2) with ``head`` and no jobs."""
    return json.dumps({"v": 1, "head": head.decode("ascii"), "jobs": []}).encode()
