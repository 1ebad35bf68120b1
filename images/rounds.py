"""Reads shared by whoever asks together: many websockets opening at once each
wanted the same kind of read on a web process's one database thread, one at a
time. A round serves all who asked while the one before it ran, in one turn.
"""

import asyncio


class Rounds:
    """One read at a time for everyone who asks: those who ask while a read is
    under way wait for the next one, which serves them all together. None joins
    a read begun before it asked: that read could miss what it needs (lines
    stored after the read began and published before the viewer joined its
    feed), where the next one, begun after, sees all of it."""

    def __init__(self, serve):
        self.serve = serve
        self.asked = []
        self.running = None

    async def ask(self, request):
        answer = asyncio.get_running_loop().create_future()
        self.asked.append((request, answer))
        if self.running is None:
            self.running = asyncio.ensure_future(self._run())
        return await answer  # a viewer that goes cancels only its own answer

    async def _run(self):
        batch = []
        try:
            while self.asked:
                batch, self.asked = [(request, answer) for request, answer in self.asked if not answer.done()], []
                if not batch:
                    continue
                try:
                    results = await self.serve([request for request, _ in batch])
                except Exception as exc:  # noqa: BLE001 - each asker gets the failure, as its own read would fail
                    results = [exc] * len(batch)
                for (_, answer), result in zip(batch, results):
                    if answer.done():
                        continue
                    if isinstance(result, Exception):
                        answer.set_exception(result)
                    else:
                        answer.set_result(result)
                batch = []
        finally:
            self.running = None
            for _, answer in batch + self.asked:
                answer.cancel()  # cancelled itself (its loop closing): the askers are not left waiting
            self.asked = []


_together = {}


def together(name, serve):
    """This event loop's rounds called `name`: every caller passes the same
    async `serve` for a `name`."""
    loop = asyncio.get_running_loop()
    rounds = _together.get((loop, name))
    if rounds is None:
        for old in [known for known in _together if known[0].is_closed()]:
            del _together[old]
        rounds = _together[loop, name] = Rounds(serve)
    return rounds
