"""A terminal on the engine: a TTY container's attach, or a shell (an exec) in a
running container, as a hijacked connection read and written from asyncio.

A TTY's stream is raw (no 8-byte frame headers): what is read is what the
terminal printed, passed on as it comes, never gathered.
"""

import asyncio
import secrets

from images.engine.client import EngineError

READ_BYTES = 64 * 1024
# A shell in a run: the image's own /bin/sh (busybox, Debian, Alpine all have one).
SHELL = ["/bin/sh"]
# The Engine API cannot signal an exec (moby/moby#9098), and a closed stdin does
# not end one on a TTY: a shell carries a mark in its environment, which what
# runs in it inherits, and a second exec hangs up every process with that mark.
SHELL_MARK = "DOCKYARD_SHELL"
HANG_UP = ('for dir in /proc/[0-9]*; do case "$(cat "$dir/environ" 2>/dev/null)" in '
           '*"' + SHELL_MARK + '=$1"*) kill -HUP "${dir#/proc/}";; esac; done')


class TerminalStream:
    """One hijacked connection to the engine. `read()` returns what has arrived
    (b"" at the end); `write()` is stdin (refused on a read-only attach, which
    the engine opened without stdin); `resize()` sets the TTY's size."""

    def __init__(self, engine, reader, writer, *, container_id, exec_id=None, mark=None, stdin=False):
        self.engine = engine
        self.container_id = container_id
        self.exec_id, self.mark = exec_id, mark
        self.stdin = stdin
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, engine, connect, **identity):
        """`connect()` (blocking: it upgrades a plain socket) gives (socket, bytes
        already read); the bytes are read first, then the socket."""
        sock, received = await asyncio.to_thread(connect)
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock, limit=READ_BYTES)
        if received:
            reader.feed_data(received)
        return cls(engine, reader, writer, **identity)

    async def read(self):
        return await self._reader.read(READ_BYTES)

    async def write(self, data):
        if not self.stdin:
            raise PermissionError("This terminal was attached without stdin.")
        self._writer.write(data)
        await self._writer.drain()

    async def resize(self, rows, cols):
        if self.exec_id:
            await asyncio.to_thread(self.engine.resize_exec, self.exec_id, rows, cols)
        else:
            await asyncio.to_thread(self.engine.resize_container, self.container_id, rows, cols)

    async def close(self):
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        if self.mark:
            try:
                await asyncio.to_thread(self.engine.run_quietly, self.container_id, ["/bin/sh", "-c", HANG_UP,
                                                                                    "hang-up", self.mark])
            except EngineError:
                pass  # the container has stopped, and the shell with it


async def attach(engine, container_id, stdin):
    """The container's own TTY: what every viewer sees; with `stdin`, what its
    owner types reaches the container's process."""
    return await TerminalStream.open(engine, lambda: engine.attach_socket(container_id, stdin),
                                     container_id=container_id, stdin=stdin)


async def shell(engine, container_id):
    """A new shell in the running container, as its user, on a TTY of its own
    (sized by the first `resize`: API 1.41 takes no size at creation)."""
    mark = secrets.token_hex(16)
    exec_id = await asyncio.to_thread(engine.create_shell, container_id, SHELL, [f"{SHELL_MARK}={mark}"])
    return await TerminalStream.open(engine, lambda: engine.start_shell_socket(exec_id),
                                     container_id=container_id, exec_id=exec_id, mark=mark, stdin=True)
