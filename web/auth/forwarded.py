"""How the proxy looks from outside: its origin and the client's address, trusting
`X-Forwarded-*` headers only when the direct peer is one of `server.trusted_proxies`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import attrs

from web.auth.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_PREFIX = re.compile(r"(/[A-Za-z0-9._~\-]+)*")


@attrs.frozen
class Origin:
    """Scheme, host and path prefix under which clients reach the proxy."""

    scheme: str
    host: str
    prefix: str = ""

    @property
    def url(self) -> str:
        """`scheme://host/prefix` without a trailing slash."""
        return f"{self.scheme}://{self.host}{self.prefix}"

    @property
    def https(self) -> bool:
        """True when clients use TLS."""
        return self.scheme == "https"


def parse_networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """`trusted_proxies` as networks; `ValueError` names the first bad entry."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def is_trusted(peer: str | None, networks: Sequence[Network]) -> bool:
    """True when `peer` lies in one of `networks`."""
    if not peer or not networks:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in networks)


def _last(value: str | None) -> str | None:
    # the value appended by the nearest proxy, which is the one we trust
    if not value:
        return None
    last = value.split(",")[-1].strip()
    return last or None


def public_origin(public_url: str) -> Origin:
    """The origin configured in `server.public_url`."""
    parts = urlsplit(public_url)
    return Origin(parts.scheme or "https", parts.netloc, parts.path.rstrip("/"))


def request_origin(
    *,
    scheme: str,
    host: str,
    peer: str | None,
    header: Callable[[str], str | None],
    public_url: str | None,
    networks: Sequence[Network],
) -> Origin:
    """The configured public URL, else the request's origin (forwarded headers if trusted)."""
    if public_url:
        return public_origin(public_url)
    prefix = ""
    if is_trusted(peer, networks):
        proto = _last(header("x-forwarded-proto"))
        if proto in ("http", "https"):
            scheme = proto
        host = _last(header("x-forwarded-host")) or host
        forwarded_prefix = _last(header("x-forwarded-prefix"))
        if forwarded_prefix:
            prefix = forwarded_prefix.rstrip("/")
            dots = any(part in (".", "..") for part in prefix.split("/"))
            if not _PREFIX.fullmatch(prefix) or dots:
                raise InvalidInput("malformed X-Forwarded-Prefix header")
    if not _HOST.fullmatch(host):
        raise InvalidInput("malformed Host header")
    return Origin(scheme if scheme in ("http", "https") else "http", host, prefix)


def client_ip(
    peer: str | None, forwarded_for: str | None, networks: Sequence[Network]
) -> str | None:
    """The client's address: the right-most untrusted hop of X-Forwarded-For behind trusted
    proxies, else the direct peer."""
    if not is_trusted(peer, networks) or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else peer
