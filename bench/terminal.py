"""`make bench` scenario 42: a keystroke's echo through a run's terminal.

A TTY run of `sh`; its owner's terminal websocket (an API token, as a script
opens it) sends one character at a time as `["stdin", c]` and waits for the
`["stdout", …]` frame that echoes it: browser → server → engine → the
container's TTY → engine → server → browser. Beside it, the same keystrokes
on a socket attached to the engine directly: what Dockyard's proxy adds.

Run by bench/run.py (`BENCH_ONLY=42 BENCH_FEWER_RUNS=1 make bench` for it
alone), or as `.venv/bin/python bench/terminal.py`, which is the same.
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


def scenario_terminal(server, token, user):
    """`token` is `user`'s API token. One TTY run; REPEAT rounds of KEYSTROKES
    keys, through Dockyard then on the engine's own attach, in turn."""
    from bench.report import REPEAT, median, record
    from tests import dockerlib

    job = _running_tty_run(user)
    proxied, direct = [], []
    try:
        for _ in range(REPEAT):
            proxied.append(asyncio.run(_through_dockyard(server, token, job)))
            direct.append(asyncio.run(_engine_direct(job)))
    finally:
        dockerlib.docker("kill", job.container_id, check=False)
    p99s = [_percentile(times, 0.99) for times in proxied]

    def ms(values):
        return f"{median(values) * 1000:.1f} ms ({min(values) * 1000:.1f}–{max(values) * 1000:.1f})"

    record(f"42. Terminal keystroke echo, {KEYSTROKES} keys a run", [statistics.median(times) for times in proxied],
           "p99 <50 ms", median(p99s) < TARGET_P99, value="p50",
           floor=("the engine's own attach, p50", [statistics.median(times) for times in direct]),
           detail=f"p50 {ms([statistics.median(times) for times in proxied])}, p99 {ms(p99s)}, slowest key {max(max(times) for times in proxied) * 1000:.1f} ms; "
                  f"the engine's own attach: p50 {ms([statistics.median(times) for times in direct])}, "
                  f"p99 {ms([_percentile(times, 0.99) for times in direct])}")
    for _ in range(100):  # the run ends once the kill is seen; its container goes with it
        job.refresh_from_db()
        if job.is_final:
            break
        time.sleep(0.1)
    dockerlib.docker("rm", "-f", job.container_id, check=False)


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("BENCH_ONLY", "42")  # the bench's run of this scenario alone
    from bench import run as harness  # sets up Django and the bench's own data directory

    harness.main()


if __name__ == "__main__":
    main()
