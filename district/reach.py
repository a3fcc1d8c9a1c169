"""How kiosks reach the server: its public URL, and the client address behind a proxy.

Both are the operator's configuration (``serve --public-url``, ``--trusted-proxy``), never
read from what a client sends: a proof is checked against the configured public origin and
path prefix (protocol section 5.2), not against the request's ``Host`` header; the
enrolment rate limit keys on the TCP peer, or, when that peer is a trusted proxy, on the
right-most address in ``X-Forwarded-For`` that is not a trusted proxy (section 4.2).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# A plain-HTTP server listens on loopback only, so in practice behind a local TLS proxy.
LOOPBACK: tuple[Network, ...] = (
    ipaddress.IPv4Network("127.0.0.0/8"),
    ipaddress.IPv6Network("::1/128"),
)
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*")
_MAX_HOST_CHARS = 253


@dataclass(frozen=True, slots=True)
class PublicUrl:
    """The URL the kiosks are configured with, split as the agent splits it."""

    origin: str  # "scheme://host[:port]", lower case, no default port: the proofs' ``aud``
    prefix: str  # "" or "/cedoka": what a proxy strips before the server sees the path

    def __str__(self) -> str:
        return self.origin + self.prefix


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_public_url(text: str) -> PublicUrl:
    """``https://host[:port][/prefix]`` (``http://`` for a loopback host only) → its origin
    and path prefix, normalized as the agent does (lower case, no default port, no
    trailing ``/``).

    Raises:
        ValueError: with a message saying what is wrong.
    """
    if not text.isascii() or not all("!" <= c <= "~" for c in text):
        raise ValueError("must be printable ASCII without spaces")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL (host, or port 1-65535)") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or "//" not in text:
        raise ValueError("must look like https://host[:port][/prefix]")
    if "@" in parts.netloc or "?" in text or "#" in text:
        raise ValueError("must not hold user credentials, a query or a fragment")
    if port == 0 or "%" in host:
        raise ValueError("not a valid URL (host, or port 1-65535)")
    bracketed = parts.netloc.rsplit("@", 1)[-1].startswith("[")
    if bracketed or host.replace(".", "").isdigit():
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{host} is not an IP address") from None
    elif len(host) > _MAX_HOST_CHARS or not all(_HOST_NAME.fullmatch(x) for x in host.split(".")):
        raise ValueError(f"{host} is not a host name")
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(
            "http:// only for a loopback host (127.0.0.1, ::1, localhost): use https://"
        )
    prefix = parts.path.rstrip("/")
    if not _PREFIX.fullmatch(prefix) or any(seg in (".", "..") for seg in prefix.split("/")):
        raise ValueError(f"{parts.path} is not a plain path prefix like /cedoka")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != (443 if scheme == "https" else 80):
        netloc += f":{port}"
    return PublicUrl(f"{scheme}://{netloc}", prefix)


def parse_trusted_proxy(text: str) -> Network:
    """An address or a network (``10.0.0.5``, ``10.0.0.0/24``, ``::1``).

    Raises:
        ValueError: not an address or network.
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network (e.g. 10.0.0.5)") from None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
             networks: Sequence[Network]) -> bool:  # fmt: skip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str | None:
    """The address to rate-limit a request by, or None when there is none to trust.

    ``peer`` is the TCP peer; ``forwarded_for`` the ``X-Forwarded-For`` header values in
    order. A peer that is not a trusted proxy is the client (its header is ignored: anyone
    can send one). Behind a trusted proxy the client is the right-most address that is not
    a trusted proxy (proxies append; what is left of them the client may have forged).
    None when the proxy names no client (no header, only proxies, or a non-address where
    the client should be): the caller then has no per-address key and must not lump every
    such request under the proxy's address.
    """
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return None
    if not _trusted(address, trusted):
        return str(address)
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return None
        if not _trusted(address, trusted):
            return str(address)
    return None
