"""The committed protocol v1 vectors (tests/vectors/v1.json) against the real recipe.

The file is the reference for other implementations; this test pins the Python one to it:
every valid message verifies with exactly the expected outcome, every JWS re-signs to the
same bytes, canonical JSON reproduces the sealed display text, every negative case fails
with exactly its reason, and every sealed blob opens only with its own HPKE ``info``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.claim import ClaimParams, damm_check_digit, match_claim
from kiosk.errors import Reason, RejectedError
from kiosk.jose import sign_compact
from kiosk.keys import fingerprint_code, public_jwk, raw_public, thumbprint
from kiosk.model import Keyring, VerifiedJob
from kiosk.seal import display_info, document_info, open_sealed
from kiosk.strictjson import canonical_dumps
from kiosk.verify import (
    TrustState,
    verify_document,
    verify_head,
    verify_keyring,
    verify_manifest,
)
from kiosk.wire import (
    display_plaintext,
    head_claims,
    keyring_claims,
    manifest_claims,
    parse_display,
    parse_head,
    parse_keyring,
    parse_manifest,
)

VECTOR_FILE = Path(__file__).resolve().parents[1] / "vectors" / "v1.json"
V: dict[str, Any] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
KEYS: dict[str, Any] = V["TEST_ONLY_keys"]
NOW_S: int = V["now_s"]
DEVICE_ID: str = V["device_id"]
JOBS: dict[str, dict[str, Any]] = {job["name"]: job for job in V["jobs"]}
EXPECTED: dict[str, dict[str, Any]] = {e["job_id"]: e for e in V["expected"]}
NEGATIVE: dict[str, dict[str, Any]] = {case["name"]: case for case in V["negative"]}

ROOT = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex(KEYS["district_root"]["private_seed_hex"])
)
SIGNERS = {
    entry["kid"]: Ed25519PrivateKey.from_private_bytes(bytes.fromhex(entry["private_seed_hex"]))
    for entry in (KEYS["job_signer"], KEYS["retired_job_signer"])
}
SEAL = X25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS["device_seal"]["private_hex"]))
SEAL_KEYS = {KEYS["device_seal"]["seal_kid"]: SEAL}


def _job_id(job: dict[str, Any]) -> str:
    return str(job["claims"]["jti"])


# --- trust states -------------------------------------------------------------------------


@cache
def enrolled() -> TrustState:
    """Root pinned and the vector's keyring verified; no head yet."""
    keyring = verify_keyring(
        V["keyring"]["token"].encode(),
        district_code=V["district_code"],
        root_key=ROOT.public_key(),
        current=None,
    )
    return TrustState(
        district_code=V["district_code"],
        device_id=DEVICE_ID,
        root_key=ROOT.public_key(),
        keyring=keyring,
        head=None,
        time_floor_s=0,
    )


@cache
def synced() -> TrustState:
    """As :func:`enrolled`, plus the vector's head verified and stored (floor raised)."""
    trust = enrolled()
    head = verify_head(V["head"]["token"].encode(), trust=trust, local_now_s=NOW_S)
    return replace(trust, head=head, time_floor_s=max(trust.time_floor_s, head.issued_at_s))


def verified(token: str) -> VerifiedJob:
    return verify_manifest(
        token.encode("utf-8"),
        trust=synced(),
        local_now_s=NOW_S,
        is_known=lambda job_id: False,
        seal_keys=SEAL_KEYS,
    )


# --- the keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "section", ["district_root", "job_signer", "retired_job_signer", "device_auth", "device_seal"]
)
def test_keys_are_the_published_test_only_derivations(section: str) -> None:
    entry = KEYS[section]
    secret_hex = entry.get("private_seed_hex", entry.get("private_hex"))
    secret = bytes.fromhex(secret_hex)
    assert secret == hashlib.sha256(b"TEST-ONLY " + entry["label"].encode()).digest()
    private: Ed25519PrivateKey | X25519PrivateKey
    if section == "device_seal":
        private = X25519PrivateKey.from_private_bytes(secret)
    else:
        private = Ed25519PrivateKey.from_private_bytes(secret)
    public = private.public_key()
    assert raw_public(public).hex() == entry["public_hex"]
    assert public_jwk(public) == entry["public_jwk"]
    assert thumbprint(public) == entry["thumbprint"]
    assert "TEST-ONLY" in KEYS["WARNING"]


def test_root_kid_and_fingerprint() -> None:
    root = KEYS["district_root"]
    assert root["kid"] == thumbprint(ROOT.public_key()) == V["keyring"]["kid"]
    assert root["fingerprint_code"] == fingerprint_code(ROOT.public_key())
    assert KEYS["device_seal"]["seal_kid"] == thumbprint(SEAL.public_key())


