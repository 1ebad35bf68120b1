"""The engines Dockyard manages, by name, and the one a request or a job works on.

`DOCKYARD_ENGINES` names them: `name=DOCKER_HOST` pairs separated by commas
(`production=tcp://10.0.0.7:2376,staging=ssh://deploy@staging`); unset, the
one engine `default` at `$DOCKER_HOST` (or the local socket). A `tcp://` engine
verifies TLS with the files in `DOCKYARD_ENGINE_<NAME>_TLS`, a directory
holding ca.pem, cert.pem and key.pem as DOCKER_CERT_PATH does. `ssh://` is
handed to the SDK, which runs `ssh` itself.

The settings import this module, so it imports nothing of Django's at the top
but its exceptions.
"""

import re
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DEFAULT = "default"
LOCAL_SOCKET = "unix:///var/run/docker.sock"
# A name goes into URLs (/e/<name>/), queue names and environment variable names.
NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
SCHEMES = ("unix://", "tcp://", "ssh://")
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


def parse(text, docker_host=""):
    """The engines `DOCKYARD_ENGINES` names, as {name: address}, in its order.
    Raise ImproperlyConfigured saying what is wrong with it."""
    if not text or not text.strip():
        return {DEFAULT: docker_host or LOCAL_SOCKET}
    engines = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, address = item.partition("=")
        name, address = name.strip(), address.strip()
        if not sep or not address:
            raise ImproperlyConfigured(f"DOCKYARD_ENGINES: {item!r} is not name=DOCKER_HOST "
                                       "(as in staging=tcp://10.0.0.7:2376).")
        if not NAME.fullmatch(name):
            raise ImproperlyConfigured(f"DOCKYARD_ENGINES: {name!r} is not an engine name: lower-case letters, "
                                       "digits and '-', starting with a letter, at most 31.")
        if name in engines:
            raise ImproperlyConfigured(f"DOCKYARD_ENGINES names the engine {name!r} twice.")
        if not address.startswith(SCHEMES) or len(address) <= len(address.split("://")[0]) + 3:
            raise ImproperlyConfigured(f"DOCKYARD_ENGINES: the engine {name!r} is at {address!r}, which is not a "
                                       "unix://, tcp:// or ssh:// address.")
        engines[name] = address
    if not engines:
        raise ImproperlyConfigured("DOCKYARD_ENGINES is set but names no engine.")
    return engines


def tls_variable(name):
    return f"DOCKYARD_ENGINE_{name.upper().replace('-', '_')}_TLS"


def parse_tls(engines, environ):
    """{name: directory} of the engines with TLS files, each directory checked
    to hold ca.pem, cert.pem and key.pem."""
    found = {}
    for name, address in engines.items():
        directory = environ.get(tls_variable(name), "").strip()
        if not directory:
            continue
        if not address.startswith("tcp://"):
            raise ImproperlyConfigured(f"{tls_variable(name)} is set, but the engine {name!r} is at {address}: "
                                       "TLS files are for tcp:// engines.")
        missing = [file for file in TLS_FILES if not (Path(directory) / file).is_file()]
        if missing:
            raise ImproperlyConfigured(f"{tls_variable(name)}={directory} lacks {', '.join(missing)} "
                                       "(it holds ca.pem, cert.pem and key.pem, as DOCKER_CERT_PATH does).")
        found[name] = directory
    return found


def names():
    from django.conf import settings

    return list(settings.DOCKYARD_ENGINES)


def exists(name):
    from django.conf import settings

    return name in settings.DOCKYARD_ENGINES


def queue_for(name):
    """The Celery queue of an engine's jobs. The default engine's is DOCKYARD_QUEUE
    itself, so a worker started for the one engine serves it as before."""
    from django.conf import settings

    return settings.DOCKYARD_QUEUE if name == DEFAULT else f"{settings.DOCKYARD_QUEUE}.{name}"


def url_prefix(name):
    """Where an engine's pages are: today's URLs for the default engine, /e/<name>/ for the others."""
    return "" if name == DEFAULT else f"e/{name}/"


def reverse_on(name, viewname, args=()):
    """The URL of a view on the engine `name`, whichever engine's prefix the URLs
    reversed now carry (EngineMiddleware sets it for the request's engine)."""
    from django.urls import get_script_prefix, reverse, set_script_prefix

    prefix = get_script_prefix()
    current = url_prefix(active())
    base = prefix[:-len(current)] if current and prefix.endswith(current) else prefix
    set_script_prefix(base + url_prefix(name))
    try:
        return reverse(viewname, args=args)
    finally:
        set_script_prefix(prefix)


# The engine the code running now works on: the request's (EngineMiddleware),
# the job's (the worker), the stream's (the consumer). Role checks and audit
# entries read it, as the audit log reads who is asking from its own context.
_active = ContextVar("dockyard_engine", default=DEFAULT)


def active():
    return _active.get()


@contextmanager
def activated(name):
    token = _active.set(name)
    try:
        yield name
    finally:
        _active.reset(token)
