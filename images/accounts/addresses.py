"""Whose address a request comes from, for the login throttle and the audit log.

Behind a proxy every request's REMOTE_ADDR is the proxy's. A proxy named in
DOCKYARD_TRUSTED_PROXIES appends the address it saw to X-Forwarded-For, so the
header is read from the right, past each trusted proxy, and the first address
that is not one is the client. Everything to the left of it was written by the
client and is not believed.
"""

import ipaddress

from django.conf import settings


def client_address(request):
    """The client's address as text, or None when the server gave none."""
    return _walk(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def scope_client_address(scope):
    """client_address for an ASGI scope (a websocket), read the same way."""
    peer = (scope.get("client") or ("",))[0] or ""
    forwarded = b",".join(value for name, value in scope.get("headers") or () if name.lower() == b"x-forwarded-for")
    return _walk(peer, forwarded.decode("latin-1"))


def _walk(peer, forwarded):
    address = _parse(peer)
    if address is None:
        return None
    hops = forwarded.split(",")
    while hops and _trusted(address):
        earlier = _parse(hops.pop())
        if earlier is None:
            break  # not an address: whoever wrote it is not a proxy of ours; the proxy is all that is known
        address = earlier
    return str(address)


def _parse(text):
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket is ::ffff:a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address


def _trusted(address):
    return any(address in network for network in settings.DOCKYARD_TRUSTED_PROXIES)
