"""Viewers arriving at once at a running build: a thousand open its stream within
a second while it prints, each catching up on what is stored, then following
it live.

`scenario_arrivals` is the bench row (bench/run.py calls it); run alone,
`.venv/bin/python bench/arrivals.py` prepares what it needs as run.py does (its
own database under var/bench, a worker, web processes as `make run` serves)
and prints the figures. The viewers are bench/viewers.py's.

A line's delivery time counts only for a viewer that was already on the live
feed when the line was printed (it had its first state): what a viewer reads
from storage when it arrives is its catch-up, timed on its own (connect to
first state, as this process reads it). The kernel stamps a read with its last
packet's arrival: while this one process falls behind (a thousand catch-ups to
parse at once), lines read together seem to have arrived with the last of them.
"""

import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import viewers  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_ARRIVALS", 1000))
WITHIN = float(os.environ.get("BENCH_ARRIVALS_WITHIN", 1.0))  # seconds over which they arrive
PRINTED_FIRST = 200  # lines stored before the first viewer arrives
# ~25 s of stamped lines, one every ~10 ms: the arrivals come a few seconds in.
PRINTING = ("RUN i=0; while [ $i -lt 2500 ]; do adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} "
            "END{printf \"ts %d.%06d\\n\", s, u}'; usleep 10000; i=$((i+1)); done\n")


def _percentile(ordered, fraction):
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _arrive(url, cookie, origin, clients, within, when_all_live=None):
    """Each viewer's (connect time, stamps, first-state times, seqs), the
    viewers opening evenly over `within` seconds; `when_all_live()` is called
    once every viewer has had its first state, and what it returns is returned
    beside them."""
    readies = [[] for _ in range(clients)]

    async def one(index):
        await asyncio.sleep(index * within / clients)
        stamps, ready = [], readies[index]
        opened = time.time()
        seqs = await viewers.watch_one(url, cookie, origin, stamps=stamps, ready=ready)
        return opened, stamps, ready, seqs

    async def watch_them():
        while not all(readies):
            await asyncio.sleep(0.05)
        return when_all_live() if when_all_live else None

    *got, all_live = await asyncio.gather(*[one(index) for index in range(clients)], watch_them())
    return got, all_live


def _server_cpu(server):
    """CPU seconds the server's processes have used so far: on a machine others
    load, what the arrivals cost is steadier than how long they took."""
    import psutil

    parent = psutil.Process(server.process.pid)
    return sum(sum(process.cpu_times()[:2]) for process in [parent, *parent.children(recursive=True)])


