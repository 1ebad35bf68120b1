"""`make bench` scenarios 30-31: BuildKit builds, against the floor: a raw
`POST /build?version=2` on the engine's unix socket (http.client over AF_UNIX)
that reads the response to its end and parses nothing.

30. A small build end to end (submit to succeeded), the same Dockerfile with no cache.
31. One RUN printing 200,000 lines (BENCH_BUILDKIT_LINES), every one stored and
    delivered, the worker's peak memory under 200 MB. The engine's BuildKit
    passes a step's output on at 200 KiB/s at most and drops the rest (it says
    "[output clipped, log limit 200KiB/s reached]"), so the RUN prints its lines
    in ten bursts, a second apart: faster, the engine itself would drop most.
"""

import http.client
import os
import socket
import statistics
import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from images.jobs import logstore
from tests import dockerlib

PREFIX = "dockyard-bench"
REPEAT = int(os.environ.get("BENCH_BUILDKIT_REPEAT", 3))
LINES = int(os.environ.get("BENCH_BUILDKIT_LINES", 200_000))


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def raw_build(dockerfile, tag):
    """The floor: the engine's BuildKit build with nothing read but bytes."""
    address = settings.DOCKYARD_ENGINES["default"]
    path = urlsplit(address).path if address.startswith("unix://") else "/var/run/docker.sock"
    connection = _UnixConnection(path)
    query = urlencode({"version": "2", "t": tag, "nocache": "1", "rm": "1"})
    connection.request("POST", f"/build?{query}", body=dockerlib.dockerfile_context(dockerfile).getvalue(),
                       headers={"Content-Type": "application/tar"})
    response = connection.getresponse()
    assert response.status == 200, response.read()[:500]
    while response.read1(1 << 16):
        pass
    connection.close()


def api_build(api, dockerfile, tag):
    response = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": dockerfile, "tags": tag,
                                        "no_cache": "on", "builder": "buildkit"})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def scenario_small(record, fmt, api, wait_job):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE} AS a\nRUN sleep 1 && echo one\n"
                  f"FROM {dockerlib.BASE_IMAGE}\nRUN sleep 1 && echo two\n"
                  "RUN dd if=/dev/zero of=/f bs=1024 count=2000\nCOPY --from=a /bin/sh /a\n"
                  f"LABEL {dockerlib.TEST_LABEL}=1\n")
    ours, theirs, states = [], [], []
    for _ in range(REPEAT):
        start = time.perf_counter()
        job = wait_job(api_build(api, dockerfile, f"{PREFIX}/bk-small:d"))
        ours.append(time.perf_counter() - start)
        states.append(job.state)
        start = time.perf_counter()
        raw_build(dockerfile, f"{PREFIX}/bk-small:c")
        theirs.append(time.perf_counter() - start)
    ours, theirs = statistics.median(ours), statistics.median(theirs)
    ok = ours <= 1.05 * theirs and set(states) == {"succeeded"}
    record("30. BuildKit build end to end", ours, theirs, "≤1.05× raw POST /build?version=2", ok,
           f"states {sorted(set(states))}")


def scenario_lines(record, fmt, api, server, session, worker, watch, worker_peak_rss, wait_job):
    per_burst = LINES // 10
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  f"RUN for b in $(seq 0 9); do seq $((b*{per_burst}+1)) $((b*{per_burst}+{per_burst})); "
                  "sleep 0.8; done\n"
                  f"LABEL {dockerlib.TEST_LABEL}=1\n")
    start = time.perf_counter()
    raw_build(dockerfile, f"{PREFIX}/bk-lines:c")
    floor = time.perf_counter() - start
    start = time.perf_counter()
    job_id = api_build(api, dockerfile, f"{PREFIX}/bk-lines:d")
    delivered = watch(server, session, job_id)[0]
    job = wait_job(job_id)
    ours = time.perf_counter() - start
    run = next(vertex for vertex in job.graph["vertices"] if "RUN for b in" in vertex["name"])
    stored = logstore.count(job)
    in_order = delivered == list(range(1, job.line_count + 1))
    rss = worker_peak_rss(worker)
    ok = (ours <= 1.25 * floor and job.state == "succeeded" and run["log_lines"] == per_burst * 10
          and not run["engine_clipped"] and stored == job.line_count and in_order and rss < 200)
    record(f"31. BuildKit {per_burst * 10:,} lines", ours, floor, "≤1.25× raw, nothing lost, worker <200 MB", ok,
           f"{run['log_lines']} lines of the RUN, {job.line_count} stored {stored}, delivered in order {in_order}, "
           f"worker peak {rss:.0f} MB")
