"""Unit tests of kiosk.config (the one config validator) and kiosk.doctypes."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.claim import LockoutPolicy
from kiosk.config import (
    DEFAULT_ROUTING,
    AgentConfig,
    CupsQueue,
    PrinterRole,
    PrinterTarget,
    SerialDevice,
    TcpEndpoint,
    UsbDevice,
    VirtualPath,
    agent_config_to_raw,
    check_printer_change,
    is_loopback_host,
    parse_printer_target,
    printer_for,
    role_for,
    validate_agent_config,
)
from kiosk.doctypes import (
    DOCUMENT_NAMES,
    DOCUMENT_TYPES_CARD,
    DOCUMENT_TYPES_PRINTABLE,
    document_name,
    is_printable_at_village,
)
from kiosk.errors import ConfigError, PrinterNotAllowedError

DEVICE = "dev_01JD3V6Q8X4M2T7R5W9Y0ZB1CE"


def minimal() -> dict[str, Any]:
    return {
        "server_url": "https://cedoka.kolakautarakab.go.id/api",
        "device_id": DEVICE,
        "district_code": "74.08",
        "office_code": "74.08.01.2002",
        "printers": {"a4": "cups:Kantor_Desa"},
    }


def full() -> dict[str, Any]:
    raw = minimal()
    raw.update(
        printers={"a4": "cups:Kantor", "receipt": "escpos:tcp://127.0.0.1:9100"},
        routing={"KK": "a4"},
        long_poll_wait_s=30,
        request_timeout_s=20,
        backoff_initial_s=2,
        backoff_max_s=120.5,
        download_deadline_s=900,
        max_document_bytes=50 * 1024 * 1024,
        heartbeat_interval_s=120,
        language="en",
        lockout={"max_failures": 3, "window_s": 300, "lock_s": 60, "max_lock_s": 600},
        job_leeway_s=0,
        max_reprints=10,
    )
    return raw


def refused(raw: dict[str, Any], field: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validate_agent_config(raw)
    assert caught.value.field == field, caught.value
    return caught.value


def with_(**changes: object) -> dict[str, Any]:
    raw = minimal()
    raw.update(changes)
    return raw


# --- valid configs and defaults ---------------------------------------------------------


def test_minimal_config_gets_the_defaults() -> None:
    cfg = validate_agent_config(minimal())
    assert cfg.printers == (
        PrinterTarget(PrinterRole.A4, "cups:Kantor_Desa", "cups", CupsQueue("Kantor_Desa")),
    )
    assert cfg.routing == DEFAULT_ROUTING
    assert {code for code, _ in cfg.routing} == DOCUMENT_TYPES_PRINTABLE
    assert (cfg.long_poll_wait_s, cfg.request_timeout_s) == (55, 30)
    assert (cfg.backoff_initial_s, cfg.backoff_max_s) == (1.0, 300.0)
    assert (cfg.download_deadline_s, cfg.max_document_bytes) == (600, 20 * 1024 * 1024)
    assert (cfg.heartbeat_interval_s, cfg.language) == (60, "id")
    assert cfg.lockout == LockoutPolicy()
    assert (cfg.job_leeway_s, cfg.max_reprints) == (60, 3)


def test_full_config() -> None:
    cfg = validate_agent_config(full())
    assert [t.role for t in cfg.printers] == [PrinterRole.A4, PrinterRole.RECEIPT]
    assert cfg.backoff_initial_s == 2.0 and isinstance(cfg.backoff_initial_s, float)
    assert cfg.lockout == LockoutPolicy(3, 300, 60, 600)
    assert cfg.language == "en" and cfg.max_reprints == 10 and cfg.job_leeway_s == 0


def test_config_is_frozen_and_keyword_only() -> None:
    cfg = validate_agent_config(minimal())
    with pytest.raises(AttributeError):
        cfg.language = "en"  # type: ignore[misc]
    with pytest.raises(TypeError):
        AgentConfig("https://x", DEVICE, "74.08", "74.08.01.2002", ())  # type: ignore[call-arg]


def test_round_trip() -> None:
    for raw in (minimal(), full()):
        cfg = validate_agent_config(raw)
        again = agent_config_to_raw(cfg)
        assert validate_agent_config(again) == cfg
        assert agent_config_to_raw(validate_agent_config(again)) == again
    assert agent_config_to_raw(validate_agent_config(full()))["lockout"] == full()["lockout"]


def test_validator_does_not_modify_its_input() -> None:
    raw = full()
    before = copy.deepcopy(raw)
    validate_agent_config(raw)
    assert raw == before


# --- invalid values, field by field -----------------------------------------------------


@pytest.mark.parametrize("key", ["server_url", "device_id", "district_code", "office_code"])
def test_required_keys(key: str) -> None:
    raw = minimal()
    del raw[key]
    refused(raw, key)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sever_url", "https://x"),  # typo of server_url
        ("long_poll_wait", 55),
        ("printer", {"a4": "cups:x"}),
        ("Language", "id"),
    ],
)
def test_unknown_key_refused_by_name(key: str, value: object) -> None:
    error = refused(with_(**{key: value}), key)
    assert "unknown" in error.problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("long_poll_wait_s", True),
        ("max_reprints", False),
        ("request_timeout_s", True),
        ("backoff_initial_s", True),
        ("long_poll_wait_s", 55.0),
        ("long_poll_wait_s", "55"),
        ("max_document_bytes", None),
        ("language", 1),
        ("server_url", b"https://x"),
        ("device_id", None),
        ("backoff_max_s", "300"),
    ],
)
def test_wrong_types_refused(key: str, value: object) -> None:
    error = refused(with_(**{key: value}), key)
    assert "must be" in error.problem


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("long_poll_wait_s", 4, False),
        ("long_poll_wait_s", 5, True),
        ("long_poll_wait_s", 60, True),
        ("long_poll_wait_s", 61, False),
        ("long_poll_wait_s", 301, False),
        ("request_timeout_s", 0, False),
        ("request_timeout_s", -30, False),
        ("download_deadline_s", 29, False),
        ("download_deadline_s", 86401, False),
        ("max_document_bytes", 1024 * 1024 - 1, False),
        ("max_document_bytes", 1024 * 1024, True),
        ("max_document_bytes", 100 * 1024 * 1024, True),
        ("max_document_bytes", 100 * 1024 * 1024 + 1, False),
        ("heartbeat_interval_s", 9, False),
        ("job_leeway_s", -1, False),
        ("job_leeway_s", 0, True),
        ("job_leeway_s", 300, True),
        ("job_leeway_s", 301, False),
        ("max_reprints", -1, False),
        ("max_reprints", 0, True),
        ("max_reprints", 11, False),
        ("backoff_initial_s", 0.05, False),
        ("backoff_initial_s", 0.5, True),
        ("backoff_initial_s", float("nan"), False),
        ("backoff_max_s", float("inf"), False),
        ("backoff_max_s", float("-inf"), False),
        ("backoff_max_s", 10**400, False),  # too big for a float
        ("max_reprints", 10**400, False),
        ("backoff_max_s", 0.5, False),
        ("language", "id", True),
        ("language", "en", True),
        ("language", "fr", False),
        ("language", "ID", False),
        ("language", "", False),
        ("device_id", "dev_01JD3V6Q8X4M2T7R5W9Y0ZB1C", False),  # 25 chars
        ("device_id", "dev_01JD3V6Q8X4M2T7R5W9Y0ZB1CEE", False),  # 27 chars
        ("device_id", "dev_01JD3V6Q8X4M2T7R5W9Y0ZB1CI", False),  # I is not Crockford
        ("device_id", "dev_01jd3v6q8x4m2t7r5w9y0zb1ce", False),  # lower case
        ("device_id", "job_01JD3V6Q8X4M2T7R5W9Y0ZB1CE", False),
        ("device_id", DEVICE + "\n", False),
        ("district_code", "7408", False),
        ("district_code", "74.8", False),
        ("district_code", "\u0667\u0664.\u0660\u0668", False),  # Arabic-Indic digits
    ],
)
def test_field_values(key: str, value: object, ok: bool) -> None:
    raw = with_(**{key: value})
    if key == "district_code":
        raw["office_code"] = f"{value}.01.2002"
    if ok:
        assert getattr(validate_agent_config(raw), key) == value
    else:
        refused(raw, key)


def test_backoff_max_must_not_be_below_initial() -> None:
    refused(with_(backoff_initial_s=10, backoff_max_s=5), "backoff_max_s")
    cfg = validate_agent_config(with_(backoff_initial_s=10, backoff_max_s=10))
    assert cfg.backoff_max_s == cfg.backoff_initial_s == 10.0


@pytest.mark.parametrize(
    ("office", "ok"),
    [
        ("74.08.01.2002", True),
        ("74.08.10.2007", True),
        ("74.08.01.1001", True),  # kelurahan
        ("74.08.01.3001", True),  # desa adat
        ("74.08.01.4001", False),  # no such kind
        ("74.08.01.200", False),
        ("74.08.01.20021", False),
        ("74.01.01.2002", False),  # Kolaka, not Kolaka Utara: not under the district
        ("16.12.02.2007", False),  # PALI
        ("74.08", False),
    ],
)
def test_office_code(office: str, ok: bool) -> None:
    raw = with_(office_code=office)
    if ok:
        assert validate_agent_config(raw).office_code == office
    else:
        refused(raw, "office_code")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cedoka.kolakautarakab.go.id", True),
        ("https://cedoka.kolakautarakab.go.id/", True),
        ("https://cedoka.kolakautarakab.go.id:8443/api/v1", True),
        ("https://10.0.0.5", True),
        ("https://[2001:db8::1]:443/x", True),
        ("http://127.0.0.1:8700", True),
        ("http://127.5.6.7/api", True),
        ("http://[::1]:8700", True),
        ("http://localhost:8700", True),
        ("http://LOCALHOST", True),
        ("http://10.0.0.5", False),  # plain http off the machine
        ("http://cedoka.kolakautarakab.go.id", False),
        ("http://localhost.evil.example", False),
        ("http://127.0.0.1.nip.io", False),
        ("http://[::ffff:127.0.0.1]", False),
        ("ftp://cedoka.example", False),
        ("HTTPS://cedoka.example", False),
        ("cedoka.example", False),
        ("https://", False),
        ("https://user:pw@cedoka.example", False),
        ("https://cedoka.example/?x=1", False),
        ("https://cedoka.example/#top", False),
        ("https://cedoka.example:0", False),
        ("https://cedoka.example:65536", False),
        ("https://cedoka.example:http", False),
        ("https://cedoka example", False),
        ("https://cedoka.example/a b", False),
        ("https://cedoka.example/a<b>", False),
        ("https://cedoka.example/a[1]", False),
        ("https://-bad-.example", False),
        ("https://999.1.1.1", False),
        ("https://[fe80::1%eth0]", False),
        ("https://[::1", False),
        ("https://::1", False),
        ("https://ce\u00f0oka.example", False),
        ("", False),
    ],
)
def test_server_url(url: str, ok: bool) -> None:
    raw = with_(server_url=url)
    if ok:
        assert validate_agent_config(raw).server_url == url
    else:
        refused(raw, "server_url")


def test_is_loopback_host() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("10.0.0.5") and not is_loopback_host("example.com")


# --- printers ----------------------------------------------------------------------------

A4, RECEIPT = PrinterRole.A4, PrinterRole.RECEIPT


@pytest.mark.parametrize(
    ("role", "uri", "backend", "endpoint"),
    [
        (A4, "cups:Kantor", "cups", CupsQueue("Kantor")),
        (A4, "cups:EPSON_L3210_Series", "cups", CupsQueue("EPSON_L3210_Series")),
        (A4, "cups:" + "q" * 127, "cups", CupsQueue("q" * 127)),
        (A4, "virtual:/var/lib/cedoka/virtual", "virtual", VirtualPath("/var/lib/cedoka/virtual")),
        (A4, "virtual:/", "virtual", VirtualPath("/")),
        (RECEIPT, "escpos:tcp://127.0.0.1:9100", "escpos", TcpEndpoint("127.0.0.1", 9100)),
        (RECEIPT, "escpos:tcp://printer.lan:1", "escpos", TcpEndpoint("printer.lan", 1)),
        (RECEIPT, "escpos:tcp://[fe80::1]:65535", "escpos", TcpEndpoint("fe80::1", 65535)),
        (RECEIPT, "escpos:usb:04b8:0e15", "escpos", UsbDevice(0x04B8, 0x0E15)),
        (RECEIPT, "escpos:usb:0416:5011", "escpos", UsbDevice(0x0416, 0x5011)),
        (RECEIPT, "escpos:serial:/dev/ttyUSB0", "escpos", SerialDevice("/dev/ttyUSB0", 9600)),
        (
            RECEIPT,
            "escpos:serial:/dev/ttyS1?baud=19200",
            "escpos",
            SerialDevice("/dev/ttyS1", 19200),
        ),
        (
            RECEIPT,
            "escpos:serial:/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0?baud=115200",
            "escpos",
            SerialDevice("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", 115200),
        ),
        (RECEIPT, "escpos:cups:POS58", "escpos", CupsQueue("POS58")),
        (RECEIPT, "virtual:/tmp/receipts", "virtual", VirtualPath("/tmp/receipts")),
    ],
)
def test_printer_uris_valid(role: PrinterRole, uri: str, backend: str, endpoint: object) -> None:
    target = parse_printer_target(role, uri)
    assert target == PrinterTarget(role, uri, backend, endpoint)  # type: ignore[arg-type]
    raw = with_(printers={"a4": "cups:Kantor", role.value: uri})
    assert printer_for(validate_agent_config(raw), role) == target


@pytest.mark.parametrize(
    ("role", "uri"),
    [
        (A4, "cups:"),
        (A4, "cups:bad name"),
        (A4, "cups:a/b"),
        (A4, "cups:a#b"),
        (A4, "cups:a\tb"),
        (A4, "cups:a\x7fb"),
        (A4, "cups:queue@otherhost"),
        (A4, "cups:" + "q" * 128),
        (A4, "cups:Kant\u00f6r"),
        (A4, "ipp://printer/ipp"),
        (A4, "Kantor"),
        (A4, ""),
        (A4, "escpos:tcp://127.0.0.1:9100"),  # a receipt printer cannot print A4 documents
        (RECEIPT, "cups:Kantor"),  # receipts need ESC/POS
        (RECEIPT, "escpos:tcp://host:0"),
        (RECEIPT, "escpos:tcp://host:70000"),
        (RECEIPT, "escpos:tcp://host"),
        (RECEIPT, "escpos:tcp://host:"),
        (RECEIPT, "escpos:tcp:host:9100"),
        (RECEIPT, "escpos:tcp://:9100"),
        (RECEIPT, "escpos:tcp://::1:9100"),
        (RECEIPT, "escpos:tcp://[::1:9100"),
        (RECEIPT, "escpos:tcp://[127.0.0.1]:9100"),
        (RECEIPT, "escpos:tcp://1.2.3.999:9100"),
        (RECEIPT, "escpos:tcp://bad_host:9100"),
        (RECEIPT, "escpos:tcp://host:+9100"),
        (RECEIPT, "escpos:usb:zzzz:1234"),
        (RECEIPT, "escpos:usb:4b8:0e15"),
        (RECEIPT, "escpos:usb:04b8"),
        (RECEIPT, "escpos:usb:04b8:0e15:1"),
        (RECEIPT, "escpos:serial:/dev/sda"),
        (RECEIPT, "escpos:serial:ttyUSB0"),
        (RECEIPT, "escpos:serial:/dev/ttyUSB0?baud=1234"),
        (RECEIPT, "escpos:serial:/dev/ttyUSB0?speed=9600"),
        (RECEIPT, "escpos:serial:/dev/../etc/passwd"),
        (RECEIPT, "escpos:cups:"),
        (RECEIPT, "escpos:lpt:0"),
        (RECEIPT, "escpos:"),
        (A4, "virtual:relative/path"),
        (A4, "virtual:"),
        (A4, "virtual:/var/../etc"),
        (A4, "virtual:/var/lib\n/x"),
    ],
)
def test_printer_uris_invalid(role: PrinterRole, uri: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_printer_target(role, uri)
    assert caught.value.field == f"printers.{role.value}"
    raw = with_(printers={"a4": "cups:Kantor", role.value: uri})
    refused(raw, f"printers.{role.value}")


@pytest.mark.parametrize(
    ("printers", "field"),
    [
        ({"a4": "cups:K", "label": "cups:L"}, "printers.label"),
        ({"A4": "cups:K"}, "printers.A4"),
        ({"a4": 5}, "printers.a4"),
        ("cups:K", "printers"),
        ({}, "printers.a4"),  # documents are routed to a4: an a4 printer is required
        ({"receipt": "escpos:usb:04b8:0e15"}, "printers.a4"),
    ],
)
def test_printers_table_invalid(printers: object, field: str) -> None:
    refused(with_(printers=printers), field)


def test_printers_missing_entirely_refused() -> None:
    raw = minimal()
    del raw["printers"]
    refused(raw, "printers.a4")


def test_printer_for_role_without_printer() -> None:
    cfg = validate_agent_config(minimal())
    assert printer_for(cfg, A4).uri == "cups:Kantor_Desa"
    with pytest.raises(ConfigError) as caught:
        printer_for(cfg, RECEIPT)
    assert caught.value.field == "printers.receipt"
    assert "no printer configured for role receipt" in caught.value.problem


# --- routing and document types ---------------------------------------------------------


def test_role_for() -> None:
    cfg = validate_agent_config(with_(routing={"KK": "a4", "AKTA_LAHIR": "a4"}))
    for code in DOCUMENT_TYPES_PRINTABLE:
        assert role_for(cfg, code) is A4
    for code in ("KTP_EL", "KIA", "NOPE", ""):
        with pytest.raises(ConfigError):
            role_for(cfg, code)


@pytest.mark.parametrize("code", sorted(DOCUMENT_TYPES_CARD))
def test_routing_a_card_type_is_refused_with_an_explanation(code: str) -> None:
    error = refused(with_(routing={code: "a4"}), f"routing.{code}")
    assert "card printer" in error.problem and "courier or pickup" in error.problem


@pytest.mark.parametrize(
    ("routing", "field"),
    [
        ({"KTP": "a4"}, "routing.KTP"),
        ({"kk": "a4"}, "routing.kk"),
        ({"KK": "A4"}, "routing.KK"),
        ({"KK": "receipt"}, "routing.KK"),  # a signed PDF is never re-rendered on a receipt
        ({"KK": 1}, "routing.KK"),
        (["KK"], "routing"),
    ],
)
def test_routing_invalid(routing: object, field: str) -> None:
    refused(with_(routing=routing), field)


@pytest.mark.parametrize(
    ("lockout", "field"),
    [
        ({"max_failure": 5}, "lockout.max_failure"),
        ({"max_failures": 0}, "lockout.max_failures"),
        ({"max_failures": True}, "lockout.max_failures"),
        ({"window_s": 5}, "lockout.window_s"),
        ({"lock_s": 0}, "lockout.lock_s"),
        ({"lock_s": 600, "max_lock_s": 300}, "lockout.max_lock_s"),
        ({"max_lock_s": 8 * 86400}, "lockout.max_lock_s"),
        (5, "lockout"),
    ],
)
def test_lockout_invalid(lockout: object, field: str) -> None:
    refused(with_(lockout=lockout), field)


def test_doctypes() -> None:
    assert DOCUMENT_TYPES_PRINTABLE.isdisjoint(DOCUMENT_TYPES_CARD)
    assert set(DOCUMENT_NAMES) == DOCUMENT_TYPES_PRINTABLE | DOCUMENT_TYPES_CARD
    assert DOCUMENT_NAMES["KK"] == ("Kartu Keluarga", "Family Card")
    assert document_name("AKTA_LAHIR", "id") == "Kutipan Akta Kelahiran"
    assert document_name("AKTA_LAHIR", "en") == "Birth Certificate Extract"
    assert document_name("KIA", "en") == "Child ID Card"
    assert is_printable_at_village("SKPWNI")
    assert not is_printable_at_village("KTP_EL") and not is_printable_at_village("kk")
    with pytest.raises(ValueError):
        document_name("KK", "fr")
    with pytest.raises(KeyError):
        document_name("XX", "id")


# --- fuzzing -------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**1100), max_value=2**1100)
    | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = [*sorted(full()), "nope"]


@given(st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=12), _json, max_size=8))
def test_random_dicts_raise_only_config_error(raw: dict[str, Any]) -> None:
    with contextlib.suppress(ConfigError):
        validate_agent_config(raw)


@given(st.sampled_from(_KEYS), _json | st.sampled_from(["cups:x", "escpos:tcp://h:1", "a4"]))
def test_one_random_value_in_a_valid_config(key: str, value: object) -> None:
    raw = full()
    raw[key] = value
    try:
        cfg = validate_agent_config(raw)
    except ConfigError:
        return
    assert validate_agent_config(agent_config_to_raw(cfg)) == cfg


@given(st.sampled_from(["printers", "routing", "lockout"]), st.text(max_size=8), _json)
def test_random_value_in_a_nested_table(table: str, key: str, value: object) -> None:
    raw = full()
    raw[table] = {**raw[table], key: value}
    with contextlib.suppress(ConfigError):
        validate_agent_config(raw)


def test_validate_refuses_a_non_mapping() -> None:
    raws: list[object] = [None, [], "x", {1: 2}]
    for raw in raws:
        with pytest.raises(ConfigError):
            validate_agent_config(raw)  # type: ignore[arg-type]


# --- folder printers (issue 14): only where agent.toml allows them ------------------------


def test_virtual_printers_are_allowed_only_by_an_explicit_true() -> None:
    assert validate_agent_config(minimal()).allow_virtual_printers is False
    assert "allow_virtual_printers" not in agent_config_to_raw(validate_agent_config(minimal()))
    allowed = validate_agent_config(with_(allow_virtual_printers=True))
    assert allowed.allow_virtual_printers is True
    assert agent_config_to_raw(allowed)["allow_virtual_printers"] is True
    for value in (1, "true", "yes", None):
        refused(with_(allow_virtual_printers=value), "allow_virtual_printers")


@pytest.mark.parametrize(
    ("allowed", "before", "after", "field"),
    [
        (False, {"a4": "cups:Kantor"}, {"a4": "virtual:/media/usb"}, "printers.a4"),
        (False, {"a4": "virtual:/srv/a"}, {"a4": "virtual:/srv/b"}, "printers.a4"),
        (False, {"a4": "cups:K"}, {"a4": "cups:K", "receipt": "virtual:/r"}, "printers.receipt"),
        (False, {"a4": "virtual:/srv/a"}, {"a4": "virtual:/srv/a"}, None),  # kept as enrolled
        (False, {"a4": "cups:Kantor"}, {"a4": "cups:X", "receipt": "escpos:usb:04b8:0e15"}, None),
        (True, {"a4": "cups:Kantor"}, {"a4": "virtual:/srv/demo"}, None),
    ],
)  # fmt: skip
def test_the_settings_may_not_switch_to_a_folder_printer(
    allowed: bool, before: dict[str, str], after: dict[str, str], field: str | None
) -> None:
    current = validate_agent_config(with_(printers=before, allow_virtual_printers=allowed))
    changed = validate_agent_config(with_(printers=after, allow_virtual_printers=allowed))
    if field is None:
        check_printer_change(current, changed)
        return
    with pytest.raises(PrinterNotAllowedError) as caught:
        check_printer_change(current, changed)
    assert caught.value.field == field and isinstance(caught.value, ConfigError)


def test_a_printer_uri_has_at_most_200_characters() -> None:
    assert parse_printer_target(PrinterRole.A4, "virtual:/" + "d" * 191).uri.endswith("d")
    refused(with_(printers={"a4": "virtual:/" + "d" * 192}), "printers.a4")
