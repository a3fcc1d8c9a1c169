"""The district's own audit log: every action of district IT, from any door.

Append-only and hash-chained like the kiosk's trail (:mod:`kiosk.audit`, ADR 0015): record
``n`` carries the hash of record ``n - 1`` and its own hash, base64url(SHA-256(canonical
JSON of its other members)); the first record's ``prev`` is the district's genesis value.
Editing, deleting or reordering a record breaks the chain there (:func:`check_chain`).

A record names who (a user id, ``token:<id>`` for a system, ``cli`` for the local command
line on the server host), the action (``user.add``, ``job.push``, ``device.revoke`` …),
the outcome keyword, target ids (job, office, device, user, token) and the request's
address — never a resident's name, a NIK, a password, a secret or document content: every
member is checked against a narrow pattern on construction.

Pure: no I/O; the caller stores records and passes the time.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from kiosk import hashchain
from kiosk.strictjson import canonical_dumps

GENESIS_PREFIX: Final = b"cedoka/1|admin-audit|"
ACTOR: Final = re.compile(r"cli|token:[a-z0-9]{12}|[a-z][a-z0-9._-]{1,31}")
ACTION: Final = re.compile(r"[a-z]+(?:_[a-z]+)*\.[a-z]+(?:_[a-z]+)*")
KEYWORD: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
TARGET_KINDS: Final = frozenset({"job", "office", "device", "user", "token", "code",
                                 "key", "webhook", "release", "operator"})  # fmt: skip
TARGET_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_TARGETS: Final = 8


@dataclass(frozen=True, slots=True)
class AdminEntry:
    """What district IT did; validated on construction (no free text can slip in)."""

    at_s: int
    actor: str
    action: str
    outcome: str  # ok, refused, failed, locked …
    targets: tuple[tuple[str, str], ...] = ()  # (kind, id), e.g. ("job", "job_01…")
    remote: str | None = None  # the request's address; None for the local command line

    def __post_init__(self) -> None:
        if self.at_s < 0:
            raise ValueError("admin audit time is negative")
        if not ACTOR.fullmatch(self.actor):
            raise ValueError("admin audit actor is not an id")
        if not ACTION.fullmatch(self.action):
            raise ValueError("admin audit action is not a noun.verb keyword")
        if not KEYWORD.fullmatch(self.outcome):
            raise ValueError("admin audit outcome is not a keyword")
        if len(self.targets) > MAX_TARGETS:
            raise ValueError("too many admin audit targets")
        for kind, target in self.targets:
            if kind not in TARGET_KINDS or not TARGET_ID.fullmatch(target):
                raise ValueError("admin audit target is not (kind, id)")
        if self.remote is not None:
            ipaddress.ip_address(self.remote)  # ValueError: not an address


@dataclass(frozen=True, slots=True)
class AdminRecord:
    seq: int  # 1, 2, 3 … per district
    prev: str
    hash: str
    entry: AdminEntry


def genesis(district_code: str) -> str:
    """The ``prev`` of a district's first record."""
    return hashchain.genesis(GENESIS_PREFIX, district_code)


def members(seq: int, prev: str, entry: AdminEntry) -> dict[str, object]:
    """The record's members as stored and hashed (the hash excluded)."""
    out: dict[str, object] = {
        "seq": seq, "prev": prev, "at": entry.at_s, "actor": entry.actor,
        "action": entry.action, "outcome": entry.outcome,
        "targets": [[kind, target] for kind, target in entry.targets],
    }  # fmt: skip
    if entry.remote is not None:
        out["remote"] = entry.remote
    return out


def append(prev: AdminRecord | None, entry: AdminEntry, *, district_code: str) -> AdminRecord:
    """The record that follows ``prev`` (None: the first one)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = genesis(district_code) if prev is None else prev.hash
    return AdminRecord(seq, prev_hash, hashchain.content_hash(members(seq, prev_hash, entry)),
                       entry)  # fmt: skip


def check_chain(records: Iterable[AdminRecord], *, district_code: str) -> list[str]:
    """Problems in the chain, in seq order (empty: intact from seq 1), as
    :func:`kiosk.hashchain.chain_problems` words them."""
    return hashchain.chain_problems(
        records, first_prev=genesis(district_code),
        rehash=lambda r: hashchain.content_hash(members(r.seq, r.prev, r.entry)),
    )  # fmt: skip


def record_bytes(record: AdminRecord) -> bytes:
    """What is stored of a record: the canonical JSON of its members (hash excluded)."""
    return canonical_dumps(members(record.seq, record.prev, record.entry))


def record_from_bytes(data: bytes, hash_: str) -> AdminRecord:
    """A stored record read back (its members validated again; the hash is not checked
    here: :func:`check_chain` does). Raises ValueError for a record that is not one."""
    values = json.loads(data)
    if not isinstance(values, dict):
        raise ValueError("an admin audit record is a JSON object")
    try:
        targets = tuple((str(kind), str(target)) for kind, target in values["targets"])
        remote = values.get("remote")
        entry = AdminEntry(
            at_s=int(values["at"]), actor=str(values["actor"]), action=str(values["action"]),
            outcome=str(values["outcome"]), targets=targets,
            remote=None if remote is None else str(remote),
        )  # fmt: skip
        return AdminRecord(int(values["seq"]), str(values["prev"]), hash_, entry)
    except (KeyError, TypeError) as error:
        raise ValueError(f"an admin audit record lacks a member: {error}") from None
