"""Many websocket viewers in one benchmark process, each as cheap as can be.

The fan-out scenarios put a thousand viewers on the machine that also runs the
server, the worker and the build. A viewer made with the `websockets` client
costs ~40 µs a frame; these read the frames off the socket themselves (a server
sends them unmasked and, here, uncompressed), from a callback rather than a task
each, and parse only the JSON, a batch of lines only once the stream has ended
(the frames are kept with the times they arrived and were read). Each still
checks every line it gets, and answers pings as RFC 6455 asks.

A line's delivery time is when its frame reached the viewer's socket, as the
kernel stamped it (SO_TIMESTAMPNS), not when this one process got round to
reading it: a thousand browsers read their sockets at once, and a single
process reading a thousand sockets in turn would add its own queue (~20 ms at
the median with 1,000 viewers) to Dockyard's. The time the frame was read here
is kept too, and reported beside it.
"""

import asyncio
import base64
import json
import os
import socket
import struct
import time
from urllib.parse import urlsplit

FINAL = ("succeeded", "failed", "cancelled", "interrupted")
_TEXT, _CLOSE, _PING = 0x1, 0x8, 0x9
_LINES = b'{"type": "lines", '  # how the server's json.dumps begins a batch of lines
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux's number; SCM_TIMESTAMPNS is the same
_TIMESPEC = struct.Struct("qq")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)


class Refused(Exception):
    pass


def _client_frame(opcode, payload):
    """A frame as a client must send it: masked."""
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _arrival(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return seconds + nanoseconds / 1e9
    return time.time()


class _Viewer:
    """One socket, read whenever it is readable: the handshake's answer, then
    frames, each message's lines recorded as it completes."""

    def __init__(self, sock, done, stamps, ready, ended):
        self.sock, self.done, self.stamps, self.ready, self.ended = sock, done, stamps, ready, ended
        self.buffer = bytearray()
        self.upgraded = False
        self.parts, self.first_opcode = [], None
        self.received, self.had_state = [], False
        self.batches = []  # (message, arrived, read) of each batch of lines, parsed at the end

    def readable(self):
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 20, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.finish(Refused(f"the socket failed: {exc}"))
            return
        if not data:
            self.finish(Refused("the socket ended before the final state"))
            return
        self.buffer += data
        try:
            self.parse(_arrival(ancillary))
        except Refused as exc:
            self.finish(exc)

    def parse(self, arrived):
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            response = bytes(self.buffer[:end])
            if not response.startswith(b"HTTP/1.1 101"):
                raise Refused(response.split(b"\r\n", 1)[0].decode())
            del self.buffer[:end + 4]
            self.upgraded = True
        start, size = 0, len(self.buffer)
        while not self.done.done():
            if size - start < 2:
                break
            first, second = self.buffer[start], self.buffer[start + 1]
            length, at = second & 0x7F, start + 2
            if length == 126:
                if size - at < 2:
                    break
                (length,) = struct.unpack_from("!H", self.buffer, at)
                at += 2
            elif length == 127:
                if size - at < 8:
                    break
                (length,) = struct.unpack_from("!Q", self.buffer, at)
                at += 8
            if size - at < length:
                break
            payload = bytes(self.buffer[at:at + length])
            start = at + length
            self.frame(first, payload, arrived)
        del self.buffer[:start]

    def frame(self, first, payload, arrived):
        opcode = first & 0x0F
        if opcode == _PING:
            self.sock.send(_client_frame(0xA, payload))
            return
        if opcode == _CLOSE:
            raise Refused(f"closed by the server before the final state: {payload[:2].hex()}")
        if opcode >= 0x8:
            return
        self.parts.append(payload)
        self.first_opcode = self.first_opcode or opcode
        if not first & 0x80:
            return  # more fragments to come
        opcode, message = self.first_opcode, b"".join(self.parts)
        self.parts, self.first_opcode = [], None
        if opcode == _TEXT:
            if message.startswith(_LINES):
                # Parsed once the stream has ended: while a thousand viewers
                # share two cores with the server, parsing each batch as it
                # comes is this process's largest cost, taken from the server.
                self.batches.append((message, arrived, time.time()))
            else:
                self.message(json.loads(message), arrived)

    def lines(self):
        for message, arrived, read in self.batches:
            for seq, text, *_ in json.loads(message)["lines"]:
                self.received.append(seq)
                if self.stamps is not None and text.startswith("ts "):
                    self.stamps.append((float(text[3:]), arrived, read))
        self.batches = []

    def message(self, event, arrived):
        kind = event["type"]
        if kind == "lines":
            raise Refused(f"a batch of lines not written as Dockyard writes them: {json.dumps(event)[:80]}")
        elif kind == "state":
            if not self.had_state:
                self.had_state = True
                if self.ready is not None:
                    # When it reached the socket: this one process may read it later.
                    self.ready.append(arrived)
            if event["state"] in FINAL:
                if self.ended is not None:
                    self.ended.append(arrived)
                self.lines()
                self.finish(self.received)
        elif kind == "refused":
            raise Refused(event["message"])

    def finish(self, outcome):
        if self.done.done():
            return
        if isinstance(outcome, Exception):
            self.done.set_exception(outcome)
        else:
            self.done.set_result(outcome)


async def watch_one(url, cookie, origin, stamps=None, ready=None, ended=None):
    """The line numbers one viewer gets until the job's final state. With
    `stamps`, (printed, arrived, read) of each "ts <time>" line; `ready` gets
    the time the viewer's first state reached its socket (it was then on the live feed), and
    `ended` the time its final state arrived."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    try:
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(sock, (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: {cookie}\r\nOrigin: {origin}\r\n\r\n").encode())
        viewer = _Viewer(sock, loop.create_future(), stamps, ready, ended)
        loop.add_reader(sock.fileno(), viewer.readable)
        try:
            return await viewer.done
        finally:
            loop.remove_reader(sock.fileno())
    finally:
        sock.close()


def watch(url, cookie, origin, clients, stamps=None, ready=None, ended=None):
    async def run():
        return await asyncio.gather(*[watch_one(url, cookie, origin, stamps, ready, ended) for _ in range(clients)])
    return asyncio.run(run())
