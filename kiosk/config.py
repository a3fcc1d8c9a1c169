"""The agent's configuration: frozen dataclasses validated by one pure function.

An adapter loads the TOML file into a plain dict; :func:`validate_agent_config` is the only
way from it to an :class:`AgentConfig`, :func:`agent_config_to_raw` the inverse. Unknown keys
are refused by name (a typo is never silently ignored); types are exact (``true`` is not an
integer, ``55.0`` is not an integer); every number has a range, units are in the names;
``http://`` is allowed only to a loopback host; printer URIs are checked as strings only
(nothing here touches the file system). Every problem raises :class:`ConfigError` whose
``field`` is the dotted key (``printers.a4``, ``lockout.lock_s``).

A ``virtual:`` printer writes what it prints into a folder, as files: fine for a demo or a
test, never for residents' documents on a village PC. The settings screen may choose one only
where ``agent.toml`` says ``allow_virtual_printers = true`` (:func:`check_printer_change`),
which only ``cedoka demo`` and tests write; nothing on the screen can set it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal

from kiosk.claim import LockoutPolicy
from kiosk.doctypes import CARD_NOT_PRINTABLE, DOCUMENT_TYPES_CARD, DOCUMENT_TYPES_PRINTABLE
from kiosk.errors import ConfigError, PrinterNotAllowedError
from kiosk.ids import DISTRICT_CODE, OFFICE_CODE

MIB: Final = 1024 * 1024


class PrinterRole(enum.StrEnum):
    """What a printer is for: signed A4 documents, or small claim/status receipts."""

    A4 = "a4"
    RECEIPT = "receipt"


PrinterBackend = Literal["cups", "escpos", "virtual"]  # the URI scheme: picks the adapter


@dataclass(frozen=True, slots=True)
class CupsQueue:  # a local CUPS queue; under escpos:cups: a raw queue fed ESC/POS bytes
    name: str


@dataclass(frozen=True, slots=True)
class TcpEndpoint:  # a network receipt printer (raw port, usually 9100)
    host: str  # host name or IP address, IPv6 without brackets
    port: int


@dataclass(frozen=True, slots=True)
class UsbDevice:  # a USB receipt printer by vendor and product id
    vendor_id: int
    product_id: int


@dataclass(frozen=True, slots=True)
class SerialDevice:  # a serial receipt printer
    device: str  # /dev/ttyXXX or /dev/serial/by-id/...
    baud: int  # line speed, bits per second


@dataclass(frozen=True, slots=True)
class VirtualPath:  # the virtual printer (demos, tests) writes into this directory
    path: str  # absolute


PrinterEndpoint = CupsQueue | TcpEndpoint | UsbDevice | SerialDevice | VirtualPath


@dataclass(frozen=True, slots=True)
class PrinterTarget:
    """One configured printer: its role, the URI as written, and the parsed endpoint."""

    role: PrinterRole
    uri: str
    backend: PrinterBackend
    endpoint: PrinterEndpoint


ALLOWED_BACKENDS: Final[Mapping[PrinterRole, tuple[PrinterBackend, ...]]] = {
    PrinterRole.A4: ("cups", "virtual"),
    PrinterRole.RECEIPT: ("escpos", "virtual"),
}
SERIAL_BAUDS: Final = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
MAX_PRINTER_URI_CHARS: Final = 200  # also bounds the audit record of a printer change
DEFAULT_ROUTING: Final = tuple((code, PrinterRole.A4) for code in sorted(DOCUMENT_TYPES_PRINTABLE))
DEFAULT_SEAL_ROTATE_DAYS: Final = 30  # the sealing key's scheduled rotation (ADR 0032)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    """The kiosk agent's settings. Build it with :func:`validate_agent_config`."""

    server_url: str  # district server base URL; https, or http to a loopback host only
    device_id: str  # this kiosk's id from enrolment, "dev_" + 26 Crockford base32 chars
    district_code: str  # kode wilayah of the regency, "PP.KK", e.g. "74.08"
    office_code: str  # kode wilayah of this desa/kelurahan, e.g. "74.08.01.2002"
    printers: tuple[PrinterTarget, ...]  # at most one per role, sorted by role
    routing: tuple[tuple[str, PrinterRole], ...] = DEFAULT_ROUTING  # doc type -> role, sorted
    long_poll_wait_s: int = 55  # how long the server may hold a feed request open (the
    # feed's read timeout is this plus request_timeout_s), seconds
    request_timeout_s: int = 30  # timeout of one ordinary HTTP request, seconds
    backoff_initial_s: float = 1.0  # first retry delay after a failed request, seconds
    backoff_max_s: float = 300.0  # cap on the doubling retry delay, seconds
    download_deadline_s: int = 600  # overall deadline of one document download, seconds
    max_document_bytes: int = 20 * MIB  # largest sealed document accepted, bytes
    heartbeat_interval_s: int = 60  # time between health reports to the district, seconds
    language: str = "id"  # UI and receipt language: "id" (Bahasa Indonesia) or "en"
    office_name: str = ""  # e.g. "Desa Pitulua", from enrolment; printed on receipts
    utc_offset_s: int | None = None  # the office's clock; None: from the province (WIB/WITA/WIT)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)  # wrong claim codes
    job_leeway_s: int = 60  # tolerated clock skew for a job's iat (expiry has none), s
    max_reprints: int = 3  # reprints (spoiled -> printed again) allowed per job
    seal_rotate_days: int = DEFAULT_SEAL_ROTATE_DAYS  # rotate the sealing key this often (14.2),
    # days; 0: only when the district asks
    allow_virtual_printers: bool = False  # may the settings screen choose a folder printer
    # (virtual:)? Only demo and test homes say true; never changed by the screen


