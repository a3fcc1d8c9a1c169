"""The spool keeps the claim verifier of each purged claim job (schema 4, ``spent_claims``)
for 90 days, so its code is answered for what became of the job (protocol 10.3); a spool of
schema 3 gains the table when opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent import spool as spool_module
from agent.spool import Spool
from agent.stored import SPENT_CLAIM_KEEP_S
from kiosk.claim import ClaimParams, ClaimVerifier
from kiosk.lifecycle import JobState

DAY_S = 86400


def verifier(n: int) -> ClaimVerifier:
    return ClaimVerifier(ClaimParams(m_kib=19456, t=1, p=1), bytes([n]) * 32)


def add_tombstone(spool: Spool, job_id: str) -> None:
    with sqlite3.connect(spool.path) as conn:
        conn.execute("INSERT INTO jobs (job_id, seq, state, reprints, updated_s, received_s) "
                     "VALUES (?, 1, 'purged', 0, 0, 0)", (job_id,))  # fmt: skip


def test_spent_claims_are_kept_with_their_outcome_then_forgotten(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    for job_id in ("job_a", "job_b", "job_c"):
        add_tombstone(spool, job_id)
    t0 = 1_700_000_000
    spool.keep_spent_claim("job_a", JobState.HANDED_OVER, verifier(1), spent_s=t0,
                           keep_s=SPENT_CLAIM_KEEP_S)  # fmt: skip
    spool.keep_spent_claim("job_a", JobState.CANCELLED, verifier(9), spent_s=t0 + 1,
                           keep_s=SPENT_CLAIM_KEEP_S)  # fmt: skip  # a repeated purge: kept once
    spool.keep_spent_claim("job_b", JobState.CANCELLED, verifier(2), spent_s=t0 + 30 * DAY_S,
                           keep_s=SPENT_CLAIM_KEEP_S)  # fmt: skip
    assert spool.spent_claims() == [("job_a", JobState.HANDED_OVER, verifier(1)),
                                    ("job_b", JobState.CANCELLED, verifier(2))]  # fmt: skip
    spool.keep_spent_claim("job_c", JobState.EXPIRED, verifier(3), spent_s=t0 + 91 * DAY_S,
                           keep_s=SPENT_CLAIM_KEEP_S)  # fmt: skip
    assert [j for j, _, _ in spool.spent_claims()] == ["job_b", "job_c"]  # job_a: > 90 days
    spool.close()


def test_a_schema_3_spool_gains_the_spent_claims(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(spool_module._SCHEMA + spool_module._SCHEMA_V2
                           + spool_module._SCHEMA_V3 + "PRAGMA user_version = 3;")  # fmt: skip
    spool = Spool(path)
    assert spool.spent_claims() == []
    spool.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == spool_module.SCHEMA_VERSION == 5
