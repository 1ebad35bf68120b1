"""A run's terminal over a websocket: /ws/jobs/<id>/terminal/ (the run's own
TTY) and /ws/jobs/<id>/shell/ (a new shell in its container), proxied to the
engine's hijacked stream as it comes, without buffering.

The protocol is terminado's, kept as small: JSON arrays, `["stdout", text]` from
the server, `["stdin", text]` and `["set_size", rows, cols]` from the browser.
Those who may not type (images.lifecycle.terminals) watch: their frames are
dropped unread. Nothing typed is stored or logged. When the terminal ends, or
is refused once the socket is open, the server closes with a code (4403, 4404,
4409, or 1000 at the end) and the reason in words.
"""

import asyncio
import codecs
import json
import logging

from channels.db import database_sync_to_async

from images.jobs.consumers import GuardedConsumer, _engine_of_job
from images.lifecycle import terminals
from images.middleware import SERVER_SEND

log = logging.getLogger(__name__)

STDIN_MAX = 64 * 1024  # characters in one frame: a paste, not a file
SIZE_MAX = 1000  # rows or columns
BAD_FRAME = 4400


class TerminalConsumer(GuardedConsumer):
    stream = None
    pump = None

    async def connect(self):
        job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        kind = self.scope["url_route"]["kwargs"]["kind"]
        if not await self.admit(await database_sync_to_async(_engine_of_job)(job_id)):
            return
        await self.accept()  # first, so that a refusal can say why
        try:
            self.stream, self.may_type = await terminals.open_terminal(self.scope["user"], job_id, kind)
        except terminals.TerminalRefused as refused:
            await self.close(code=refused.code, reason=str(refused)[:120])  # a close reason is at most 123 bytes
            return
        self.pump = asyncio.create_task(self.send_output())

    async def send_output(self):
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # Past Channels' session middleware, which reads the session for every frame (middleware.ServerSend).
        send = self.scope[SERVER_SEND]
        try:
            while data := await self.stream.read():
                text = decoder.decode(data)
                if text:
                    await send({"type": "websocket.send", "text": json.dumps(["stdout", text])})
        except OSError:
            pass
        await self.close(code=1000, reason="The terminal ended.")

    async def receive(self, text_data=None, bytes_data=None):
        if self.stream is None or not self.may_type:
            return  # a watcher's keystrokes and sizes go nowhere, unread
        frame = _frame(text_data)
        if frame is None:
            await self.close(code=BAD_FRAME, reason='Frames are ["stdin", text] or ["set_size", rows, cols].')
        elif frame[0] == "stdin":
            await self.stream.write(frame[1].encode("utf-8", errors="replace"))
        else:
            try:
                await self.stream.resize(*frame[1:])
            except Exception:  # the container or shell ended meanwhile: its end closes this socket
                log.info("Resizing a terminal failed", exc_info=True)

    async def disconnect(self, code):
        if self.pump is not None:
            self.pump.cancel()
        if self.stream is not None:
            await self.stream.close()
        await self.release_slot()


def _frame(text):
    """A browser's frame, checked: ("stdin", text) or ("set_size", rows, cols); None otherwise."""
    try:
        frame = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(frame, list) or not frame:
        return None
    if frame[0] == "stdin" and len(frame) == 2 and isinstance(frame[1], str) and len(frame[1]) <= STDIN_MAX:
        return tuple(frame)
    if frame[0] == "set_size" and len(frame) == 3 and all(
            type(number) is int and 1 <= number <= SIZE_MAX for number in frame[1:]):
        return tuple(frame)
    return None
