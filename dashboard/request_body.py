"""Request bodies under ASGI, read from the connection as the view reads them.

Django's ASGIHandler writes a whole body to a temporary file before any view
runs, and its multipart parser then copies an upload out of that file into
another: a 2 GB build context crossed the disk twice before anything looked at
it. Here the request's stream is the connection: the thread running the view
takes what the server has received, a batch at a time, and the server's flow
control holds the client back meanwhile."""

import asyncio
from collections import deque

from asgiref.sync import async_to_sync
from django.core.exceptions import RequestAborted
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.handlers.asgi import ASGIHandler

BATCH = 1024 * 1024
RESPONSE_MESSAGE = 4 * 1024 * 1024


class StreamedBodyASGIHandler(ASGIHandler):
    # Responses go out in messages of up to this size: Django's 64 KB cut each
    # batch of a streamed response (images/responses.py) into 64 sends.
    chunk_size = RESPONSE_MESSAGE

    async def handle(self, scope, receive, send):
        await super().handle(scope, _Connection(scope, receive), send)

    async def read_body(self, connection):
        if connection.has_body:
            return ReceivedBody(connection)
        # Nothing to stream: taken now, as Django does, so that its disconnect
        # listener hears a client that leaves while the view or a streamed
        # response is still at work.
        body = await super().read_body(connection.receive)
        connection.body_ended()
        return body


class _Connection:
    """One request's `receive`, taken in turn: by the body's reader, then by
    Django's disconnect listener, which would otherwise take body messages."""

    def __init__(self, scope, receive):
        self.receive = receive
        headers = dict(scope.get("headers", ()))
        # A malformed or conflicting length never reaches here: h11 refuses it.
        self.has_body = b"transfer-encoding" in headers or headers.get(b"content-length", b"0").strip() != b"0"
        self.disconnected = False
        self._body_done = asyncio.Event()

    def body_ended(self, disconnected=False):
        self.disconnected = disconnected
        self._body_done.set()

    async def __call__(self):
        await self._body_done.wait()
        if self.disconnected:
            return {"type": "http.disconnect"}
        return await self.receive()


class ReceivedBody:
    """The body as a file for the view's thread. A read waits (in the event
    loop) for what it needs; the next batch is received while the view deals
    with the last one, so at most two batches are held."""

    def __init__(self, connection):
        self._connection = connection
        self._parts = deque()  # received, not yet read; the first from _offset on
        self._offset = 0
        self._buffered = 0
        self._more = True
        self._aborted = False
        self._ahead = None
        self._unfinished = []  # what to close if the client goes away

    def close_if_cut_short(self, file):
        self._unfinished.append(file)

    def read(self, size=-1):
        while self._more and (size is None or size < 0 or self._buffered < size):
            self._receive()
        self._check()
        return self._take(self._buffered if size is None or size < 0 else min(size, self._buffered))

    def readline(self, size=-1):
        limit = None if size is None or size < 0 else size
        pieces, length = [], 0
        while limit is None or length < limit:
            if not self._parts:
                if not self._more:
                    break
                self._receive()
                continue
            first = self._parts[0]
            newline = first.find(b"\n", self._offset)
            stop = len(first) if newline < 0 else newline + 1
            if limit is not None:
                stop = min(stop, self._offset + limit - length)
            pieces.append(self._take(stop - self._offset))
            length += len(pieces[-1])
            if pieces[-1].endswith(b"\n"):
                break
        self._check()
        return b"".join(pieces)

    def close(self):
        # Called from the event loop, or from a thread (the response's closers).
        if self._ahead is not None:
            self._ahead.get_loop().call_soon_threadsafe(self._ahead.cancel)
            self._ahead = None
        self._parts.clear()
        self._buffered = 0
        self._more = False

    def _check(self):
        # A body cut short must not read as a shorter one, even to a caller
        # that caught the first exception.
        if self._aborted:
            raise RequestAborted("The client went away before it had sent the whole request body.")

    def _take(self, size):
        pieces = []
        while size:
            first = self._parts[0]
            if self._offset == 0 and len(first) <= size:
                piece = self._parts.popleft()
            else:
                piece = first[self._offset:self._offset + size]
                self._offset += len(piece)
                if self._offset == len(first):
                    self._parts.popleft()
                    self._offset = 0
            pieces.append(piece)
            size -= len(piece)
            self._buffered -= len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _receive(self):
        try:
            parts, self._more, self._aborted = async_to_sync(self._next_batch)()
        except BaseException:  # the request was cancelled meanwhile
            self._more, self._aborted = False, True
            raise
        finally:
            if self._aborted:
                # In this thread, the one that writes them: an upload cut short
                # goes now, not when the garbage collector finds it.
                for file in self._unfinished:
                    file.close()
        self._check()
        self._parts.extend(parts)
        self._buffered += sum(len(part) for part in parts)

    async def _next_batch(self):
        batch = await (self._ahead or self._batch())
        self._ahead = asyncio.ensure_future(self._batch()) if batch[1] else None
        return batch

    async def _batch(self):
        """(parts, more to come, client gone) once BATCH bytes are in or the body ends."""
        parts, size = [], 0
        while size < BATCH:
            message = await self._connection.receive()
            if message["type"] == "http.disconnect":
                self._connection.body_ended(disconnected=True)
                return parts, False, True
            if body := message.get("body"):
                parts.append(body)
                size += len(body)
            if not message.get("more_body", False):
                self._connection.body_ended()
                return parts, False, False
        return parts, True, False


class DiskUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for uploads too big for memory; with the body streamed,
    the file of one cut short is removed as soon as the client is gone."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        body = getattr(self.request, "_stream", None)  # HttpRequest's body file
        if isinstance(body, ReceivedBody):
            body.close_if_cut_short(self.file)
