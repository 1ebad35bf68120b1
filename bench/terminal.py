"""`make bench` scenario 42: a keystroke's echo through a run's terminal.

A TTY run of `sh`; its owner's terminal websocket (an API token, as a script
opens it) sends one character at a time as `["stdin", c]` and waits for the
`["stdout", …]` frame that echoes it: browser → server → engine → the
container's TTY → engine → server → browser. Beside it, the same keystrokes
on a socket attached to the engine directly: what Dockyard's proxy adds.

Runs on its own too: `.venv/bin/python bench/terminal.py` (starts its own
worker and server, as `make bench` does).
"""

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

KEYSTROKES = int(os.environ.get("BENCH_TERMINAL_KEYS", 500))
LINE = 60  # characters typed before the line is cleared (^U), so it never wraps
TARGET_P99 = 0.050


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def _keystrokes(send, receive):
    """Round trips of KEYSTROKES single characters; `receive()` gives the next output text."""
    times = []
    for number in range(KEYSTROKES + 20):  # the first 20 warm up
        if number and number % LINE == 0:
            await send("\x15")  # ^U: the shell clears the line; its redraw is read before the next key
            received = ""
            while "# " not in received:
                received += await receive()
        key = "abcdefghij"[number % 10]
        started = time.perf_counter()
        await send(key)
        received = ""
        while key not in received:
            received += await receive()
        if number >= 20:
            times.append(time.perf_counter() - started)
    return times


def _running_tty_run(user):
    from images.jobs import control
    from images.lifecycle import runs
    from images.models import Job
    from tests import dockerlib

    image_id = dockerlib.image_id(dockerlib.BASE_IMAGE)
    job = control.start_run(user, runs.run_params(image_id, dockerlib.BASE_IMAGE, argv=["sh"], tty=True,
                                                  timeout=600))
    deadline = time.monotonic() + 60
    while True:
        job.refresh_from_db()
        if job.state == Job.State.RUNNING and job.container_id and dockerlib.docker(
                "inspect", "-f", "{{.State.Running}}", job.container_id, check=False).strip() == "true":
            return job
        if job.is_final or time.monotonic() > deadline:
            raise RuntimeError(f"The bench's run did not start: {job.state} {job.error}")
        time.sleep(0.1)


async def _through_dockyard(server, token, job):
    # The asyncio client, as the engine's socket below is read: no thread between the socket and the clock.
    from websockets.asyncio.client import connect

    async with connect(f"{server.ws_url}/ws/jobs/{job.pk}/terminal/", open_timeout=10, compression=None,
                       additional_headers={"Authorization": f"Bearer {token}"}) as conn:
        await conn.send(json.dumps(["set_size", 24, 200]))

        async def receive():
            kind, text = json.loads(await asyncio.wait_for(conn.recv(), 10))
            return text

        return await _keystrokes(lambda text: conn.send(json.dumps(["stdin", text])), receive)


async def _engine_direct(job):
    from images.engine import get_engine
    from images.engine.terminals import attach

    stream = await attach(get_engine(), job.container_id, stdin=True)
    try:
        async def receive():
            return (await asyncio.wait_for(stream.read(), 10)).decode(errors="replace")

        return await _keystrokes(lambda text: stream.write(text.encode()), receive)
    finally:
        await stream.close()


def scenario_terminal(record, fmt, server, token, user):
    """`token` is `user`'s API token."""
    from tests import dockerlib

    job = _running_tty_run(user)
    try:
        proxied = asyncio.run(_through_dockyard(server, token, job))
        direct = asyncio.run(_engine_direct(job))
    finally:
        dockerlib.docker("kill", job.container_id, check=False)
    p50, p99 = statistics.median(proxied), _percentile(proxied, 0.99)
    direct_p50, direct_p99 = statistics.median(direct), _percentile(direct, 0.99)
    record(f"42. Terminal keystroke echo, {KEYSTROKES} keys", p50, None, "p99 <50 ms", p99 < TARGET_P99,
           f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(proxied) * 1000:.1f} ms; the engine's "
           f"own attach: p50 {direct_p50 * 1000:.1f} ms, p99 {direct_p99 * 1000:.1f} ms")
    for _ in range(100):  # the run ends once the kill is seen; its container goes with it
        job.refresh_from_db()
        if job.is_final:
            break
        time.sleep(0.1)
    dockerlib.docker("rm", "-f", job.container_id, check=False)


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench import run as harness  # sets up Django and the bench's own data directory

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from images.accounts import roles
    from images.models import ApiToken
    from tests import dockerlib, live

    call_command("migrate", verbosity=0)
    dockerlib.import_base_image()
    users = get_user_model()
    user = users.objects.filter(username="bench").first() or users.objects.create_user("bench", password="bench")
    roles.assign(user, roles.BUILDER)
    _, token = ApiToken.issue(user, "bench-terminal")
    env = live.process_env(settings.DOCKYARD_QUEUE, settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                           DOCKYARD_DATA_DIR=os.environ["DOCKYARD_DATA_DIR"])
    worker = live.Worker(env, "bench-worker.log")
    server = live.Server(env)
    try:
        scenario_terminal(harness.record, harness.fmt, server, token, user)
    finally:
        worker.stop()
        server.stop()
        dockerlib.remove_test_images()


if __name__ == "__main__":
    main()