def scenario_arrivals(record, api, server, session, wait_job, clients=CLIENTS, within=WITHIN):
    """`clients` viewers open a running build's stream within `within` seconds
    while it prints, on `server` (its processes share them). Calls `record`
    with the row and returns the figures: {"p50", "p99"} (seconds from a line's
    printing to its frame at the sockets of viewers already live), "since_open_p99"
    (the same of the lines printed after each viewer opened), {"catch_up_p50",
    "catch_up_p99"} (seconds from a viewer's connect to its first state),
    "every" (each viewer got every line once, in order), "lines" (the job's),
    "cpu_arriving" (CPU seconds the server used from the first arrival until
    every viewer was live), "arrived_over" (seconds from the first opening to
    the last viewer live)."""
    from images.models import Job
    from tests import dockerlib

    dockerfile = f"FROM {dockerlib.BASE_IMAGE}\n{PRINTING}LABEL {dockerlib.TEST_LABEL}=1\n"
    response = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": dockerfile, "no_cache": "on",
                                        "builder": "classic", "tags": f"dockyard-bench/arrivals:{time.time_ns()}"})
    assert response.status_code == 201, response.content[:500]
    job_id = response.json()["id"]
    deadline = time.monotonic() + 300
    while Job.objects.get(pk=job_id).line_count < PRINTED_FIRST:
        assert time.monotonic() < deadline and not Job.objects.get(pk=job_id).is_final, "the build did not print"
        time.sleep(0.05)
    cpu_before = _server_cpu(server)
    got, cpu_all_live = asyncio.run(_arrive(f"{server.ws_url}/ws/jobs/{job_id}/?after=0", f"sessionid={session}",
                                            server.url, clients, within, lambda: _server_cpu(server)))
    job = wait_job(job_id)
    every = all(seqs == list(range(1, job.line_count + 1)) for _, _, _, seqs in got)
    late = [ready[0] for _, _, ready, _ in got if ready]
    assert len(late) == clients
    live = sorted(arrived - printed for _, stamps, ready, _ in got
                  for printed, arrived, _ in stamps if printed > ready[0])
    # The same from each viewer's opening on: a slow admission shows there, where
    # it leaves fewer, later lines to count as live.
    since_open = sorted(arrived - printed for opened, stamps, _, _ in got for printed, arrived, _ in stamps
                        if printed > opened)
    catch_up = sorted(ready[0] - opened for opened, _, ready, _ in got)
    assert live, "the build ended before the viewers were in; make it print longer"
    figures = {"p50": _percentile(live, 0.5), "p99": _percentile(live, 0.99),
               "since_open_p99": _percentile(since_open, 0.99),
               "catch_up_p50": _percentile(catch_up, 0.5), "catch_up_p99": _percentile(catch_up, 0.99),
               "every": every, "lines": job.line_count, "cpu_arriving": cpu_all_live - cpu_before,
               "arrived_over": max(late) - min(opened for opened, *_ in got)}
    record(f"11. Arrivals, {clients} viewers opening a running build within {within:g} s", figures["p50"], None,
           "p99 <250 ms at the sockets, every line once", figures["p99"] < 0.25 and every,
           f"p50 {figures['p50'] * 1000:.0f} ms, p99 {figures['p99'] * 1000:.0f} ms at the sockets of viewers "
           f"already live ({len(live)} deliveries), p99 {figures['since_open_p99'] * 1000:.0f} ms of the lines "
           f"printed after each opened; catch-up (connect to first state) p50 "
           f"{figures['catch_up_p50'] * 1000:.0f} ms, p99 {figures['catch_up_p99'] * 1000:.0f} ms; all in "
           f"{figures['arrived_over']:.1f} s after the first opened, the web processes using "
           f"{figures['cpu_arriving']:.1f} CPU s meanwhile; {job.line_count} lines; every viewer got "
           f"every line once, in order: {every}; load {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return figures


def main():
    from bench import environment

    # A label of its own: bench/run.py, perhaps running meanwhile, removes what carries "bench".
    environment.prepare("bench-arrivals")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from images.models import Job
    from tests import dockerlib, live

    call_command("migrate", verbosity=0)
    dockerlib.import_base_image()
    user, session, token = environment.bench_user("bench-arrivals")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    env = live.process_env(settings.DOCKYARD_QUEUE, settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                           DOCKYARD_DATA_DIR=os.environ["DOCKYARD_DATA_DIR"],
                           # The viewers stand in for many people, all logged in as one.
                           DOCKYARD_MAX_STREAMS=str(CLIENTS + 10))

    def wait_job(job_id):
        while not (job := Job.objects.get(pk=job_id)).is_final:
            time.sleep(0.05)
        return job

    def record(scenario, dockyard, cli, target, passed, detail=""):
        print(f"  {scenario}: {'PASS' if passed else 'FAIL'} ({target}) {detail}", flush=True)

    worker = live.Worker(env, "bench-arrivals-worker.log")
    server = live.Server(env, "bench-arrivals.log", processes=os.cpu_count() or 1)
    try:
        figures = scenario_arrivals(record, api, server, session, wait_job)
        print({key: round(value, 4) if isinstance(value, float) else value for key, value in figures.items()})
    finally:
        server.stop()
        worker.stop()
        for ref in dockerlib.docker("images", "--format", "{{.Repository}}:{{.Tag}}", "dockyard-bench/arrivals").split():
            dockerlib.docker("rmi", "-f", ref, check=False)


if __name__ == "__main__":
    main()
