"""Streamed responses that keep their memory bounded under ASGI."""

import asyncio

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

BATCH = 1024 * 1024


class StreamingResponse(StreamingHttpResponse):
    """A StreamingHttpResponse over a sync iterator (an engine stream, a query's
    rows) that the ASGI handler reads a batch at a time.

    Django's own StreamingHttpResponse consumes a sync iterator whole, into a
    list, before the first byte goes out under ASGI: a 2 GB `docker save` would
    sit in the server's memory. Here each batch is read in the request's thread
    while the previous one is being sent, and the server's flow control (send
    waits while the client is slower) holds the source back. Served
    synchronously (WSGI, the test client), it is a plain StreamingHttpResponse."""

    async def __aiter__(self):
        take = sync_to_async(_take, thread_sensitive=True)
        source = self.streaming_content  # the iterator's parts as bytes
        # The next batch is read while this one is sent: the engine and the
        # client each wait for the other no more than flow control makes them.
        ahead = asyncio.ensure_future(take(source))
        try:
            while batch := await ahead:
                ahead = asyncio.ensure_future(take(source))
                yield batch
        finally:
            # A client that went away cancels the send: close the source (the
            # engine's connection) now, not when the generator is collected.
            # The close queues behind a read still running in the same thread.
            ahead.cancel()
            close = getattr(self._iterator, "close", None)
            if close is not None:
                await sync_to_async(close, thread_sensitive=True)()


def _take(parts, size=BATCH):
    """Parts from the iterator, joined, until they add up to `size` bytes or it
    ends. Joined here, in the request's thread: the event loop sends every
    response, and a join of a megabyte is no small part of that work."""
    taken, total = [], 0
    for part in parts:
        taken.append(part)
        total += len(part)
        if total >= size:
            break
    return b"".join(taken)
