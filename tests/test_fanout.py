"""Live job events in a web process: the relay that hands each event to every
viewer of the job in the process, and the eager start that spares a task per
viewer per batch. Against real Redis, and a real server for a viewer that
stops reading."""

import asyncio
import base64
import contextvars
import json
import os
import socket
import struct
import time

import pytest
from channels.layers import get_channel_layer
from django.conf import settings

from images.jobs import eager, fanout
from images.jobs.publish import job_group
from images.redis_client import shared_redis
from tests import dockerlib
from tests.live import JobSocket, start_build, wait_for_job


def lines(first, last):
    return {"type": "lines", "lines": [[seq, f"line {seq}"] for seq in range(first, last + 1)]}


def test_batches_that_follow_on_are_merged_and_a_gap_or_another_event_is_kept():
    step = {"type": "step", "step": {"number": 1}}
    assert fanout.merged([lines(1, 2), lines(3, 5), step, lines(6, 6), lines(9, 9), lines(10, 11)]) == [
        lines(1, 5), step, lines(6, 6), lines(9, 11)]
    assert fanout.merged([]) == []


def test_a_coroutine_that_never_waits_has_finished_when_it_is_started():
    done = []

    async def quick():
        done.append("sent")

    async def main():
        assert eager.run_eagerly(quick()) is None
        assert done == ["sent"]  # before anything else ran
    asyncio.run(main())


def test_a_coroutine_that_waits_carries_on_in_a_task_with_what_it_waited_for_and_can_be_cancelled():
    async def main():
        later = asyncio.get_running_loop().create_future()
        steps = []

        async def waits():
            steps.append("started")
            steps.append(await later)
            return "finished"

        task = eager.run_eagerly(waits())
        assert steps == ["started"] and isinstance(task, asyncio.Task)
        later.set_result("woken")
        assert await task == "finished" and steps == ["started", "woken"]

        never = asyncio.get_running_loop().create_future()
        cancelled = []

        async def waits_forever():
            try:
                await never
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
        task = eager.run_eagerly(waits_forever())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancelled == [True]
    asyncio.run(main())


def test_what_an_eager_coroutine_sets_in_its_context_stays_there():
    # asgiref's database_sync_to_async sets a context variable for the length of
    # a call: set in the caller's context, it would leak into the next viewer's.
    marker = contextvars.ContextVar("marker", default="unset")

    async def sets_and_waits(future):
        marker.set("set")
        await future
        assert marker.get() == "set"

    async def main():
        future = asyncio.get_running_loop().create_future()
        task = eager.run_eagerly(sets_and_waits(future))
        assert marker.get() == "unset"
        future.set_result(None)
        await task
        assert marker.get() == "unset"
    asyncio.run(main())


class Viewer:
    def __init__(self, fails=False):
        self.events, self.fails = [], fails

    def take(self, events):
        if self.fails:
            raise RuntimeError("this viewer's socket is broken")
        self.events.extend(events)

    def seqs(self):
        return [seq for event in self.events if event["type"] == "lines" for seq, *_ in event["lines"]]


@pytest.mark.django_db
def test_every_viewer_of_a_process_gets_each_event_once_in_order_and_the_last_to_leave_unsubscribes():
    job_id = 900_000 + os.getpid() % 1000  # no job of the suite's has such a number
    channel = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{job_group(job_id)}".encode()

    async def main():
        layer = get_channel_layer()
        relay = fanout.Relay(layer)
        one, two, broken = Viewer(), Viewer(), Viewer(fails=True)
        for viewer in (one, two, broken):
            await relay.join(job_id, viewer)
        assert len(relay.feeds) == 1  # one subscription for the three
        await asyncio.sleep(0.2)  # Redis takes a subscription a moment after it is sent
        for first in range(1, 31, 3):
            await layer.group_send(job_group(job_id), {"type": "job.event", "event": lines(first, first + 2)})
        await layer.group_send(job_group(job_id), {"type": "job.event", "event": {"type": "state", "state": "succeeded"}})
        deadline = time.monotonic() + 10
        while len(one.events) == 0 or one.events[-1]["type"] != "state":
            assert time.monotonic() < deadline, one.events
            await asyncio.sleep(0.05)
        await relay.leave(job_id, two)
        await layer.group_send(job_group(job_id), {"type": "job.event", "event": lines(31, 31)})
        while one.seqs()[-1] != 31:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        subscribed = dict(shared_redis().pubsub_numsub(channel))[channel]
        await relay.leave(job_id, one)
        await relay.leave(job_id, broken)
        await asyncio.sleep(0.2)
        return one, two, subscribed, relay

    one, two, subscribed, relay = asyncio.run(main())
    assert one.seqs() == list(range(1, 32))
    assert two.seqs() == list(range(1, 31)) and two.events[-1] == {"type": "state", "state": "succeeded"}
    assert subscribed == 1 and relay.feeds == {}
    assert dict(shared_redis().pubsub_numsub(channel))[channel] == 0


MUCH_OUTPUT = (
    f"FROM {dockerlib.BASE_IMAGE}\n"
    # ~7 MB, far more than the stalled socket's buffers and the server's: its writes must pause.
    "RUN i=0; while [ $i -lt 60000 ]; do echo \"line $i $(printf '%0100d' 0)\"; i=$((i+1)); done\n"
    f"LABEL {dockerlib.TEST_LABEL}=1\n"
)


def _stalled_viewer(server, session, job_id):
    """A viewer that opens the stream and never reads it, with the smallest
    receive buffer the kernel allows."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/jobs/{job_id}/?after=0 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nCookie: sessionid={session}\r\nOrigin: {server.url}\r\n\r\n").encode())
    return sock


def _unread_bytes(sock):
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


@pytest.mark.usefixtures("worker")
def test_a_viewer_that_stops_reading_holds_up_no_one_else(builder_client, builder_session, server):
    job = start_build(builder_client, MUCH_OUTPUT, no_cache="on", builder="classic")  # BuildKit clips a step at 1 MiB
    stalled = _stalled_viewer(server, builder_session, job.pk)
    try:
        reader = JobSocket(server, builder_session, job.pk)
        seqs, state = [], None
        for event in reader.events(timeout=120):
            if event["type"] == "lines":
                seqs.extend(seq for seq, *_ in event["lines"])
            elif event["type"] == "state":
                state = event["state"]
        reader.close()
        job = wait_for_job(job)
        assert state == "succeeded" and seqs == list(range(1, job.line_count + 1))
        # The stalled socket holds a sliver of the output: the server's writes to it
        # were paused all along while the other viewer got every line.
        assert job.line_count >= 60_000 and _unread_bytes(stalled) < 2 * 1024 * 1024
    finally:
        stalled.close()


ARRIVING_VIEWERS = 40
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


def _print_while_they_arrive(job, started, everyone_in):
    """The worker's side of a running build, in a thread: batches of lines
    stored then published (JobLog) until every viewer is in, a few more, then
    the end, as `running` records it."""
    from django.db import connection

    from images.jobs.log import JobLog
    from images.jobs.publish import publish_state

    try:
        output = JobLog(job)
        seq, after_everyone = job.line_count, 5
        while after_everyone:
            output.write_lines([f"line {n}" for n in range(seq + 1, seq + 11)])
            seq += 10
            started.set()
            after_everyone -= everyone_in.is_set()
            time.sleep(0.01)
        output.close()
        job.finish("succeeded")
        publish_state(job)
    finally:
        connection.close()


@pytest.mark.unaudited("a job row stands in for a build the worker runs")
def test_viewers_joining_a_running_job_at_once_share_its_reads_and_each_get_every_line_once_in_order(
        builder, live_settings, settings, monkeypatch):
    """Many viewers open a build's stream while it prints, all in one web
    process (the ASGI application run here, on real Redis and the database):
    each gets every line once, in order; the stored lines are read fewer
    times than there are viewers, each viewer's catch-up asks for them once
    (it once read on until a read came back empty, chasing the printing), and
    their sessions, users and the job are read together, not once each."""
    import functools
    import threading

    from asgiref.testing import ApplicationCommunicator
    from django.db.backends import utils as db_utils
    from django.test import Client

    from dashboard.asgi import application
    from images.jobs import consumers
    from images.jobs.log import JobLog
    from images.models import Job

    settings.DOCKYARD_MAX_STREAMS = ARRIVING_VIEWERS + 5
    client = Client()
    client.force_login(builder)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    job = Job.objects.create(kind="build", target="arrivals", output_limit=10**7, created_by=builder)
    assert job.claim()
    earlier = JobLog(job)  # what it printed before anyone looked
    earlier.write_lines([f"line {seq}" for seq in range(1, 301)])
    earlier.close()
    job.refresh_from_db()

    reads = []
    stored_lines = consumers._stored_lines

    @functools.wraps(stored_lines)
    def counted(*args):
        reads.append(args)
        return stored_lines(*args)

    monkeypatch.setattr(consumers, "_stored_lines", counted)

    catch_ups = []  # each viewer's asks for the stored lines after what it has, to the end
    read_together = fanout.Relay.read_together

    def asked(relay, job_id, name, request, serve):
        if name == "lines" and request[1] is None:
            catch_ups.append(request)
        return read_together(relay, job_id, name, request, serve)

    monkeypatch.setattr(fanout.Relay, "read_together", asked)

    selects = []  # the tables each SELECT reads, on whichever thread
    execute = db_utils.CursorWrapper.execute

    def counted_execute(cursor, sql, params=None):
        if sql.lstrip().upper().startswith("SELECT"):
            selects.append(sql.split(" FROM ", 1)[-1].split()[0].strip('"'))
        return execute(cursor, sql, params)

    monkeypatch.setattr(db_utils.CursorWrapper, "execute", counted_execute)

    connected = []

    async def viewer(everyone_in):
        # The ASGI websocket messages a server exchanges with the application
        # (channels.testing's communicator needs daphne, which is not installed).
        communicator = ApplicationCommunicator(application, {
            "type": "websocket", "asgi": {"version": "3.0"}, "path": f"/ws/jobs/{job.pk}/", "query_string": b"after=0",
            "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie), (b"origin", b"http://127.0.0.1")],
            "subprotocols": [], "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)})
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(60))["type"] == "websocket.accept"
        seqs = []
        while True:
            event = json.loads((await communicator.receive_output(60))["text"])
            if event["type"] == "lines":
                seqs.extend(seq for seq, *_ in event["lines"])
            elif event["type"] == "state" and event["state"] in FINAL:
                break
            elif event["type"] == "state":
                # The catch-up is sent and the viewer is on the live feed: still printing?
                connected.append(event["state"])
                if len(connected) == ARRIVING_VIEWERS:
                    everyone_in.set()
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(10)
        return seqs

    async def main():
        started, everyone_in = threading.Event(), threading.Event()
        printer = threading.Thread(target=_print_while_they_arrive, args=(job, started, everyone_in))
        printer.start()
        try:
            await asyncio.get_running_loop().run_in_executor(None, started.wait)
            return await asyncio.gather(*[viewer(everyone_in) for _ in range(ARRIVING_VIEWERS)])
        finally:
            everyone_in.set()
            await asyncio.get_running_loop().run_in_executor(None, printer.join)

    got = asyncio.run(main())
    job.refresh_from_db()
    assert job.state == "succeeded" and job.line_count > 300
    assert connected == ["running"] * ARRIVING_VIEWERS  # all joined while it printed
    for seqs in got:
        assert seqs == list(range(1, job.line_count + 1))
    assert len(reads) < ARRIVING_VIEWERS, f"{len(reads)} reads of the stored lines for {ARRIVING_VIEWERS} viewers"
    # Under 300 lines stored when they came: one ask each, none chasing the lines printed meanwhile.
    assert len(catch_ups) == ARRIVING_VIEWERS, f"{len(catch_ups)} catch-up reads for {ARRIVING_VIEWERS} viewers"
    for table in ("django_session", "auth_user", "auth_permission", "images_job"):
        # One read a round (a user's permissions: two); the first viewer's round serves it alone, the next
        # those who came meanwhile.
        assert selects.count(table) < ARRIVING_VIEWERS / 4, f"{selects.count(table)} reads of {table}"


@pytest.mark.unaudited("a job row stands in for a build")
def test_a_shared_read_answers_each_viewer_the_start_of_what_its_own_read_would_and_nothing_only_at_the_end(
        transactional_db, monkeypatch):
    from images.jobs import consumers, logstore
    from images.models import Job

    job = Job.objects.create(kind="build", target="t", output_limit=10**6)
    logstore.store(job.pk, [(seq, f"line {seq}", 0) for seq in range(1, 21)])
    monkeypatch.setattr(consumers, "REPLAY_CHUNK", 5)
    # Fresh viewers, a reconnect, gap fills, and viewers past the first read's chunk or at the end.
    asked = [(0, None), (0, None), (3, None), (2, 4), (9, 11), (12, None), (18, None), (20, None), (0, 2)]
    reads = []
    stored_lines = consumers._stored_lines
    monkeypatch.setattr(consumers, "_stored_lines", lambda *args: reads.append(args) or stored_lines(*args))
    shared = asyncio.run(consumers._stored_lines_for(job.pk, asked))
    for (after, until), (answer, complete) in zip(asked, shared):
        own = stored_lines(job.pk, after, until)
        # The catch-up reads on from its answer's last line unless told that was all there was.
        assert answer == own[:len(answer)] and bool(answer) == bool(own), (after, until)
        assert complete == (answer == logstore.read(job.pk, after, None, until)), (after, until)
    assert [after for _, after, _ in reads] == [0, 9, 18]  # each from the lowest `after` the one before left out
