"""Strict readers for settings taken from the environment.

Each one rejects a value it cannot understand instead of guessing, so a typo in
a deployment fails at start-up rather than changing behaviour silently.
"""

import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name, default=""):
    return os.environ.get(name, default)


def envbool(name, default=False):
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}")


def envint(name, default, minimum=None):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}")
    return value


def envlist(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_networks(name, raw):
    """'10.0.0.5, 10.1.0.0/16, fd00::/8' as ip_network objects. A host name, a
    network written with host bits, or one that holds every address is refused."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            network = ipaddress.ip_network(item)
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ImproperlyConfigured(f"{name}: {item!r} is not an IP address or network (name a proxy by "
                                           "its address, not its host name)") from None
            raise ImproperlyConfigured(f"{name}: {item} has host bits set; the network is {loose}") from None
        if network.prefixlen == 0:
            raise ImproperlyConfigured(f"{name}: {item} is every address, so anyone could say who they are")
        networks.append(network)
    return networks


def envnetworks(name):
    return parse_networks(name, os.environ.get(name, ""))
