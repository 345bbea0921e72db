"""Where a webhook may point (SPEC §9): the one place that decides, at creation and again
at delivery after DNS resolution.

Only http and https, no user name or password in the URL. Link-local addresses
(169.254.0.0/16, fe80::/10: the cloud metadata endpoints live there) are always refused;
loopback (127.0.0.0/8, ::1) only when the operator allows it (``WEBHOOK_ALLOW_LOOPBACK``,
for development and tests). An IPv4-mapped IPv6 address is judged as the IPv4 address it
carries, so ``[::ffff:169.254.169.254]`` is link-local too. Unspecified addresses
(0.0.0.0, ::) reach the local host and count as loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2_000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefusedError(ValueError):
    """The URL or an address it resolves to may not receive webhooks; the message says why."""


def check_url(url: str, *, allow_loopback: bool) -> str:
    """The URL's host name, when the URL may be a webhook target; else TargetRefusedError.

    A host given as an IP address literal is judged here already; a name is judged at
    delivery, on the addresses it resolves to then (``check_addresses``).
    """
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefusedError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise TargetRefusedError("The URL contains white space or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:
        raise TargetRefusedError(f"The URL is malformed: {exc}.") from exc
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise TargetRefusedError("Only http and https URLs may receive webhooks.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefusedError("The URL may not carry a user name or password.")
    host = parts.hostname
    if not host:
        raise TargetRefusedError("The URL has no host.")
    if port == 0:
        raise TargetRefusedError("The URL's port must be 1 to 65535.")
    if parts.fragment:
        raise TargetRefusedError("The URL may not have a fragment (#...).")
    literal = ip_literal(host)
    if literal is not None:
        check_addresses([literal], allow_loopback=allow_loopback)
    elif _is_localhost_name(host) and not allow_loopback:
        raise TargetRefusedError(_LOOPBACK_REFUSED)
    return host


def _is_localhost_name(host: str) -> bool:
    """ "localhost" and its subdomains resolve to loopback by definition (RFC 6761)."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def ip_literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_addresses(addresses: Iterable[Address], *, allow_loopback: bool) -> None:
    """TargetRefusedError unless every address may receive webhooks: a name resolving to
    one good and one refused address is refused (the client could connect to either)."""
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_link_local:
            raise TargetRefusedError(
                f"{address} is a link-local address (cloud metadata lives there): "
                "webhooks may never be sent to it."
            )
        if (address.is_loopback or address.is_unspecified) and not allow_loopback:
            raise TargetRefusedError(_LOOPBACK_REFUSED + f" ({address})")


_LOOPBACK_REFUSED = (
    "Loopback targets are refused unless the operator sets WEBHOOK_ALLOW_LOOPBACK=true."
)
