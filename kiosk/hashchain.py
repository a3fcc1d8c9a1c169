"""A hash chain of records: what the kiosk's audit trail (:mod:`kiosk.audit`) and the
district's admin audit log (:mod:`kiosk.admin_audit`) share.

Record ``n`` carries ``prev``, the hash of record ``n - 1`` (for the first, a genesis value
of its owner, so two owners' chains never join), and its own ``hash`` = base64url(SHA-256 of
the canonical JSON of its other members). Editing, deleting or reordering a record breaks
the chain there, which :func:`chain_problems` names. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from kiosk.b64 import b64u_encode
from kiosk.strictjson import canonical_dumps


class Link(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def prev(self) -> str: ...
    @property
    def hash(self) -> str: ...


L = TypeVar("L", bound=Link)


def genesis(prefix: bytes, owner: str) -> str:
    """The ``prev`` of an owner's first record (``owner``: ASCII, e.g. a device id)."""
    return b64u_encode(hashlib.sha256(prefix + owner.encode("ascii")).digest())


def content_hash(members: Mapping[str, object]) -> str:
    """A record's hash: base64url SHA-256 of the canonical JSON of its members."""
    return b64u_encode(hashlib.sha256(canonical_dumps(members)).digest())


def chain_problems(records: Iterable[L], *, first_prev: str,
                   rehash: Callable[[L], str]) -> list[str]:  # fmt: skip
    """Problems in a chain, in seq order (empty: intact from seq 1). ``rehash`` computes a
    record's hash from its content. Each problem is a short English sentence naming the
    seq: a gap, a broken link, or a record whose hash does not match its content."""
    problems: list[str] = []
    expected_seq, expected_prev = 1, first_prev
    for record in sorted(records, key=lambda r: r.seq):
        if record.seq != expected_seq:
            problems.append(f"records {expected_seq}..{record.seq - 1} are missing")
        elif record.prev != expected_prev:
            problems.append(f"record {record.seq} does not follow record {record.seq - 1}")
        if rehash(record) != record.hash:
            problems.append(f"record {record.seq} was altered")
        expected_seq, expected_prev = record.seq + 1, record.hash
    return problems
