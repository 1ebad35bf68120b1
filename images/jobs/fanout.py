"""Live job events in a web process: one subscription per job, handed out to
each of the process's viewers of that job.

Through Channels' groups every viewer joined the job's group and received each
batch as a message of its own: a task and a wait per message per viewer, which
kept a web process behind with a thousand viewers of one build (bench 10). Here
a process receives each of a job's events once and puts it on its viewers'
inboxes. Events that arrive while the process is busy are handed out together,
consecutive lines merged, so a busy process sends fewer, larger frames instead
of falling further behind.

A viewer is anything with `take(events)`: it must not wait, and keeps the order.
"""

import asyncio
import logging

from channels.layers import get_channel_layer

from images.jobs.publish import job_group
from images.rounds import Rounds

log = logging.getLogger(__name__)


def merged(events):
    """The events in order, each run of lines that follow on from each other in
    one event. A gap between two batches stays a gap: viewers read what is
    missing back from storage when the first line of a batch is not the next."""
    out = []
    for event in events:
        last = out[-1] if out else None
        if (event["type"] == "lines" and event["lines"] and last is not None and last["type"] == "lines"
                and last["lines"] and last["lines"][-1][0] + 1 == event["lines"][0][0]):
            out[-1] = {"type": "lines", "lines": last["lines"] + event["lines"]}
        else:
            out.append(event)
    return out


class _Feed:
    def __init__(self, job_id):
        self.job_id = job_id
        self.viewers = set()
        self.pending = []
        self.ready = asyncio.get_running_loop().create_future()
        self.channel = None
        self.reader = None
        self.shared = {}
        self.rounds = {}


class Relay:
    """The feeds of one event loop (a web process has one)."""

    def __init__(self, layer):
        self.layer = layer
        self.feeds = {}

    async def join(self, job_id, viewer):
        """Start handing `viewer` the job's events; once this returns, the job's
        events published from now on reach it (Redis takes a subscription a
        moment after it is sent: see JobConsumer.recheck_soon)."""
        feed = self.feeds.get(job_id)
        if feed is None:
            feed = self.feeds[job_id] = _Feed(job_id)
            try:
                feed.channel = await self.layer.new_channel()
                await self.layer.group_add(job_group(job_id), feed.channel)
            except Exception as exc:
                del self.feeds[job_id]
                feed.ready.set_exception(exc)  # the viewers that joined meanwhile fail too
                feed.ready.exception()  # and this one has it: nothing to report as unretrieved
                raise
            except BaseException:
                del self.feeds[job_id]
                feed.ready.cancel()
                raise
            feed.reader = asyncio.create_task(self._read(feed))
            feed.ready.set_result(None)
        feed.viewers.add(viewer)
        await asyncio.shield(feed.ready)

    async def leave(self, job_id, viewer):
        feed = self.feeds.get(job_id)
        if feed is None or viewer not in feed.viewers:
            return
        feed.viewers.discard(viewer)
        if feed.viewers or not feed.ready.done():  # the viewer that made the feed joins as it is ready
            return
        del self.feeds[job_id]  # a viewer joining from here on starts a new feed
        feed.reader.cancel()  # the layer unsubscribes the feed's channel as its receive is cancelled
        await self.layer.group_discard(job_group(job_id), feed.channel)

    async def read_once(self, job_id, key, read):
        """What every viewer of an ended job in this process reads alike (its row,
        the lines after a number), read once while the job has viewers here: a
        thousand viewers at the end of a build took two database reads each, one
        at a time on the process's database thread. `read` is an async function."""
        feed = self.feeds.get(job_id)
        if feed is None:
            return await read()
        task = feed.shared.get(key)
        if task is None:
            task = feed.shared[key] = asyncio.ensure_future(read())
        # One viewer leaving must not cancel the read for the others.
        return await asyncio.shield(task)

    async def read_together(self, job_id, name, request, serve):
        """`serve([request])[0]`, shared with the job's other viewers in this
        process that ask `name` meanwhile: a thousand viewers opening a running
        build each read its stored lines on the process's one database thread,
        one at a time (3.4 s at the 99th percentile of their live lines). Every
        viewer passes the same async `serve` for a `name`."""
        feed = self.feeds.get(job_id)
        if feed is None:
            return (await serve([request]))[0]
        rounds = feed.rounds.get(name)
        if rounds is None:
            rounds = feed.rounds[name] = Rounds(serve)
        return await rounds.ask(request)

    async def _read(self, feed):
        loop = asyncio.get_running_loop()
        while True:
            message = await self.layer.receive(feed.channel)
            if not feed.pending:
                # After everything already received: it all goes out at once.
                loop.call_soon(self._hand_out, feed)
            feed.pending.append(message["event"])

    def _hand_out(self, feed):
        events, feed.pending = merged(feed.pending), []
        for viewer in tuple(feed.viewers):
            try:
                viewer.take(events)
            except Exception:  # noqa: BLE001 - one viewer's fault must not cost the others their events
                log.exception("Handing job %s's events to a viewer failed", feed.job_id)


_relays = {}


def relay():
    """This event loop's relay."""
    loop = asyncio.get_running_loop()
    found = _relays.get(loop)
    if found is None:
        for old in [known for known in _relays if known.is_closed()]:
            del _relays[old]
        found = _relays[loop] = Relay(get_channel_layer())
    return found