# --- (b) every JWS re-signs to the committed bytes ---------------------------------------


def _signed_entries() -> dict[str, dict[str, Any]]:
    entries = {"keyring": V["keyring"], "head": V["head"]}
    entries.update({f"job:{name}": job for name, job in JOBS.items()})
    return entries


@pytest.mark.parametrize("name", sorted(_signed_entries()))
def test_resigning_the_claims_reproduces_the_token(name: str) -> None:
    entry = _signed_entries()[name]
    kid = entry["kid"]
    key = ROOT if kid == KEYS["district_root"]["kid"] else SIGNERS[kid]
    token = sign_compact(entry["claims"], typ=entry["typ"], kid=kid, key=key)
    assert token == entry["token"].encode("ascii")
    header_b64, payload_b64, _ = entry["token"].split(".")
    assert b64u_decode(header_b64) == canonical_dumps(entry["header"])
    assert entry["header"] == {"alg": "Ed25519", "kid": kid, "typ": entry["typ"]}
    assert b64u_decode(payload_b64) == canonical_dumps(entry["claims"])


def test_claims_round_trip_through_the_wire_module() -> None:
    assert keyring_claims(parse_keyring(V["keyring"]["claims"])) == V["keyring"]["claims"]
    assert head_claims(parse_head(V["head"]["claims"])) == V["head"]["claims"]
    for job in JOBS.values():
        assert manifest_claims(parse_manifest(job["claims"])) == job["claims"]


# --- (a) the valid messages verify with exactly the expected outcome ---------------------


def test_keyring_and_head_verify() -> None:
    keyring = enrolled().keyring
    assert keyring_claims(keyring) == V["keyring"]["claims"]
    assert {entry.kid for entry in keyring.keys} == set(SIGNERS)
    head = synced().head
    assert head is not None
    assert head_claims(head) == V["head"]["claims"]
    assert head.seq >= max(e["seq"] for e in V["expected"])
    # re-presenting the same keyring is accepted (same version, same content)
    again = verify_keyring(
        V["keyring"]["token"].encode(),
        district_code=V["district_code"],
        root_key=ROOT.public_key(),
        current=keyring,
    )
    assert again == keyring


def test_every_valid_job_has_an_expected_outcome() -> None:
    assert [_job_id(job) for job in V["jobs"]] == [e["job_id"] for e in V["expected"]]
    assert {job["claims"]["release"] for job in V["jobs"]} == {"claim", "staff", "auto"}
    assert any(len(job["documents"]) >= 2 for job in V["jobs"])


@pytest.mark.parametrize("name", sorted(JOBS))
def test_valid_job_verifies_with_the_expected_outcome(name: str) -> None:
    job = JOBS[name]
    expected = EXPECTED[_job_id(job)]
    result = verified(job["token"])
    m, display = result.manifest, result.display
    outcome = {
        "job_id": m.job_id,
        "device_id": m.device_id,
        "issuer": m.issuer,
        "office_code": m.office_code,
        "seq": m.seq,
        "issued_at_s": m.issued_at_s,
        "expires_at_s": m.expires_at_s,
        "release": m.release.value,
        "ticket": {
            "sides": m.ticket.sides.value,
            "media": m.ticket.media,
            "scaling": m.ticket.scaling,
        },
        "signer_kid": result.signer_kid,
        "seal_kid": m.seal_kid,
        "resident_masked": display.resident_masked,
        "has_claim_verifier": display.claim is not None,
        "documents": [],
    }
    titles = {t.doc_id: t.title for t in display.titles}
    for ref, doc in zip(m.documents, job["documents"], strict=True):
        opened = verify_document(
            result, ref.doc_id, b64u_decode(doc["sealed_b64u"]), seal_keys=SEAL_KEYS
        )
        assert opened.pdf == b64u_decode(doc["pdf_b64u"])
        outcome["documents"].append(
            {
                "doc_id": ref.doc_id,
                "doc_type": opened.doc_type,
                "copies": ref.copies,
                "size": ref.sealed_size,
                "title": titles[ref.doc_id],
                "page_count": opened.page_count,
                "all_pages_a4": opened.all_pages_a4,
            }
        )
    assert outcome == expected
    assert result.token == job["token"].encode("ascii")


