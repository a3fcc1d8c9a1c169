"""Property tests of every parser that sees bytes from outside.

The contract: a parser either returns a value or raises the project's own error
(``WireError`` for parsing, ``RejectedError`` for anything the recipe refuses) - never a
``KeyError``, ``TypeError``, ``RecursionError``, ``UnicodeError`` or a library's exception -
and a mutated signed token is never accepted. Valid values round-trip.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk.b64 import b64u_decode, b64u_encode
from kiosk.claim import MAX_M_KIB, MAX_P, MAX_T, MIN_M_KIB, MIN_P, MIN_T, ClaimParams, ClaimVerifier
from kiosk.doctypes import DOCUMENT_TYPES_PRINTABLE
from kiosk.errors import Reason, RejectedError, WireError
from kiosk.ids import CROCKFORD
from kiosk.jose import verify_compact
from kiosk.limits import (
    MAX_COPIES,
    MAX_DISPLAY_SEALED_BYTES,
    MAX_DOCUMENT_SEALED_BYTES,
    MAX_DOCUMENTS_PER_JOB,
    MAX_JSON_DEPTH,
    MAX_KEYS_IN_KEYRING,
    MAX_MANIFEST_BYTES,
    MAX_SAFE_INT,
    TYP_MANIFEST,
)
from kiosk.model import (
    DisplayData,
    DocumentRef,
    DocumentTitle,
    FeedHead,
    JobManifest,
    KeyEntry,
    Keyring,
    PrintTicket,
    ReleaseMode,
    Sides,
    VerifiedJob,
)
from kiosk.strictjson import canonical_dumps, loads_strict
from kiosk.verify import verify_manifest
from kiosk.wire import (
    MAX_DISPLAY_PLAIN_BYTES,
    display_plaintext,
    head_claims,
    keyring_claims,
    manifest_claims,
    parse_display,
    parse_head,
    parse_keyring,
    parse_manifest,
)
from tests.sim.district import DistrictSim, KioskHarness, forge_compact, make_pdf

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
BIG = 1 << 20

# --- JSON values ---------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


def node_depth(value: object, depth: int = 0) -> int:
    """The deepest position of any value in the tree (the top level is 0)."""
    if isinstance(value, dict):
        return max([depth, *(node_depth(v, depth + 1) for v in value.values())])
    if isinstance(value, list):
        return max([depth, *(node_depth(v, depth + 1) for v in value)])
    return depth


def only_wire_errors(call: Callable[[], object]) -> object | None:
    """Run ``call``; a WireError is fine (returns None), anything else propagates."""
    try:
        return call()
    except WireError:
        return None


# --- strictjson ----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
@example(b"[" * 100_000)
@example(b'{"a":1,"a":1}')
@example(b"\xef\xbb\xbf{}")
@example(b'"\xed\xa0\x80"')  # a UTF-8-encoded surrogate
@example(b"1" * 5000)
def test_loads_strict_on_arbitrary_bytes_raises_only_wire_error(data: bytes) -> None:
    value = only_wire_errors(lambda: loads_strict(data, max_bytes=BIG))
    if value is not None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        assert loads_strict(text.encode(), max_bytes=BIG) == value


@FUZZ
@given(st.text(max_size=200))
def test_loads_strict_on_arbitrary_text_raises_only_wire_error(text: str) -> None:
    only_wire_errors(lambda: loads_strict(text.encode("utf-8"), max_bytes=BIG))


@FUZZ
@given(json_values, st.booleans())
def test_valid_json_round_trips_through_canonical_dumps(value: object, pretty: bool) -> None:
    encoded = json.dumps(value, indent=1 if pretty else None).encode()  # \u-escaped, spaced
    if node_depth(value) > MAX_JSON_DEPTH:
        try:
            loads_strict(encoded, max_bytes=BIG)
        except WireError as error:
            assert error.reason is Reason.MALFORMED
        else:
            raise AssertionError("nested deeper than MAX_JSON_DEPTH was accepted")
        return
    parsed = loads_strict(encoded, max_bytes=BIG)
    canonical = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert (
        json.dumps(parsed, ensure_ascii=False, separators=(",", ":"), sort_keys=True) == canonical
    )
    if isinstance(value, dict | list):
        assert canonical_dumps(parsed) == canonical.encode()  # type: ignore[arg-type]
        assert loads_strict(canonical_dumps(parsed), max_bytes=BIG) == parsed  # type: ignore[arg-type]


@st.composite
def poisoned(draw: st.DrawFn) -> tuple[str, Reason]:
    """Valid JSON text with exactly one thing protocol v1 forbids injected into it."""
    inner = json.dumps(draw(json_values.filter(lambda v: node_depth(v) <= 2)))
    kind = draw(
        st.sampled_from(["duplicate", "float", "huge", "surrogate", "surrogate_key", "deep"])
    )
    if kind == "duplicate":
        key = json.dumps(draw(st.text(max_size=5)))
        return "{" + f"{key}:{inner},{key}:0" + "}", Reason.DUPLICATE_KEY
    if kind == "float":
        number = draw(
            st.floats(allow_nan=True, allow_infinity=True).map(json.dumps)
            | st.sampled_from(["1.0", "-0.0", "1e5", "1E-5", "2e0", "0.5"])
        )
        return f"[{inner},{number}]", Reason.BAD_TYPE
    if kind == "huge":
        number = draw(
            st.integers(min_value=MAX_SAFE_INT + 1, max_value=10**40).map(str)
            | st.integers(min_value=-(10**40), max_value=-MAX_SAFE_INT - 1).map(str)
            | st.integers(min_value=17, max_value=6000).map(lambda n: "9" * n)
        )
        return f"[{number},{inner}]", Reason.BAD_TYPE
    if kind in {"surrogate", "surrogate_key"}:
        escape = f'"\\u{draw(st.integers(min_value=0xD800, max_value=0xDFFF)):04x}"'
        if kind == "surrogate_key":
            return "{" + f"{escape}:{inner}" + "}", Reason.MALFORMED
        return f"[{inner},{escape}]", Reason.MALFORMED
    levels = draw(st.integers(min_value=MAX_JSON_DEPTH + 2, max_value=3000))  # node at depth 9+
    return "[" * levels + "]" * levels, Reason.MALFORMED


@FUZZ
@given(st.data())
def test_loads_strict_rejects_each_forbidden_construct(data: st.DataObject) -> None:
    text, reason = data.draw(poisoned())
    try:
        loads_strict(text.encode(), max_bytes=BIG)
    except WireError as error:
        assert error.reason is reason, (text[:80], error)
    else:
        raise AssertionError(f"accepted {text[:80]!r}")


def test_loads_strict_depth_boundary() -> None:
    ok = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)  # deepest node at depth 8
    assert loads_strict(ok.encode(), max_bytes=BIG) is not None
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "1" + "]" * (MAX_JSON_DEPTH + 1)
    try:
        loads_strict(too_deep.encode(), max_bytes=BIG)
    except WireError as error:
        assert error.reason is Reason.MALFORMED
    else:
        raise AssertionError("accepted a value at depth 9")


# --- base64url -----------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=100) | st.text(alphabet=B64URL_ALPHABET + "=+/ \n", max_size=100))
def test_b64u_decode_on_arbitrary_text_raises_only_wire_error(text: str) -> None:
    data = only_wire_errors(lambda: b64u_decode(text))
    if data is not None:
        assert b64u_encode(data) == text  # only the one canonical spelling decodes


@FUZZ
@given(st.binary(max_size=200))
def test_b64u_round_trip(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text
    assert b64u_decode(text) == data


@FUZZ
@given(st.binary(min_size=1, max_size=64).filter(lambda d: len(d) % 3), st.data())
def test_b64u_rejects_non_canonical_spellings(data: bytes, draw: st.DataObject) -> None:
    text = b64u_encode(data)
    unused_bits = 4 if len(data) % 3 == 1 else 2
    mask = draw.draw(st.integers(min_value=1, max_value=(1 << unused_bits) - 1))
    last = B64URL_ALPHABET[B64URL_ALPHABET.index(text[-1]) ^ mask]
    for spelling in (text[:-1] + last, text + "=" * (-len(text) % 4)):
        try:
            b64u_decode(spelling)
        except WireError as error:
            assert error.reason is Reason.MALFORMED
        else:
            raise AssertionError(f"accepted non-canonical {spelling!r}")


@FUZZ
@given(st.text(alphabet=B64URL_ALPHABET, max_size=60).map(lambda t: t[: len(t) - (len(t) - 1) % 4]))
def test_b64u_rejects_impossible_lengths(text: str) -> None:
    if len(text) % 4 != 1:  # only empty text is left: it is valid
        assert b64u_decode(text) == b""
        return
    try:
        b64u_decode(text)
    except WireError as error:
        assert error.reason is Reason.MALFORMED
    else:
        raise AssertionError(f"accepted {text!r} of length 1 mod 4")


# --- compact JWS -----------------------------------------------------------------------------


@cache
def world() -> tuple[DistrictSim, KioskHarness, dict[str, bytes]]:
    """One district, one enrolled kiosk with a verified head, and valid tokens."""
    sim = DistrictSim()
    kiosk = KioskHarness(sim)
    staff = sim.job()
    bundle = sim.job(
        release=ReleaseMode.AUTO, docs=(("KK", make_pdf()), ("AKTA_LAHIR", make_pdf()))
    )
    kiosk.take_head(sim.head())
    return sim, kiosk, {"staff": staff.token, "bundle": bundle.token}


def job_key_lookup(kid: str) -> Any:
    sim, _, _ = world()
    return sim.signers[kid].public_key() if kid in sim.signers else None


def check_compact(token: bytes) -> None:
    """verify_compact must raise RejectedError: nothing here is a validly signed token."""
    try:
        verify_compact(token, typ=TYP_MANIFEST, keys=job_key_lookup, max_bytes=MAX_MANIFEST_BYTES)
    except RejectedError:
        return
    raise AssertionError(f"accepted {token[:60]!r}")


@FUZZ
@given(st.binary(max_size=300))
def test_verify_compact_on_arbitrary_bytes(token: bytes) -> None:
    check_compact(token)


header_values = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["Ed25519", "EdDSA", "none", "HS256"]) | json_scalars,
        "kid": st.sampled_from(["job-2026a", "", "x" * 65]) | json_scalars,
        "typ": st.sampled_from([TYP_MANIFEST, "JWT"]) | json_scalars,
        "crit": json_values,
        "jku": json_scalars,
        "b64": st.booleans(),
    },
)
segment = (
    st.text(alphabet=B64URL_ALPHABET, max_size=120)
    | st.binary(max_size=90).map(b64u_encode)
    | json_values.map(lambda v: b64u_encode(json.dumps(v).encode()))
)


@FUZZ
@given(header_values.map(lambda h: b64u_encode(json.dumps(h).encode())) | segment, segment, segment)
def test_verify_compact_on_arbitrary_three_part_strings(
    header: str, payload: str, sig: str
) -> None:
    check_compact(f"{header}.{payload}.{sig}".encode())


def mutations(token: bytes) -> st.SearchStrategy[bytes]:
    n = len(token)
    flip = st.tuples(st.integers(0, n - 1), st.integers(1, 255)).map(
        lambda t: token[: t[0]] + bytes([token[t[0]] ^ t[1]]) + token[t[0] + 1 :]
    )
    drop = st.integers(0, n - 1).map(lambda i: token[:i] + token[i + 1 :])
    insert = st.tuples(st.integers(0, n), st.integers(0, 255)).map(
        lambda t: token[: t[0]] + bytes([t[1]]) + token[t[0] :]
    )
    return flip | drop | insert


@FUZZ
@given(st.data())
def test_verify_compact_never_accepts_a_mutated_token(data: st.DataObject) -> None:
    _, _, tokens = world()
    token = tokens["staff"]
    verify_compact(token, typ=TYP_MANIFEST, keys=job_key_lookup, max_bytes=MAX_MANIFEST_BYTES)
    mutated = data.draw(mutations(token))
    assert mutated != token
    check_compact(mutated)


# --- wire parsers: model values ------------------------------------------------------------

ids = {
    prefix: st.text(alphabet=CROCKFORD, min_size=26, max_size=26).map(
        lambda s, p=prefix: f"{p}_{s}"
    )
    for prefix in ("job", "doc", "dev")
}
district_codes = st.from_regex(r"[0-9]{2}\.[0-9]{2}", fullmatch=True)
office_codes = st.from_regex(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[123][0-9]{3}", fullmatch=True)
safe_ints = st.integers(min_value=0, max_value=MAX_SAFE_INT)
printable = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


@st.composite
def times(draw: st.DrawFn) -> tuple[int, int]:
    start = draw(st.integers(min_value=0, max_value=MAX_SAFE_INT - 1))
    return start, draw(st.integers(min_value=start + 1, max_value=MAX_SAFE_INT))


@st.composite
def manifests(draw: st.DrawFn) -> JobManifest:
    doc_ids = draw(st.lists(ids["doc"], min_size=1, max_size=MAX_DOCUMENTS_PER_JOB, unique=True))
    iat, exp = draw(times())
    return JobManifest(
        job_id=draw(ids["job"]),
        device_id=draw(ids["dev"]),
        issuer=draw(district_codes),
        office_code=draw(office_codes),
        seq=draw(st.integers(min_value=1, max_value=MAX_SAFE_INT)),
        issued_at_s=iat,
        expires_at_s=exp,
        release=draw(st.sampled_from(ReleaseMode)),
        ticket=PrintTicket(sides=draw(st.sampled_from(Sides))),
        documents=tuple(
            DocumentRef(
                doc_id=doc_id,
                doc_type=draw(st.sampled_from(sorted(DOCUMENT_TYPES_PRINTABLE))),
                copies=draw(st.integers(min_value=1, max_value=MAX_COPIES)),
                sealed_size=draw(st.integers(min_value=1, max_value=MAX_DOCUMENT_SEALED_BYTES)),
                sealed_sha256=draw(st.binary(min_size=32, max_size=32)),
            )
            for doc_id in doc_ids
        ),
        seal_kid=draw(st.text(alphabet=B64URL_ALPHABET, min_size=43, max_size=43)),
        display_sealed=draw(st.binary(max_size=MAX_DISPLAY_SEALED_BYTES)),
    )


@st.composite
def heads(draw: st.DrawFn) -> FeedHead:
    iat, exp = draw(times())
    return FeedHead(
        device_id=draw(ids["dev"]),
        issuer=draw(district_codes),
        seq=draw(safe_ints),
        issued_at_s=iat,
        expires_at_s=exp,
        cancelled=frozenset(draw(st.lists(ids["job"], max_size=20))),
        keyring_version=draw(st.integers(min_value=1, max_value=MAX_SAFE_INT)),
    )


@st.composite
def keyrings(draw: st.DrawFn) -> Keyring:
    kids = draw(
        st.lists(
            st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True),
            min_size=1,
            max_size=MAX_KEYS_IN_KEYRING,
            unique=True,
        )
    )
    entries = []
    for kid in kids:
        nbf, exp = draw(times())
        seed = draw(st.binary(min_size=32, max_size=32))
        entries.append(
            KeyEntry(kid, Ed25519PrivateKey.from_private_bytes(seed).public_key(), nbf, exp)
        )
    return Keyring(
        issuer=draw(district_codes),
        version=draw(st.integers(min_value=1, max_value=MAX_SAFE_INT)),
        issued_at_s=draw(safe_ints),
        keys=tuple(entries),
    )


@st.composite
def displays(draw: st.DrawFn) -> DisplayData:
    doc_ids = draw(st.lists(ids["doc"], min_size=1, max_size=MAX_DOCUMENTS_PER_JOB, unique=True))
    claim = None
    if draw(st.booleans()):
        params = ClaimParams(
            m_kib=draw(st.integers(MIN_M_KIB, MAX_M_KIB)),
            t=draw(st.integers(MIN_T, MAX_T)),
            p=draw(st.integers(MIN_P, MAX_P)),
        )
        claim = ClaimVerifier(params, draw(st.binary(min_size=32, max_size=32)))
    return DisplayData(
        resident_masked=draw(st.text(printable, min_size=1, max_size=80)),
        titles=tuple(
            DocumentTitle(d, draw(st.text(printable, min_size=1, max_size=120))) for d in doc_ids
        ),
        claim=claim,
    )


@FUZZ
@given(manifests())
def test_manifest_round_trip(manifest: JobManifest) -> None:
    assert parse_manifest(manifest_claims(manifest)) == manifest
    wire = canonical_dumps(manifest_claims(manifest))
    assert parse_manifest(loads_strict(wire, max_bytes=BIG)) == manifest  # type: ignore[arg-type]


non_ascii_digit = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@FUZZ
@given(st.lists(st.booleans(), min_size=13, max_size=13).filter(any), non_ascii_digit)
def test_region_codes_accept_only_ascii_digits(where: list[bool], digit: str) -> None:
    """``\\d`` would also match e.g. Arabic-Indic or fullwidth digits: codes are ASCII."""
    claims = copy.deepcopy(VALID["manifest"])
    office = "".join(
        digit if swap and char.isdigit() else char
        for char, swap in zip("74.08.01.2002", where, strict=True)
    )
    for member, value in (("office", office), ("iss", office[:5])):
        if value.isascii():
            continue
        try:
            parse_manifest({**claims, member: value})
        except WireError as error:
            assert error.reason is Reason.BAD_CLAIM
        else:
            raise AssertionError(f"accepted non-ASCII digits in {member}")


@FUZZ
@given(heads())
def test_head_round_trip(head: FeedHead) -> None:
    assert parse_head(head_claims(head)) == head


@FEW
@given(keyrings())
def test_keyring_round_trip(keyring: Keyring) -> None:
    assert parse_keyring(keyring_claims(keyring)) == keyring


@FUZZ
@given(displays())
def test_display_round_trip_within_the_size_cap(display: DisplayData) -> None:
    plain = display_plaintext(display)
    if len(plain) > MAX_DISPLAY_PLAIN_BYTES:
        try:
            parse_display(plain)
        except WireError as error:
            assert error.reason is Reason.TOO_LARGE
        else:
            raise AssertionError("display data above the cap was accepted")
        return
    assert parse_display(plain) == display
    assert display_plaintext(parse_display(plain)) == plain


# --- wire parsers: arbitrary and mutated claims ---------------------------------------------

ALL_MEMBERS = sorted(
    {
        "v",
        "iss",
        "aud",
        "jti",
        "seq",
        "iat",
        "exp",
        "office",
        "release",
        "ticket",
        "docs",
        "seal_kid",
        "display",
        "cancelled",
        "kr",
        "ver",
        "keys",
        "resident",
        "claim",
    }
)


def parse_display_dict(claims: object) -> object:
    return parse_display(canonical_dumps(claims))  # type: ignore[arg-type]


PARSERS: dict[str, Callable[[Any], object]] = {
    "manifest": parse_manifest,
    "head": parse_head,
    "keyring": parse_keyring,
    "display": parse_display_dict,
}


@FUZZ
@given(
    st.sampled_from(sorted(PARSERS)),
    st.dictionaries(st.sampled_from(ALL_MEMBERS) | st.text(max_size=6), json_values, max_size=14),
    st.booleans(),
)
def test_parsers_on_arbitrary_dicts_raise_only_wire_error(
    which: str, claims: dict[str, object], with_version: bool
) -> None:
    if with_version:
        claims["v"] = 1
    only_wire_errors(lambda: PARSERS[which](claims))


def valid_claims() -> dict[str, dict[str, object]]:
    sim = DistrictSim()
    job = sim.job(docs=(("KK", make_pdf()), ("SKET", make_pdf())))
    claim_display = DisplayData(
        "S*** N*******",
        (DocumentTitle("doc_01JD0000000000000000000001", "Kartu Keluarga"),),
        ClaimVerifier(ClaimParams(19456, 1, 1), bytes(32)),
    )
    return {
        "manifest": manifest_claims(job.manifest),
        "head": head_claims(
            FeedHead(sim.device_id, "74.08", 3, 10, 20, frozenset({job.manifest.job_id}), 1)
        ),
        "keyring": keyring_claims(sim.keyring()),
        "display": json.loads(display_plaintext(claim_display)),
    }


VALID = valid_claims()


def paths(value: object, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def get(value: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


replacements = st.one_of(
    json_scalars,
    json_values,
    st.sampled_from(
        [
            True,
            False,
            None,
            0,
            -1,
            2**53,
            -(2**53),
            10**30,
            2**63,
            "",
            "x" * 10_000,
            "A" * 10_000,
            [],
            {},
            [None],
            {"": None},
            "dev_01JD0000000000000000000001",
        ]
    ),
)


@st.composite
def mutated_claims(draw: st.DrawFn, base: dict[str, object]) -> dict[str, object]:
    """``base`` with one mutation: a member deleted, a value replaced (another JSON type,
    bool for int, huge int, empty or 10k-character string), or an array item appended."""
    claims = copy.deepcopy(base)
    path = draw(st.sampled_from(list(paths(claims))))
    target = get(claims, path)
    operation = draw(st.sampled_from(["delete", "replace", "bool_for_int", "append"]))
    if path and operation == "delete":
        parent = get(claims, path[:-1])
        del parent[path[-1]]
        return claims
    if operation == "bool_for_int" and isinstance(target, int) and not isinstance(target, bool):
        value: object = draw(st.booleans())
    elif operation == "append" and isinstance(target, list):
        target.append(draw(replacements | st.just(copy.deepcopy(target[0]) if target else None)))
        return claims
    else:
        value = draw(replacements)
    if not path:
        return value  # type: ignore[return-value]
    get(claims, path[:-1])[path[-1]] = value
    return claims


@FUZZ
@given(st.data())
def test_parsers_on_mutated_valid_claims_raise_only_wire_error(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(sorted(PARSERS)))
    claims = data.draw(mutated_claims(VALID[which]))
    result = only_wire_errors(lambda: PARSERS[which](claims))
    if result is not None and which == "manifest":  # a harmless mutation: still round-trips
        assert parse_manifest(manifest_claims(result)) == result  # type: ignore[arg-type]


def test_valid_claims_parse() -> None:
    for which, parse in PARSERS.items():
        assert parse(VALID[which]) is not None


# --- the recipe through the simulator harness ----------------------------------------------


def run_recipe(token: bytes) -> object:
    _, kiosk, _ = world()
    return verify_manifest(
        token,
        trust=kiosk.state,
        local_now_s=kiosk.local_now_s,
        is_known=lambda job_id: False,
        seal_keys=kiosk.seal_keys,
    )


@FUZZ
@given(st.sampled_from(["staff", "bundle"]), st.data())
def test_verify_manifest_never_accepts_a_mutated_token(which: str, data: st.DataObject) -> None:
    _, _, tokens = world()
    token = tokens[which]
    run_recipe(token)  # the unmutated token passes
    mutated = data.draw(mutations(token))
    try:
        run_recipe(mutated)
    except RejectedError:
        return
    raise AssertionError(f"accepted a mutated token {mutated[:60]!r}")


@FUZZ
@given(st.sampled_from(["staff", "bundle"]), st.data())
def test_verify_manifest_on_resigned_mutated_claims_raises_only_rejected_error(
    which: str, data: st.DataObject
) -> None:
    """Signed garbage: every check after the signature sees hostile claims."""
    sim, _, tokens = world()
    header_b64, payload_b64, _ = tokens[which].decode().split(".")
    claims = json.loads(b64u_decode(payload_b64))
    mutated = data.draw(mutated_claims(claims))
    payload = json.dumps(mutated, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    token = forge_compact(b64u_decode(header_b64), payload.encode(), sim.signers["job-2026a"])
    try:
        result = run_recipe(token)
    except RejectedError:
        return
    assert isinstance(result, VerifiedJob)  # a harmless mutation (e.g. another copy count)
