"""Where a webhook may be sent: never to this machine or the internal network, unless allowed.

A receiver's address is checked when the endpoint is saved and again at every delivery, on the
addresses its name resolves to then; the POST goes to the address that was checked (the name
kept for ``Host`` and TLS), so a name that changes its answer between the check and the POST
(DNS rebinding) cannot reach an internal service. Loopback, link-local, private, shared and
reserved ranges are refused unless ``CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS`` is set (an
admin's choice, e.g. for a receiver on the same network); the delivery log of such a target
keeps only the status and the size of its answers, never their body.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from closedloop.errors import ValidationFailed
from closedloop.interfaces.settings import get_interfaces_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
SETTING = "CLOSEDLOOP_WEBHOOK_ALLOW_PRIVATE_TARGETS"


class TargetRefused(Exception):
    """The URL points at an address webhooks may not reach (or resolves to none)."""


class Unresolvable(TargetRefused):
    """The URL's host name resolves to no address (now)."""


def is_internal(address: Address) -> bool:
    """True for loopback, link-local, private, shared, multicast and reserved addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def resolve(host: str, port: int) -> list[Address]:
    """The addresses ``host`` stands for (itself when it is an address)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(f"{host} does not resolve ({exc})") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """A checked receiver: the URL to POST to (the address in place of the name), the
    ``Host`` header and the TLS server name, and whether it is internal (allowed)."""

    url: str
    host_header: str
    server_name: str | None
    internal: bool


def check(url: str, *, allow_internal: bool | None = None) -> Target:
    """Resolve ``url``'s host and check every address; TargetRefused when one is internal
    and internal targets are not allowed."""
    if allow_internal is None:
        allow_internal = get_interfaces_settings().webhook_allow_private_targets
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise Unresolvable(f"{host} resolves to no address")
    internal = [a for a in addresses if is_internal(a)]
    if internal and not allow_internal:
        raise TargetRefused(
            f"{host} is an internal address ({internal[0]}): webhooks may only reach public "
            f"addresses unless an administrator sets {SETTING}=true"
        )
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    host_header = parts.netloc.rpartition("@")[2]
    server_name = host if parts.scheme == "https" else None
    return Target(pinned, host_header, server_name, bool(internal))


def check_on_save(url: str) -> None:
    """Refuse (ValidationFailed on ``url``) an endpoint that points at an internal address;
    a name that does not resolve now is accepted (each delivery checks it again)."""
    try:
        check(url)
    except Unresolvable:
        return
    except TargetRefused as exc:
        raise ValidationFailed(
            f"{url!r} cannot receive webhooks: {exc}.",
            errors=[{"field": "url", "message": "an internal address (loopback or private)"}],
        ) from exc
