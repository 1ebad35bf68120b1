"""Many websocket viewers in one benchmark process, each as cheap as can be.

The fan-out scenarios put a thousand viewers on the machine that also runs the
server, the worker and the build. A viewer made with the `websockets` client
costs ~40 µs a frame; these read the frames off the socket themselves (a server
sends them unmasked and, here, uncompressed) and parse only the JSON, so the
figures measure Dockyard's delivery rather than the viewers' own CPU. Each still
checks every line it gets, and answers pings as RFC 6455 asks.
"""

import asyncio
import base64
import json
import os
import struct
import time
from urllib.parse import urlsplit

FINAL = ("succeeded", "failed", "cancelled", "interrupted")
_TEXT, _CLOSE, _PING = 0x1, 0x8, 0x9


class Refused(Exception):
    pass


def _client_frame(opcode, payload):
    """A frame as a client must send it: masked."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def _frames(reader):
    """(opcode, payload) of each whole message."""
    parts, first_opcode = [], None
    while True:
        head = await reader.readexactly(2)
        opcode, length = head[0] & 0x0F, head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(length)
        if opcode >= 0x8:  # control frames come whole, between fragments
            yield opcode, payload
            continue
        parts.append(payload)
        first_opcode = first_opcode or opcode
        if head[0] & 0x80:
            yield first_opcode, b"".join(parts)
            parts, first_opcode = [], None


async def watch_one(url, cookie, origin, stamps=None, ready=None):
    """The line numbers one viewer gets until the job's final state. With
    `stamps`, (printed, seen) of each "ts <time>" line; `ready` gets the time
    the viewer had its first state (it is then on the live feed)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=2**24)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Cookie: {cookie}\r\nOrigin: {origin}\r\n\r\n").encode())
    response = await reader.readuntil(b"\r\n\r\n")
    if not response.startswith(b"HTTP/1.1 101"):
        raise Refused(response.split(b"\r\n", 1)[0].decode())
    received, had_state = [], False
    try:
        async for opcode, payload in _frames(reader):
            if opcode == _PING:
                writer.write(_client_frame(0xA, payload))
                continue
            if opcode == _CLOSE:
                raise Refused(f"closed by the server before the final state: {payload[:2].hex()}")
            if opcode != _TEXT:
                continue
            now = time.time()
            event = json.loads(payload)
            kind = event["type"]
            if kind == "lines":
                for seq, text in event["lines"]:
                    received.append(seq)
                    if stamps is not None and text.startswith("ts "):
                        stamps.append((float(text[3:]), now))
            elif kind == "state":
                if not had_state:
                    had_state = True
                    if ready is not None:
                        ready.append(now)
                if event["state"] in FINAL:
                    return received
            elif kind == "refused":
                raise Refused(event["message"])
    finally:
        writer.close()
    raise Refused("the socket ended before the final state")


def watch(url, cookie, origin, clients, stamps=None, ready=None):
    async def run():
        return await asyncio.gather(*[watch_one(url, cookie, origin, stamps, ready) for _ in range(clients)])
    return asyncio.run(run())
