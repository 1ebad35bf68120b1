"""A connection to the engine taken over by another protocol after an HTTP
Upgrade: how a BuildKit session is attached (`POST /session`, `Upgrade: h2c`),
and a terminal (`POST /containers/{id}/attach`, `POST /exec/{id}/start`,
`Upgrade: tcp`).

The SDK's hijacked sockets (attach) come from a response that http.client has
already read into its buffer, which may hold the first bytes of the new
protocol too; the engine speaks first on a session, so the request is written
and its answer read here, on a plain socket to the engine's own address, and
whatever followed the answer is handed over with the socket.
"""

import json
import socket
from urllib.parse import urlsplit

from docker.utils import parse_host

HEADER_LIMIT = 64 * 1024


class UpgradeRefused(Exception):
    """The engine answered the upgrade with something other than 101."""


def connect(address, timeout):
    """A socket to the engine at a DOCKER_HOST-style address (unix:// or tcp://)."""
    url = parse_host(address)
    if url.startswith("http+unix://"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(url.removeprefix("http+unix://"))
        except OSError:
            sock.close()
            raise
        return sock
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise UpgradeRefused(f"Sessions and terminals need the engine on a unix socket or plain tcp, not {address}.")
    return socket.create_connection((parts.hostname, parts.port or 2375), timeout=timeout)


def upgrade(sock, path, headers, protocol, body=b""):
    """Send `POST path` (with `body`) asking to switch to `protocol`; return the
    bytes that arrived after the engine's `101 Switching Protocols`. Raise
    UpgradeRefused with the engine's message for any other answer."""
    lines = [f"POST {path} HTTP/1.1", "Host: docker", f"Upgrade: {protocol}", "Connection: Upgrade",
             f"Content-Length: {len(body)}"]
    for name, value in headers:
        if any(char in f"{name}{value}" for char in "\r\n\0"):
            raise ValueError(f"A header of the upgrade request holds a line break: {name!r}")
        lines.append(f"{name}: {value}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    received = b""
    while b"\r\n\r\n" not in received:
        if len(received) > HEADER_LIMIT:
            raise UpgradeRefused("The engine's answer to the upgrade request has over 64 KB of headers.")
        block = sock.recv(16 * 1024)
        if not block:
            raise UpgradeRefused("The engine closed the connection instead of answering the upgrade request.")
        received += block
    head, _, rest = received.partition(b"\r\n\r\n")
    status_line = head.decode("latin-1").split("\r\n", 1)[0]
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "101":
        raise UpgradeRefused(_refusal(status_line, rest))
    return rest


def _refusal(status_line, body):
    """The engine's error message from a refused upgrade (its JSON `message`,
    or the status line), from what has arrived of the body."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return message or text[:500] or status_line