@pytest.mark.parametrize("name", sorted(JOBS))
def test_sealed_documents_have_the_signed_size_and_hash(name: str) -> None:
    job = JOBS[name]
    refs = {d["id"]: d for d in job["claims"]["docs"]}
    for doc in job["documents"]:
        sealed = b64u_decode(doc["sealed_b64u"])
        digest = hashlib.sha256(sealed).digest()
        assert len(sealed) == doc["size"] == refs[doc["doc_id"]]["size"]
        assert digest.hex() == doc["sha256_hex"]
        assert b64u_encode(digest) == doc["sha256_b64u"] == refs[doc["doc_id"]]["sha256"]


def test_claim_code_matches_offline() -> None:
    [job] = [job for job in JOBS.values() if "claim" in job]
    claim = job["claim"]
    assert claim["code"][-1] == damm_check_digit(claim["code"][:-1])
    verifier = verified(job["token"]).display.claim
    assert verifier is not None
    assert verifier.params == ClaimParams(m_kib=claim["m_kib"], t=claim["t"], p=claim["p"])
    assert verifier.params == ClaimParams(m_kib=19456, t=1, p=1)
    job_id = _job_id(job)
    for typed in (claim["code"], claim["code_display"]):
        assert match_claim(typed, device_id=DEVICE_ID, candidates={job_id: verifier}) == [job_id]
    data = "1" + claim["code"][1:-1]
    wrong = data + damm_check_digit(data)
    assert wrong != claim["code"]
    assert match_claim(wrong, device_id=DEVICE_ID, candidates={job_id: verifier}) == []
    other_device = DEVICE_ID[:-1] + ("0" if DEVICE_ID[-1] != "0" else "1")
    assert match_claim(claim["code"], device_id=other_device, candidates={job_id: verifier}) == []


# --- (c) canonical display plaintext -------------------------------------------------------


@pytest.mark.parametrize("name", sorted(JOBS))
def test_display_plaintext_is_canonical_and_is_what_was_sealed(name: str) -> None:
    job = JOBS[name]
    plain = job["display_plaintext"].encode("utf-8")
    assert display_plaintext(parse_display(plain)) == plain
    assert job["display_info"] == display_info(DEVICE_ID, _job_id(job)).decode("ascii")
    opened = open_sealed(
        b64u_decode(job["display_sealed_b64u"]), SEAL, info=job["display_info"].encode("ascii")
    )
    assert opened == plain
    assert job["claims"]["display"] == job["display_sealed_b64u"]


# --- (d) negative cases -------------------------------------------------------------------

REQUIRED_NEGATIVE = {
    "tampered_payload",
    "alg_none",
    "alg_eddsa",
    "alg_hs256_public_key_as_secret",
    "missing_kid",
    "unknown_kid",
    "unknown_crit",
    "jku_header",
    "other_typ",
    "duplicate_key_payload",
    "float",
    "two_segments",
    "expired",
    "wrong_audience",
    "blob_longer_than_signed",
    "blob_truncated",
    "blob_bit_flipped",
    "blob_of_job_a_for_job_b",
    "keyring_rollback",
}


def test_negative_cases_cover_the_required_threats() -> None:
    assert len(NEGATIVE) == len(V["negative"]), "negative case names are unique"
    assert set(NEGATIVE) >= REQUIRED_NEGATIVE
    assert {case["kind"] for case in V["negative"]} == {"keyring", "head", "manifest", "document"}
    for case in V["negative"]:
        Reason(case["expected_reason"])  # every expected reason is a wire reason


def _run_negative(case: dict[str, Any]) -> None:
    kind = case["kind"]
    if kind == "keyring":
        verify_keyring(
            case["token"].encode("utf-8"),
            district_code=V["district_code"],
            root_key=ROOT.public_key(),
            current=enrolled().keyring,
        )
    elif kind == "head":
        trust = synced() if case.get("with_stored_head") else enrolled()
        verify_head(case["token"].encode("utf-8"), trust=trust, local_now_s=NOW_S)
    elif kind == "manifest":
        verified(case["token"])
    elif kind == "document":
        if "token" in case:
            job = verified(case["token"])  # the carrier manifest itself is valid
        else:
            [carrier] = [j for j in JOBS.values() if _job_id(j) == case["job_id"]]
            job = verified(carrier["token"])
        assert job.manifest.job_id == case["job_id"]
        verify_document(job, case["doc_id"], b64u_decode(case["blob_b64u"]), seal_keys=SEAL_KEYS)
    else:
        raise AssertionError(f"unknown kind {kind!r}")


@pytest.mark.parametrize("name", [case["name"] for case in V["negative"]])
def test_negative_case_is_rejected_with_its_reason(name: str) -> None:
    case = NEGATIVE[name]
    with pytest.raises(RejectedError) as caught:
        _run_negative(case)
    assert caught.value.reason == Reason(case["expected_reason"]), caught.value


