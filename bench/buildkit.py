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

import os
from urllib.parse import urlencode

from bench import floors
from bench.report import in_turn, median, record
from images.jobs import logstore
from tests import dockerlib

PREFIX = "dockyard-bench"
LINES = int(os.environ.get("BENCH_BUILDKIT_LINES", 200_000))


def raw_build(dockerfile, tag):
    """The floor: the engine's BuildKit build with nothing read but bytes."""
    query = urlencode({"version": "2", "t": tag, "nocache": "1", "rm": "1"})
    return lambda: floors.engine_call("POST", f"/build?{query}",
                                      body=dockerlib.dockerfile_context(dockerfile).getvalue(),
                                      headers={"Content-Type": "application/tar"})


def buildkit_build(dockerfile, tag):
    return {"source": "dockerfile", "dockerfile_text": dockerfile, "tags": tag, "no_cache": "on",
            "builder": "buildkit"}


def scenario_small(dockyard, wait_job):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE} AS a\nRUN sleep 1 && echo one\n"
                  f"FROM {dockerlib.BASE_IMAGE}\nRUN sleep 1 && echo two\n"
                  "RUN dd if=/dev/zero of=/f bs=1024 count=2000\nCOPY --from=a /bin/sh /a\n"
                  f"LABEL {dockerlib.TEST_LABEL}=1\n")
    states = []

    def ours():
        states.append(wait_job(dockyard.api_post("/api/builds", buildkit_build(dockerfile, f"{PREFIX}/bk-small:d"))
                               ["id"]).state)

    runs = in_turn({"dockyard": ours, "floor": raw_build(dockerfile, f"{PREFIX}/bk-small:c")})
    record("30. BuildKit build end to end (two stages, no cache)", runs["dockyard"], "≤1.05× raw",
           median(runs["dockyard"]) <= 1.05 * median(runs["floor"]) and set(states) == {"succeeded"},
           floor=("raw POST /build?version=2", runs["floor"]), detail=f"states {sorted(set(states))}")


def scenario_lines(dockyard, server, session, worker, watch, worker_peak_rss, wait_job):
    per_burst = LINES // 10
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  f"RUN for b in $(seq 0 9); do seq $((b*{per_burst}+1)) $((b*{per_burst}+{per_burst})); "
                  "sleep 0.8; done\n"
                  f"LABEL {dockerlib.TEST_LABEL}=1\n")
    watched = []

    def ours():
        job_id = dockyard.api_post("/api/builds", buildkit_build(dockerfile, f"{PREFIX}/bk-lines:d"))["id"]
        watched.append((job_id, watch(server, session, job_id)[0]))

    runs = in_turn({"dockyard": ours, "floor": raw_build(dockerfile, f"{PREFIX}/bk-lines:c")})
    missing = []  # what each run that was not whole lacked
    for number, (job_id, delivered) in enumerate(watched, 1):
        lacks = _lacks(wait_job(job_id), delivered, per_burst * 10)
        if lacks:
            missing.append(f"run {number} (job {job_id}): {', '.join(lacks)}")
    whole = not missing
    rss = worker_peak_rss(worker)
    record(f"31. BuildKit, one RUN printing {per_burst * 10:,} lines (in ten bursts a second apart: the engine's "
           "own limit is 200 KiB/s)", runs["dockyard"], "≤1.25× raw, nothing lost, worker <200 MB",
           median(runs["dockyard"]) <= 1.25 * median(runs["floor"]) and whole and rss < 200,
           floor=("raw POST /build?version=2", runs["floor"]),
           detail=f"every line of the RUN stored and delivered in order in every run: "
                  f"{whole or 'False: ' + '; '.join(missing)}; worker peak {rss:.0f} MB")


def _lacks(job, delivered, printed):
    """What one run of scenario 31 lacked, each check that failed in words
    (none: the run was whole): the job's state, the RUN's lines in the graph,
    the engine's clipping, the lines stored, the lines at the viewer."""
    lacks = []
    if job.state != "succeeded":
        lacks.append(f"the job {job.state}" + (f" ({job.error[:100]})" if job.error else ""))
    run = next((vertex for vertex in (job.graph or {}).get("vertices", ()) if "RUN for b in" in vertex["name"]), None)
    if run is None:
        lacks.append("no RUN step in the job's graph")
    else:
        if run["log_lines"] != printed:
            lacks.append(f"the RUN step has {run['log_lines']:,} lines of the {printed:,} it printed")
        if run["engine_clipped"]:
            lacks.append("the engine clipped the RUN's output")
    stored = logstore.count(job)
    if stored != job.line_count:
        lacks.append(f"{stored:,} lines stored of the job's {job.line_count:,}")
    if delivered != list(range(1, job.line_count + 1)):
        amiss = next((at for at, seq in enumerate(delivered, 1) if seq != at), len(delivered) + 1)
        lacks.append(f"the viewer got {len(delivered):,} of the job's {job.line_count:,} lines, in order up to line "
                     f"{amiss - 1:,}")
    return lacks
