"""Live job output over a websocket, at /ws/jobs/<id>/?after=<seq>, and image
events at /ws/images/. Both admit only users whose role lets them browse, and
only DOCKYARD_MAX_STREAMS of them per person at once.

On connect the consumer joins its process's feed of the job first (`fanout`),
then sends the stored lines after `after`, then live ones; sequence numbers
make sure nothing is lost or repeated between the two, and lines missed on the
way (published while the process was still subscribing, or while its Redis
connection was down) are read back from the database. A build's steps go the
same way: the stored list on connect (and again with the final state), each
changed step (`{"type": "step"}`) live; and a BuildKit build's graph: the stored
one on connect and with the final state, changed vertices and transfers
(`{"type": "graph"}`) live. While a job waits in its queue: whether a live
worker serves its engine (`{"type": "workers"}`).
"""

import asyncio
import bisect
import json
import logging
import uuid
from collections import OrderedDict
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from images import engines
from images.accounts import audit
from images.accounts.addresses import scope_client_address
from images.accounts.roles import may
from images.jobs import access, eager, fanout, logstore, publish, streams
from images.jobs.log import clipped_event
from images.jobs.publish import images_group
from images.middleware import SERVER_SEND
from images.models import Job
from images.monitoring import health
from images.monitoring.metrics import lines_delivered
from images.rounds import together

log = logging.getLogger(__name__)

REPLAY_CHUNK = 2000
RECHECK_AFTER = 2  # seconds; far longer than Redis takes to subscribe
WORKER_CHECK_EVERY = health.WORKERS_CACHE_SECONDS  # the workers' answer is kept that long anyway