# key -> (low, high) of the numeric settings.
_INT_RANGES: Final = {
    "long_poll_wait_s": (5, 60),
    "request_timeout_s": (1, 300),
    "download_deadline_s": (30, 86400),
    "max_document_bytes": (1 * MIB, 100 * MIB),
    "heartbeat_interval_s": (10, 3600),
    "job_leeway_s": (0, 300),
    "max_reprints": (0, 10),
    "seal_rotate_days": (0, 365),
}
_FLOAT_RANGES: Final = {"backoff_initial_s": (0.1, 60.0), "backoff_max_s": (1.0, 3600.0)}
_LOCKOUT_RANGES: Final = {
    "max_failures": (1, 100),
    "window_s": (10, 86400),
    "lock_s": (1, 86400),
    "max_lock_s": (1, 7 * 86400),
}
_REQUIRED: Final = ("server_url", "device_id", "district_code", "office_code")
_KNOWN_KEYS: Final = frozenset({
    *_REQUIRED, "printers", "routing", "language", "office_name", "utc_offset_s", "lockout",
    "allow_virtual_printers", *_INT_RANGES, *_FLOAT_RANGES,
})  # fmt: skip
_OFFICE_NAME: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f]{0,80}")
# Indonesia's three zones by province code (Permendagri region codes): WIT for Maluku and
# Papua (8x, 9x), WITA for Bali, Nusa Tenggara, Sulawesi and the east of Kalimantan.
_WITA_PROVINCES: Final = frozenset({"51", "52", "53", "63", "64", "65", *map(str, range(71, 77))})
_DEVICE_ID: Final = re.compile(r"dev_[0-9A-HJKMNP-TV-Z]{26}")
_HOST_LABEL: Final = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_HOST_PORT: Final = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(?::([0-9]{1,5}))?")
_USB_IDS: Final = re.compile(r"([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})")
_SERIAL: Final = re.compile(r"/dev/(tty\w{1,32}|serial/by-(id|path)/[\w.:+-]{1,200})", re.ASCII)
_URL_PATH: Final = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)*")
# lpadmin refuses these in queue names ('@' would name a queue on another server).
_QUEUE_FORBIDDEN: Final = frozenset("/\\#?'\"@")
_LANGUAGE: Final = re.compile("id|en")
_MAX_HOST_CHARS: Final = 253
_MAX_PORT: Final = 65535
_MAX_QUEUE_CHARS: Final = 127


def _int(name: str, value: object, low: int, high: int) -> int:
    if type(value) is not int:  # bool is an int subclass: refused on purpose
        raise ConfigError(name, f"must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}")
    return value


def _float(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, f"must be a number, not {type(value).__name__}")
    # Compared before float(): a huge int would overflow it; NaN fails every comparison.
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low} and {high}")
    return float(value)


