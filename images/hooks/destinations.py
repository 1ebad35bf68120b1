"""Where outbound webhooks may go: hosts an admin allowed in DOCKYARD_WEBHOOK_HOSTS.

A URL's host must be listed, by name or by address. Its name is then resolved,
and every address it resolves to must be public or listed itself: a listed name
that comes to point at loopback, a private network or the cloud's metadata
address is refused. The delivery then connects to the address checked here, not
to what the name resolves to a moment later (images.hooks.outbound)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = ("http", "https")


class DestinationRefused(ValueError):
    pass


def _allowed():
    return settings.DOCKYARD_WEBHOOK_HOSTS


def _listed_address(address):
    for entry in _allowed():
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_url(url):
    """(scheme, host, port, address) of a URL webhooks may be sent to, or DestinationRefused saying why."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused(f"{url[:200]} is not a URL Dockyard can read ({exc}).") from None
    if parts.scheme not in SCHEMES:
        raise DestinationRefused("A webhook URL starts with https:// or http://.")
    if parts.username or parts.password:
        raise DestinationRefused("A webhook URL carries no user or password: the signature proves who sent it.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise DestinationRefused(f"{url[:200]} names no host.")
    allowed = _allowed()
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if not (host in allowed or "*" in allowed or (literal is not None and _listed_address(literal))):
        raise DestinationRefused(f"Webhooks may not go to {host}: allowed hosts are "
                                 f"{', '.join(allowed) or 'none'} (DOCKYARD_WEBHOOK_HOSTS).")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = [literal] if literal is not None else _resolved(host)
    for address in addresses:
        if not (_public(address) or _listed_address(address)):
            raise DestinationRefused(f"Webhooks may not go to {host}: it resolves to {address}, which is not a "
                                     "public address; list the address in DOCKYARD_WEBHOOK_HOSTS to allow it.")
    return parts.scheme, host, port, str(addresses[0])


def _resolved(host):
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"The host {host} cannot be resolved here ({exc}).") from None
    return [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in found]


def _public(address):
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast
