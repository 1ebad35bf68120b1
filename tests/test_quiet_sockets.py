"""Live sockets outlast quiet steps and many viewers at once: every Redis client
waits longer for an answer than any blocking read Dockyard makes (the channel
layer is the pub/sub one, which polls; the core layer's BZPOPMIN took 5 s and
closed every socket with 1011 when reads timed out sooner), so a step that
prints nothing for a while closes nothing."""

import asyncio
import json
import subprocess
import sys

import pytest
import websockets

from images.jobs import logstore
from tests import dockerlib, live
from tests.live import JobSocket, wait_for_job
from tests.test_build_jobs import start_build

FINAL = ("succeeded", "failed", "cancelled", "interrupted")

# Each Redis client Dockyard makes, as its settings make it, from a REDIS_URL with a password.
CLIENTS = """
import asyncio, json
import django
django.setup()
from channels_redis.utils import create_pool, decode_hosts
from django.conf import settings
from redis._defaults import DEFAULT_SOCKET_TIMEOUT
from django.core.cache import cache
from dashboard.celery import app
from images.jobs import streams
from images.redis_client import shared_redis

async def stream_slots():
    return streams._redis().connection_pool.connection_kwargs

layer = settings.CHANNEL_LAYERS["default"]
clients = {
    "channel layer": create_pool(decode_hosts(layer["CONFIG"]["hosts"])[0]).connection_kwargs,
    "cache": cache._cache.get_client().connection_pool.connection_kwargs,
    "stream slots": asyncio.run(stream_slots()),
    "image locks and metrics": shared_redis().connection_pool.connection_kwargs,
}
found = {name: {"socket_timeout": kwargs.get("socket_timeout", DEFAULT_SOCKET_TIMEOUT),  # redis-py's default
                "password": kwargs.get("password"), "db": kwargs.get("db")} for name, kwargs in clients.items()}
# kombu's own default is None: no timeout.
found["celery broker"] = {"socket_timeout": app.conf.broker_transport_options.get("socket_timeout")}
print(json.dumps({"layer": layer["BACKEND"], "clients": found}))
"""


def test_every_redis_client_waits_longer_than_the_layers_blocking_read_and_keeps_the_urls_password():
    env = {**live.os.environ, "REDIS_URL": "redis://:pa55-word@127.0.0.1:6379/3",
           "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
    result = subprocess.run([sys.executable, "-c", CLIENTS], cwd=live.ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # Its receiver asks for a message at most 0.1 s at a time: no read of its own blocks.
    assert found["layer"] == "images.jobs.channel_layer.SharedDecodeChannelLayer"  # channels-redis pub/sub
    longest_blocking_read = 5  # kombu's and the core layer's: none of Dockyard's is longer
    for name, client in found["clients"].items():
        timeout = client["socket_timeout"]
        assert timeout is None or timeout > longest_blocking_read, f"{name}: reads time out after {timeout} s"
        if name != "celery broker":  # kombu reads the URL itself
            assert (client["password"], client["db"]) == ("pa55-word", 3), name


def stored(job):
    return logstore.lines(job)


@pytest.mark.usefixtures("worker")
def test_a_socket_stays_open_through_a_silent_step(builder_client, builder_session, server):
    job = start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nRUN echo before && sleep 15 && echo after\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), no_cache="on")  # a cached RUN would print nothing, and not be silent
    socket = JobSocket(server, builder_session, job.pk)
    # One socket from start to end, with no reconnect: any close raises here.
    events = list(socket.events(timeout=120))
    socket.close()
    job = wait_for_job(job)
    assert job.state == "succeeded", job.error
    lines = [tuple(line) for event in events if event["type"] == "lines" for line in event["lines"]]
    assert lines == stored(job)
    printed = live.printed_lines(text for _, text, _ in lines)
    assert ("before" in printed) and ("after" in printed)


@pytest.fixture
def roomy_server(live_settings):
    """A server of its own that lets one person open 100 streams and more."""
    with live.own_server(live_settings, "roomy", DOCKYARD_MAX_STREAMS="150") as server:
        yield server


async def _watch(url, cookie, origin):
    """Every line and the close code of one viewer, until the final state."""
    lines = []
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": origin},
                                  max_size=None, open_timeout=60) as socket:
        try:
            async for raw in socket:
                event = json.loads(raw)
                if event["type"] == "lines":
                    lines.extend(tuple(line) for line in event["lines"])
                elif event["type"] == "state" and event["state"] in FINAL:
                    return lines, None
        except websockets.ConnectionClosed as closed:
            return lines, closed.rcvd.code if closed.rcvd else None
    return lines, "closed before the final state"


@pytest.mark.usefixtures("worker")
def test_a_hundred_viewers_opening_at_once_each_get_every_line_through_a_quiet_stretch(builder_client, builder_session, roomy_server):
    job = start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\n"
        "RUN for i in $(seq 1 100); do echo \"line $i\"; usleep 20000; done"
        " && sleep 8 && for i in $(seq 101 200); do echo \"line $i\"; usleep 20000; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), no_cache="on")
    url = f"{roomy_server.ws_url}/ws/jobs/{job.pk}/?after=0"

    async def all_at_once():
        return await asyncio.gather(*[_watch(url, f"sessionid={builder_session}", roomy_server.url)
                                      for _ in range(100)])

    results = asyncio.run(asyncio.wait_for(all_at_once(), 180))
    job = wait_for_job(job)
    assert job.state == "succeeded", job.error
    closes = [code for _, code in results if code is not None]
    assert not closes, f"{len(closes)} of 100 closed early: {sorted(set(map(str, closes)))}"
    expected = stored(job)
    assert all(lines == expected for lines, _ in results)