def _str(name: str, value: object, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
    if not isinstance(value, str):
        raise ConfigError(name, f"must be a string, not {type(value).__name__}")
    if pattern is not None and not (value.isascii() and pattern.fullmatch(value)):
        raise ConfigError(name, f"must look like {hint}")
    return value


def _table(name: str, value: object, known: Iterable[str] | None = None) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(name, "must be a table with string keys")
    for key in sorted(set(value) - set(known or value)):
        raise ConfigError(f"{name}.{key}" if name else key, "unknown setting (a typo?)")
    return value


def _host_port(name: str, authority: str) -> tuple[str, int | None]:
    """Check ``host[:port]``: a host name, IPv4 or bracketed IPv6; return (host, port)."""
    found = _HOST_PORT.fullmatch(authority)
    if found is None:
        raise ConfigError(name, "expected HOST or HOST:PORT")
    text, port_text = found.group(1), found.group(2)
    port = None if port_text is None else int(port_text)
    if port is not None and not 1 <= port <= _MAX_PORT:
        raise ConfigError(name, "port must be 1..65535")
    bracketed = text.startswith("[")
    if bracketed or text.rsplit(".", 1)[-1].isdigit():  # an IP literal, or meant to be one
        try:
            address = ipaddress.ip_address(text[1:-1] if bracketed else text)
        except ValueError:
            address = None
        if (
            address is None
            or "%" in text
            or bracketed != isinstance(address, ipaddress.IPv6Address)
        ):
            raise ConfigError(name, "invalid IP address (IPv6 goes in brackets, no zone id)")
        return str(address), port
    labels = text.split(".")
    if len(text) > _MAX_HOST_CHARS or not all(_HOST_LABEL.fullmatch(x) for x in labels):
        raise ConfigError(name, "invalid host name")
    return text, port


def is_loopback_host(host: str) -> bool:
    """True for "localhost", 127.0.0.0/8 and ::1 (a validated host, no brackets)."""
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_url(name: str, value: object) -> str:
    url = _str(name, value)
    if not all("!" <= c <= "~" for c in url):
        raise ConfigError(name, "must be printable ASCII without spaces")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("https", "http"):
        raise ConfigError(name, "must start with https://")
    if "?" in rest or "#" in rest or "@" in rest:
        raise ConfigError(name, "must not contain a query, fragment or user credentials")
    authority, slash, path = rest.partition("/")
    host, _ = _host_port(name, authority)
    if not _URL_PATH.fullmatch(slash + path):
        raise ConfigError(name, "invalid path")
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigError(name, "http:// is allowed only to a loopback host; use https://")
    return url


def parse_server_url(url: str) -> str:
    """The district server's URL as ``agent.toml`` keeps it (``server_url``).

    Raises: ConfigError (field ``server_url``).
    """
    return _server_url("server_url", url)


def _queue(name: str, text: str) -> CupsQueue:
    if not 1 <= len(text) <= _MAX_QUEUE_CHARS:
        raise ConfigError(name, "CUPS queue name must be 1..127 characters")
    if any(c <= " " or c == "\x7f" or c in _QUEUE_FORBIDDEN or not c.isascii() for c in text):
        raise ConfigError(name, "CUPS queue name has a space, control or forbidden character")
    return CupsQueue(text)


def _escpos_endpoint(name: str, rest: str) -> PrinterEndpoint:
    kind, _, spec = rest.partition(":")
    if kind == "tcp":
        host, port = _host_port(name, spec[2:]) if spec.startswith("//") else ("", None)
        if port is None:
            raise ConfigError(name, "expected escpos:tcp://HOST:PORT")
        return TcpEndpoint(host, port)
    if kind == "usb":
        ids = _USB_IDS.fullmatch(spec)
        if ids is None:
            raise ConfigError(name, "expected escpos:usb:VVVV:PPPP (hex ids)")
        return UsbDevice(int(ids.group(1), 16), int(ids.group(2), 16))
    if kind == "serial":
        device, question, query = spec.partition("?")
        bauds = {f"baud={baud}": baud for baud in SERIAL_BAUDS}
        if not _SERIAL.fullmatch(device) or (question and query not in bauds):
            raise ConfigError(name, f"expected escpos:serial:/dev/ttyXXX[?baud={SERIAL_BAUDS}]")
        return SerialDevice(device, bauds[query] if question else 9600)
    if kind == "cups":
        return _queue(name, spec)
    raise ConfigError(name, "escpos: URI must be tcp:, usb:, serial: or cups:")


def _virtual_path(name: str, path: str) -> VirtualPath:
    if not path.startswith("/"):
        raise ConfigError(name, "virtual: needs an absolute path")
    if any(c < " " or c == "\x7f" for c in path) or ".." in path.split("/"):
        raise ConfigError(name, "virtual: path must not contain control characters or '..'")
    return VirtualPath(path)


def parse_printer_target(role: PrinterRole, uri: object) -> PrinterTarget:
    """Parse one printer URI for ``role`` (strings only: the file system is not touched).

    Raises ConfigError (field ``printers.<role>``) for a malformed URI or a backend the role
    does not accept (a4: cups, virtual; receipt: escpos, virtual).
    """
    name = f"printers.{role.value}"
    text = _str(name, uri)
    if len(text) > MAX_PRINTER_URI_CHARS:
        raise ConfigError(name, f"a printer URI is at most {MAX_PRINTER_URI_CHARS} characters")
    scheme, colon, rest = text.partition(":")
    allowed = ALLOWED_BACKENDS[role]
    if not colon or scheme not in allowed:
        raise ConfigError(
            name,
            f"the {role.value} printer URI must start with "
            + " or ".join(f"{backend}:" for backend in allowed),
        )
    endpoint: PrinterEndpoint
    if scheme == "cups":
        endpoint = _queue(name, rest)
    elif scheme == "escpos":
        endpoint = _escpos_endpoint(name, rest)
    else:
        endpoint = _virtual_path(name, rest)
    return PrinterTarget(role=role, uri=text, backend=scheme, endpoint=endpoint)


def _role(name: str, value: object) -> PrinterRole:
    text = _str(name, value)
    if text not in PrinterRole.__members__.values():
        raise ConfigError(name, "must be 'a4' or 'receipt'")
    return PrinterRole(text)


def _routing(value: object) -> tuple[tuple[str, PrinterRole], ...]:
    routes = dict(DEFAULT_ROUTING)
    for code, role_value in _table("routing", value).items():
        name = f"routing.{code}"
        if code in DOCUMENT_TYPES_CARD:
            raise ConfigError(name, CARD_NOT_PRINTABLE)
        if code not in DOCUMENT_TYPES_PRINTABLE:
            raise ConfigError(name, "unknown document type")
        if _role(name, role_value) is not PrinterRole.A4:
            # Signed PDFs are printed as they are, at 100 % on A4 (never re-rendered).
            raise ConfigError(name, "documents must go to the a4 printer")
    return tuple(sorted(routes.items()))


def _lockout(value: object) -> LockoutPolicy:
    table = _table("lockout", value, _LOCKOUT_RANGES)
    numbers = {k: _int(f"lockout.{k}", v, *_LOCKOUT_RANGES[k]) for k, v in table.items()}
    policy = LockoutPolicy(**numbers)
    if policy.max_lock_s < policy.lock_s:
        raise ConfigError("lockout.max_lock_s", "must be at least lockout.lock_s")
    return policy


def validate_agent_config(raw: Mapping[str, object]) -> AgentConfig:
    """Check a plain dict (as loaded from TOML) and build the frozen :class:`AgentConfig`.

    Raises:
        ConfigError: naming the first unknown key, missing key, wrong type or bad value.
    """
    table = _table("", raw, _KNOWN_KEYS)
    for key in _REQUIRED:
        if key not in table:
            raise ConfigError(key, "is required")
    device_id = _str("device_id", table["device_id"], _DEVICE_ID, "dev_ + 26 base32 chars")
    district = _str("district_code", table["district_code"], DISTRICT_CODE, "74.08")
    office = _str("office_code", table["office_code"], OFFICE_CODE, "74.08.01.2002")
    if not office.startswith(district + "."):
        raise ConfigError("office_code", f"must be an office of district {district}")
    printers = tuple(
        parse_printer_target(_role(f"printers.{key}", key), uri)
        for key, uri in sorted(_table("printers", table.get("printers", {})).items())
    )
    routing = _routing(table.get("routing", {}))
    for role in {role for _, role in routing} - {target.role for target in printers}:
        raise ConfigError(f"printers.{role.value}", "documents are routed here: required")
    language = _str("language", table.get("language", "id"), _LANGUAGE, "'id' or 'en'")
    office_name = _str("office_name", table.get("office_name", ""), _OFFICE_NAME, "a name")
    numbers_offset = {}
    if "utc_offset_s" in table:
        numbers_offset["utc_offset_s"] = _int("utc_offset_s", table["utc_offset_s"], -43200, 50400)
    # Only the settings present are passed, so AgentConfig's defaults stay the one source.
    numbers: dict[str, Any] = {
        key: _int(key, table[key], *bounds) for key, bounds in _INT_RANGES.items() if key in table
    }
    for key, (low, high) in _FLOAT_RANGES.items():
        if key in table:
            numbers[key] = _float(key, table[key], low, high)
    allow_virtual = table.get("allow_virtual_printers", False)
    if type(allow_virtual) is not bool:
        raise ConfigError("allow_virtual_printers", "must be true or false")
    config = AgentConfig(
        server_url=_server_url("server_url", table["server_url"]),
        device_id=device_id,
        district_code=district,
        office_code=office,
        printers=printers,
        routing=routing,
        language=language,
        office_name=office_name,
        lockout=_lockout(table.get("lockout", {})),
        allow_virtual_printers=allow_virtual,
        **numbers_offset,
        **numbers,
    )
    if config.backoff_max_s < config.backoff_initial_s:
        raise ConfigError("backoff_max_s", "must be at least backoff_initial_s")
    return config


def agent_config_to_raw(cfg: AgentConfig) -> dict[str, object]:
    """The plain dict (TOML-ready) that :func:`validate_agent_config` turns back into ``cfg``."""
    raw: dict[str, object] = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
    raw["printers"] = {target.role.value: target.uri for target in cfg.printers}
    raw["routing"] = {code: role.value for code, role in cfg.routing}
    raw["lockout"] = asdict(cfg.lockout)
    if cfg.utc_offset_s is None:
        del raw["utc_offset_s"]
    if not cfg.allow_virtual_printers:
        del raw["allow_virtual_printers"]  # written only where it is allowed
    if cfg.seal_rotate_days == DEFAULT_SEAL_ROTATE_DAYS:
        # written only when changed: a release from before it (a rollback, ADR 0031) refuses
        # an agent.toml with a setting it does not know
        del raw["seal_rotate_days"]
    return raw


def check_printer_change(current: AgentConfig, changed: AgentConfig) -> None:
    """Refuse a settings change that points a role at a folder (``virtual:``) it did not
    print to before, unless ``current`` allows virtual printers (a demo or test home).
    A folder printer written at enrolment stays usable; only the screen is held back.

    Raises:
        PrinterNotAllowedError: field ``printers.<role>`` of the first such role.
    """
    if current.allow_virtual_printers:
        return
    before = {target.role: target.uri for target in current.printers}
    for target in changed.printers:
        if target.backend == "virtual" and before.get(target.role) != target.uri:
            raise PrinterNotAllowedError(
                f"printers.{target.role.value}",
                "a folder (virtual:) printer is only for demos and tests: choose a CUPS queue "
                "(a4) or an escpos: printer (receipt)",
            )


def office_utc_offset_s(cfg: AgentConfig) -> int:
    """The office's offset from UTC: the setting, else its province's zone."""
    if cfg.utc_offset_s is not None:
        return cfg.utc_offset_s
    province = cfg.district_code[:2]
    if province[0] in "89":
        return 9 * 3600  # WIT
    return 8 * 3600 if province in _WITA_PROVINCES else 7 * 3600


def role_for(cfg: AgentConfig, doc_type: str) -> PrinterRole:
    """The printer role for ``doc_type``; ConfigError (field ``routing``) if it has none."""
    for code, role in cfg.routing:
        if code == doc_type:
            return role
    if doc_type in DOCUMENT_TYPES_CARD:
        raise ConfigError(f"routing.{doc_type}", "cards are not printed at a village")
    raise ConfigError("routing", "unknown document type")  # never echo unchecked text


def printer_for(cfg: AgentConfig, role: PrinterRole) -> PrinterTarget:
    """The printer for ``role``; ConfigError (field ``printers.<role>``) if there is none."""
    for target in cfg.printers:
        if target.role is role:
            return target
    raise ConfigError(f"printers.{role.value}", f"no printer configured for role {role.value}")