def test_keyring_rollback_is_relative_to_the_vector_keyring() -> None:
    current: Keyring = enrolled().keyring
    rollback = NEGATIVE["keyring_rollback"]["token"].encode()
    assert json.loads(b64u_decode(rollback.split(b".")[1].decode()))["ver"] < current.version
    # accepted by a kiosk that has never seen the newer keyring: the rollback is relative
    older = verify_keyring(
        rollback, district_code=V["district_code"], root_key=ROOT.public_key(), current=None
    )
    assert older.version < current.version


# --- (e) sealed blobs open only with their own info ----------------------------------------


def _sealed_blobs() -> list[tuple[str, bytes, bytes, bytes]]:
    """(label, sealed, info, plaintext) for every sealed blob of the valid jobs."""
    blobs = []
    for job in V["jobs"]:
        blobs.append(
            (
                f"{job['name']}:display",
                b64u_decode(job["display_sealed_b64u"]),
                job["display_info"].encode("ascii"),
                job["display_plaintext"].encode("utf-8"),
            )
        )
        for doc in job["documents"]:
            blobs.append(
                (
                    f"{job['name']}:{doc['doc_id']}",
                    b64u_decode(doc["sealed_b64u"]),
                    doc["info"].encode("ascii"),
                    b64u_decode(doc["pdf_b64u"]),
                )
            )
    return blobs


def _other_infos(info: bytes) -> set[bytes]:
    """Every other info in the file, plus near misses of this one."""
    infos = {blob_info for _, _, blob_info, _ in _sealed_blobs()}
    text = info.decode("ascii")
    infos |= {
        text.replace("cedoka/1", "cedoka/2").encode(),
        text.replace(DEVICE_ID, DEVICE_ID[:-1] + "Z").encode(),
        text.replace("|doc|", "|display|").encode(),
        text.replace("|display|", "|doc|").encode(),
        info + b"|",
        info[:-1],
        b"",
    }
    infos.discard(info)
    return infos


@pytest.mark.parametrize("label", [label for label, _, _, _ in _sealed_blobs()])
def test_sealed_blob_opens_only_with_its_own_info(label: str) -> None:
    [(_, sealed, info, plain)] = [b for b in _sealed_blobs() if b[0] == label]
    assert open_sealed(sealed, SEAL, info=info) == plain
    for other in sorted(_other_infos(info)):
        with pytest.raises(RejectedError) as caught:
            open_sealed(sealed, SEAL, info=other)
        assert caught.value.reason is Reason.OPEN_FAILED
    wrong_key = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"TEST-ONLY other").digest())
    with pytest.raises(RejectedError):
        open_sealed(sealed, wrong_key, info=info)


def test_committed_infos_follow_the_documented_rule() -> None:
    for job in V["jobs"]:
        for doc in job["documents"]:
            assert doc["info"] == document_info(DEVICE_ID, _job_id(job), doc["doc_id"]).decode()
            assert doc["info"] == f"cedoka/1|doc|{DEVICE_ID}|{_job_id(job)}|{doc['doc_id']}"
        assert job["display_info"] == f"cedoka/1|display|{DEVICE_ID}|{_job_id(job)}"


# --- the generator ------------------------------------------------------------------------


def test_generator_refuses_to_overwrite_the_committed_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.vectors.generate import main

    before = VECTOR_FILE.read_bytes()
    assert main([]) == 1
    assert VECTOR_FILE.read_bytes() == before
    assert "--force" in capsys.readouterr().err


# HPKE draws a fresh ephemeral key per seal: these members (and nothing else) differ per run.
HPKE_DEPENDENT = {
    ".jobs[].token",
    ".jobs[].claims.display",
    ".jobs[].claims.docs[].sha256",
    ".jobs[].display_sealed_b64u",
    ".jobs[].documents[].sealed_b64u",
    ".jobs[].documents[].sha256_b64u",
    ".jobs[].documents[].sha256_hex",
    ".negative[].token",
    ".negative[].blob_b64u",
}


def _differences(a: object, b: object, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            yield f"{path} (members)"
            return
        for key in a:
            yield from _differences(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path} (length)"
            return
        for item_a, item_b in zip(a, b, strict=True):
            yield from _differences(item_a, item_b, f"{path}[]")
    elif type(a) is not type(b) or a != b:
        yield path


def test_generator_reproduces_everything_but_the_hpke_output() -> None:
    """generate.py and the committed file agree: only HPKE-dependent bytes differ."""
    from tests.vectors.generate import build

    fresh = json.loads(json.dumps(build(), ensure_ascii=False))
    assert set(_differences(fresh, V)) <= HPKE_DEPENDENT
