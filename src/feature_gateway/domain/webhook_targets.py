"""Where a webhook may point (SPEC §9): the one place that decides, at creation and again
at delivery after DNS resolution.

One parser for both: a URL is read by the delivery client itself (an ``httpx.Request`` is
made of it), and the worker sends to exactly the URL that gave. A URL that passes creation can
therefore never fail to parse at delivery, and no other parser can see another host in it
(``urlsplit`` read a host of fullwidth digits as a name; httpx refuses it). On top of that
parse, the host must be what a resolver can look up: an IP address written the standard
way, or a DNS name of labels of 1 to 63 letters, digits, ``-`` or ``_``.

Only http and https, no user name or password in the URL. Refused always: link-local
addresses (169.254.0.0/16, fe80::/10: cloud metadata), the other known metadata addresses,
``0.0.0.0/8``, the shared address space, unspecified, multicast, broadcast and reserved
addresses; loopback (127.0.0.0/8, ::1, ``localhost``) only when the operator allows it
(``WEBHOOK_ALLOW_LOOPBACK``, for development and tests). An IPv6 address that embeds an
IPv4 one (mapped, compatible, NAT64, 6to4) is judged as the IPv4 address it embeds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# The delivery client: its parser is the only one that cannot disagree with it. Imported
# where a URL is parsed: a web worker that registers no webhook does without it (2 to 5 MB,
# docs/performance.md).
if TYPE_CHECKING:
    import httpx

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2_000
MAX_NAME_LENGTH = 253  # RFC 1035, without the trailing dot
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.IGNORECASE)
# WHATWG URL's "ends in a number": a resolver reads such a host as an IPv4 address, in
# whatever form (127.1, 0x7f.0.0.1, 2130706433 are all 127.0.0.1).
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)

_LINK_LOCAL = "a link-local address (cloud metadata lives there)"
# Refused whatever WEBHOOK_ALLOW_LOOPBACK says; the first network that holds an address
# says why (the specific metadata addresses before the ranges that hold them).
ALWAYS_REFUSED = tuple(
    (ipaddress.ip_network(network), why)
    for network, why in (
        ("100.100.100.200/32", "a cloud metadata address (Alibaba Cloud)"),
        ("fd00:ec2::254/128", "a cloud metadata address (AWS, IPv6)"),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("fe80::/10", _LINK_LOCAL),
        ("0.0.0.0/8", "in 0.0.0.0/8, which reaches the local host"),
        ("100.64.0.0/10", "in the shared address space 100.64.0.0/10 (carrier NAT, metadata)"),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class TargetRefusedError(ValueError):
    """The URL or an address it resolves to may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    """A webhook URL as the delivery client reads it."""

    url: httpx.URL  # what the worker sends to, exactly
    host: str  # ASCII: an IP address (no brackets) or a DNS name, as the resolver needs it
    port: int
    address: Address | None  # the host, when it is an IP address


def parse_target(url: str, *, allow_loopback: bool) -> Target:
    """The URL as the delivery client reads it, when it may be a webhook target; else
    TargetRefusedError. An IP address is judged here already; a name is judged at
    delivery, on the addresses it resolves to then (``check_addresses``)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefusedError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise TargetRefusedError("The URL contains white space or control characters.")
    import httpx

    try:
        # As the client begins to send: the request reads more of the URL than the parse
        # does (its Host header decodes an xn-- label, which can fail).
        parsed = httpx.Request("POST", url).url
    except (httpx.InvalidURL, ValueError) as exc:  # idna's errors are ValueErrors
        raise TargetRefusedError(f"The URL is malformed: {exc}.") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise TargetRefusedError("Only http and https URLs may receive webhooks.")
    if parsed.userinfo:
        raise TargetRefusedError("The URL may not carry a user name or password.")
    if parsed.fragment:
        raise TargetRefusedError("The URL may not have a fragment (#...).")
    port = DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 1 <= port <= 65535:
        raise TargetRefusedError("The URL's port must be 1 to 65535.")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise TargetRefusedError("The URL has no host.")
    if ":" not in host and _is_name(host):
        if _is_localhost_name(host) and not allow_loopback:
            raise TargetRefusedError(_LOOPBACK_REFUSED)
        return Target(parsed, host, port, None)
    address = ip_literal(host)
    if address is None:
        raise TargetRefusedError(f"The URL's host {host!r} is not an IP address.")
    check_addresses([address], allow_loopback=allow_loopback)
    return Target(parsed, host, port, address)


def _is_name(host: str) -> bool:
    """True for a DNS name a resolver can look up, False for an IPv4 address in dotted-quad
    form (httpx refused every other form of one); TargetRefusedError for anything else."""
    labels = host.removesuffix(".").split(".")
    if _NUMBER.fullmatch(labels[-1]):
        if ip_literal(host) is None:
            raise TargetRefusedError(
                f"The URL's host {host!r} is a number but no IPv4 address: write the "
                "address as four decimal numbers, a.b.c.d."
            )
        return False
    if len(host.removesuffix(".")) > MAX_NAME_LENGTH or not all(map(_LABEL.fullmatch, labels)):
        raise TargetRefusedError(
            f"The URL's host is not a DNS name: at most {MAX_NAME_LENGTH} characters, of "
            "labels of 1 to 63 letters, digits, '-' or '_' between single dots."
        )
    return True


def _is_localhost_name(host: str) -> bool:
    """ "localhost" and its subdomains resolve to loopback by definition (RFC 6761)."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def ip_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped (``::ffff:a.b.c.d``), compatible
    (``::a.b.c.d``, but ``::`` and ``::1`` are IPv6's own), NAT64 (``64:ff9b::a.b.c.d``)
    or 6to4 (``2002:AABB:CCDD::``)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def check_addresses(addresses: Iterable[Address], *, allow_loopback: bool) -> None:
    """TargetRefusedError unless every address may receive webhooks: a name resolving to
    one good and one refused address is refused (the client could connect to either)."""
    for address in addresses:
        judged: Address = address
        if isinstance(address, ipaddress.IPv6Address):
            if address.scope_id:
                raise TargetRefusedError(f"{address} has a zone (%...): refused.")
            judged = embedded_ipv4(address) or address
        subject = str(address) if judged is address else f"{address} (embedding {judged})"
        if judged.is_loopback:
            if not allow_loopback:
                raise TargetRefusedError(f"{subject} is a loopback address. {_LOOPBACK_REFUSED}")
            continue
        why = _always_refused(judged)
        if why is not None:
            raise TargetRefusedError(f"{subject} is {why}: webhooks may never be sent to it.")


def _always_refused(address: Address) -> str | None:
    """What the address is, when that is refused whatever the operator allows."""
    for network, what in ALWAYS_REFUSED:
        if address in network:
            return what
    for refused, what in (
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),  # IPv4's 240/4 holds the broadcast one
    ):
        if refused:
            return what
    return None


_LOOPBACK_REFUSED = (
    "Loopback targets are refused unless the operator sets WEBHOOK_ALLOW_LOOPBACK=true."
)