class GuardedConsumer(AsyncJsonWebsocketConsumer):
    """A stream only for users whose role lets them browse, and only as many
    at once per user as DOCKYARD_MAX_STREAMS allows."""

    slot_keeper = None

    async def dispatch(self, message):
        # Channels closes stale database connections before each message, on
        # the one thread a process runs its database work on: one event to a
        # thousand open lists took a thousand turns there, and a thousand viewers
        # opening a running build three turns each besides their own reads. These
        # handlers reach the database only through database_sync_to_async, which
        # closes them around each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def admit(self, engine, may_browse=None):
        """Refuse (and return False) or take a stream slot on `engine` (a name).
        A refused handshake is answered 403; a user over the limit is told why,
        then closed. `may_browse`: whether the user may browse `engine`, if the
        caller read it already."""
        audit.use_context(scope_client_address(self.scope), "token" if self.scope.get("token_auth") else "web")
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return False
        if may_browse is None:
            may_browse = await database_sync_to_async(may)(user, "browse", engine)
        if not may_browse:
            await database_sync_to_async(audit.record)(user, "browse", self.scope["path"], audit.DENIED,
                                                       detail="websocket; needs browse")
            await self.close(code=4403)
            return False
        if not await streams.acquire(user.pk, self.channel_name):
            await self.accept()
            await self.send_json({"type": "refused", "message": (
                "You have too many Dockyard pages streaming at once; close some tabs and reload this one.")})
            await self.close(code=4429)
            return False
        self.slot_user = user.pk
        self.slot_keeper = asyncio.create_task(self.keep_slot())
        return True

    async def keep_slot(self):
        while True:
            await asyncio.sleep(streams.REFRESH)
            await streams.refresh(self.slot_user, self.channel_name)

    async def release_slot(self):
        if self.slot_keeper is not None:
            self.slot_keeper.cancel()
            self.slot_keeper = None
            await streams.release(self.slot_user, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # Viewers only listen: nothing sent to a stream changes anything.


class JobConsumer(GuardedConsumer):
    # A job's live events come through the process's relay (fanout), not through
    # a channel of each socket's own: Channels would subscribe one in Redis for
    # every socket, one at a time under the layer's lock, before its connect ran.
    # An alias no layer is configured under gives none.
    channel_layer_alias = "job viewers have no channel of their own"

    async def connect(self):
        self.channel_name = f"job-viewer.{uuid.uuid4().hex}"  # names its stream slot
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        # Browsing is by the job's engine; a job that does not exist is refused below, as one not visible.
        engine, may_browse, job = await together("job admission", _admissions).ask(
            (self.scope.get("user"), self.job_id))
        if not await self.admit(engine, may_browse):
            return
        if job is None:
            await self.release_slot()
            await self.close(code=4404)
            return
        self.last_sent = _after(self.scope)
        self.sending = asyncio.Lock()
        self.finished = False
        self.inbox, self.drainer = [], None
        # Held until the stored part is sent: live events that come meanwhile wait in the inbox.
        async with self.sending:
            await fanout.relay().join(self.job_id, self)
            self.joined = True
            try:
                await self.accept()
                job = await self.catch_up()
                await self.send_steps(job)
                if job.kind in (Job.Kind.PULL, Job.Kind.PUSH, Job.Kind.INDEX) and job.progress:
                    await self.send_json({"type": "progress", **job.progress})
                # A job whose worker died turns interrupted when the scheduler finds it,
                # which publishes the state like any other.
                await self.send_json(publish.state_event(job))
            except BaseException:
                await self.stop_taking()  # Channels calls no disconnect for a connect that failed
                raise
            self.finished = job.state in Job.FINAL_STATES
        if not self.finished:
            self.recheck = asyncio.create_task(self.recheck_soon())
        if job.state == Job.State.QUEUED:
            self.worker_watch = asyncio.create_task(self.watch_workers(job.engine))

    async def recheck_soon(self):
        """Redis takes a subscription a moment after the layer sends it: what was
        published in that moment came to no one here. Lines missed then show as
        a gap in the next batch; only the final state, if it came then, needs
        reading back (once: reading the lines here would chase the live ones
        through the database)."""
        await asyncio.sleep(RECHECK_AFTER)
        # Viewers that opened together recheck together: one read for them all.
        state = await fanout.relay().read_together(self.job_id, "state", None, lambda asked: _job_state_for(
            self.job_id, asked))
        if state not in Job.FINAL_STATES:
            return
        async with self.sending:
            if not self.finished:
                await self.send_json(publish.state_event(await self.send_what_is_stored_at_the_end()))

    async def watch_workers(self, engine_name):
        """While the job waits in its queue, whether a live worker serves it, each
        time that changes (and once at first): the page says so when the last one
        goes, and stops when one comes."""
        present = None
        while True:
            # Not on the database thread: asking the workers takes up to a second.
            now = await sync_to_async(health.engine_has_worker, thread_sensitive=False)(engine_name)
            if now is not None and now != present:
                present = now
                await self.send_json({"type": "workers", "present": now})
            await asyncio.sleep(WORKER_CHECK_EVERY)

    def stop_watching_workers(self):
        if getattr(self, "worker_watch", None):
            self.worker_watch.cancel()
            self.worker_watch = None

    async def disconnect(self, code):
        if getattr(self, "recheck", None):
            self.recheck.cancel()
        self.stop_watching_workers()
        await self.stop_taking()
        await self.release_slot()

    async def stop_taking(self):
        if getattr(self, "joined", False):
            self.joined = False
            await fanout.relay().leave(self.job_id, self)
            if self.drainer is not None and self.drainer is not asyncio.current_task():
                self.drainer.cancel()

    def take(self, events):
        """The job's live events, from this process's relay (which must not wait
        for one viewer): sent at once when they can be, else in order by one
        task while any are waiting."""
        self.inbox.extend(events)
        if self.drainer is None:
            self.drainer = eager.run_eagerly(self.drain())

    async def drain(self):
        try:
            async with self.sending:  # not interleaved with connect's or recheck_soon's catch-up
                while self.inbox:
                    events, self.inbox = self.inbox, []
                    for event in events:
                        await self.deliver(event)
        except OSError:
            await self.stop_taking()  # the browser went away; its disconnect follows
        except Exception:
            log.exception("Sending job %s's events to a viewer failed", self.job_id)
            await self.stop_taking()
            await self.close(code=1011)
        finally:
            self.drainer = None

    async def deliver(self, event):
        if event["type"] == "lines":
            lines = [line for line in event["lines"] if line[0] > self.last_sent]
            if lines and lines[0][0] > self.last_sent + 1:
                # The layer dropped something on the way: fill the gap from storage.
                await self.catch_up(until=lines[0][0] - 1)
                lines = [line for line in lines if line[0] > self.last_sent]
            if lines:
                await self.send_lines(lines, alike=len(lines) == len(event["lines"]))
                self.last_sent = lines[-1][0]
        elif event["type"] == "state":
            if event["state"] != Job.State.QUEUED:
                self.stop_watching_workers()
            if event["state"] in Job.FINAL_STATES:
                if self.finished:
                    return  # read back already by recheck_soon
                await self.send_what_is_stored_at_the_end()
            await self.send_json(event)
        else:
            await self.send_json(event)

    async def send_what_is_stored_at_the_end(self):
        """Before the final state: the lines not yet sent, and the stored steps or
        graph once more, so that a step change the layer dropped is not lost at
        the end. Returns the job."""
        self.finished = True
        job = await self.catch_up(ended=True)
        await self.send_steps(job, ended=True)
        return job

    async def send_lines(self, lines, alike=False):
        """`alike`: lines other viewers get just so (a whole live batch, a shared
        read's answer), encoded once per process."""
        if alike:
            await self.send_shared((self.job_id, "lines", lines[0][0], lines[-1][0]),
                                   lambda: {"type": "lines", "lines": lines})
        else:
            await self.send_json({"type": "lines", "lines": lines})
        lines_delivered(len(lines))

    async def send_shared(self, key, make_event):
        """An event encoded once per process (`_encoded`), sent past Channels'
        session middleware (ServerSend)."""
        await self.scope[SERVER_SEND]({"type": "websocket.send", "text": _encoded(key, make_event)})

    async def send_steps(self, job, ended=False):
        """A build's whole stored step list, or a BuildKit build's whole stored
        graph (in a "graph" event like the live ones, with every vertex and
        transfer, and the warnings); live, only changes follow. Once the job has
        `ended` they are the same for all its viewers."""
        def send(name, make_event):
            if ended:
                return self.send_shared((self.job_id, name), make_event)
            return self.send_json(make_event())

        if job.kind == Job.Kind.BUILD and job.steps:
            await send("steps", lambda: {"type": "steps", "steps": job.steps})
        if job.kind == Job.Kind.BUILD and job.graph:
            # In the stored order (the order vertices started), not by number as live changes are.
            await send("graph", lambda: {"type": "graph", "vertices": job.graph.get("vertices", []),
                                         "transfers": job.graph.get("transfers", []),
                                         "warnings": job.graph.get("warnings", []), "whole": True})

    async def catch_up(self, until=None, ended=False):
        """Send the stored lines after the last one sent (up to `until`), with
        the clipped marker where the middle of a long log was dropped. The
        process's viewers share reads: once the job has `ended`, what is stored
        no longer changes, and all of them share one read of it; while it runs,
        those asking together share the next read, begun after they asked.

        Reads stop at the first that holds everything stored when it began: the
        viewer joined the job's feed before asking, so whatever is stored later
        is published to it later. Reading on until a read came back empty
        chased a printing build's newest lines through the database, a read per
        batch printed meanwhile, for every viewer still catching up."""
        relay, job_id = fanout.relay(), self.job_id

        async def read_job():
            if ended:
                return await relay.read_once(job_id, ("_job",), lambda: database_sync_to_async(_job)(job_id))
            return await relay.read_together(job_id, "job", None, lambda asked: _read_job_for(job_id, asked))

        async def read_lines(after):
            if ended:
                return await relay.read_once(job_id, ("_stored_lines", after, until),
                                             lambda: _stored_lines_for_one(job_id, after, until))
            return await relay.read_together(job_id, "lines", (after, until),
                                             lambda asked: _stored_lines_for(job_id, asked))

        job = await read_job()
        complete = False
        while not complete:
            lines, complete = await read_lines(self.last_sent)
            if not lines:
                break
            clip = job.clipped_before
            head = [line for line in lines if not clip or line[0] < clip]
            tail = lines[len(head):]
            if head:
                await self.send_lines(head, alike=True)
            if tail:
                if self.last_sent < clip:
                    await self.send_json(clipped_event(job))
                await self.send_lines(tail, alike=True)
            self.last_sent = lines[-1][0]
        return job


def _job(job_id):
    return Job.objects.get(pk=job_id)


def _job_state(job_id):
    return Job.objects.filter(pk=job_id).values_list("state", flat=True).first()


def _stored_lines(job_id, after, until):
    return logstore.read(job_id, after, REPLAY_CHUNK, until)


async def _job_state_for(job_id, asked):
    state = await database_sync_to_async(_job_state)(job_id)
    return [state] * len(asked)


async def _read_job_for(job_id, asked):
    """The job's row, once for everyone in `asked`."""
    job = await database_sync_to_async(_job)(job_id)
    return [job] * len(asked)


async def _stored_lines_for(job_id, asked):
    """For each (after, until) in `asked`, (lines, complete): the start of
    what `_stored_lines` answers, from one read after the lowest `after` for
    all that it reaches (a read holds REPLAY_CHUNK lines; those asking beyond
    it share a read of their own), and whether that is all that was stored
    after `after` (up to `until`) when the read began."""
    answers = {}
    pending = sorted(set(asked), key=lambda request: request[0])
    while pending:
        after = pending[0][0]
        until = None if any(wanted is None for _, wanted in pending) else max(wanted for _, wanted in pending)
        lines = await database_sync_to_async(_stored_lines)(job_id, after, until)
        seqs = [line[0] for line in lines]
        whole = len(lines) < REPLAY_CHUNK  # everything stored after `after` (up to `until`)
        beyond = []
        for mine, wanted in pending:
            start = bisect.bisect_right(seqs, mine)
            end = len(seqs) if wanted is None else max(start, bisect.bisect_right(seqs, wanted))
            reached = wanted is not None and bool(seqs) and wanted <= seqs[-1]
            if start < end or whole or reached:
                answers[mine, wanted] = (lines[start:end], whole or reached)
            else:
                beyond.append((mine, wanted))  # past this read's chunk: the next read starts there
        pending = beyond
    return [answers[request] for request in asked]


async def _stored_lines_for_one(job_id, after, until):
    return (await _stored_lines_for(job_id, [(after, until)]))[0]


def _after(scope):
    values = parse_qs(scope.get("query_string", b"").decode()).get("after", ["0"])
    try:
        return max(int(values[0]), 0)
    except ValueError:
        return 0


class ImagesConsumer(GuardedConsumer):
    """Image events for open image lists and pages of one engine, at /ws/images/
    (the default engine's) and /ws/e/<name>/images/."""

    async def connect(self):
        self.engine_name = self.scope["url_route"]["kwargs"].get("engine", engines.DEFAULT)
        if not engines.exists(self.engine_name):
            await self.close(code=4404)
            return
        if not await self.admit(self.engine_name):
            return
        self.group = images_group(self.engine_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.release_slot()

    async def images_event(self, message):
        await self.send_json(message["event"])


async def _admissions(asked):
    return await database_sync_to_async(_admit)(asked)


def _admit(asked):
    """What admitting each viewer (user, job id) in `asked` reads, in one turn
    on the database thread for all who opened together (a thousand viewers
    opening at once waited for each other's turns there): the job's engine,
    whether the user may browse it, and the job if they may see it. Each job
    is read once, and each user's roles once: a user's sockets are asked about
    through the first of them, whose user caches its permissions."""
    jobs, users, answers = {}, {}, []
    for user, pk in asked:
        if pk not in jobs:
            jobs[pk] = Job.objects.filter(pk=pk).select_related("created_by").first()
        job = jobs[pk]
        engine = (job.engine if job is not None else None) or engines.DEFAULT
        if user is None or not user.is_authenticated:
            answers.append((engine, False, None))
            continue
        user = users.setdefault(user.pk, user)
        if job is not None and access.sees(user, job):
            answers.append((engine, True, job))
        else:
            answers.append((engine, may(user, "browse", engine), None))
    return answers


def _engine_of_job(pk):
    return Job.objects.filter(pk=pk).values_list("engine", flat=True).first() or engines.DEFAULT


_ENCODED = OrderedDict()
_ENCODED_KEPT = 32


def _encoded(key, make_event):
    """The JSON of an event every viewer of a job in step gets alike, made once
    per process: `key` names it (a batch by its job and first and last line
    numbers, which a job never reuses; an ended job's steps or graph)."""
    text = _ENCODED.get(key)
    if text is None:
        text = json.dumps(make_event())  # as send_json encodes it
        _ENCODED[key] = text
        if len(_ENCODED) > _ENCODED_KEPT:
            _ENCODED.popitem(last=False)
    return text
