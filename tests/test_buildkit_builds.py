"""BuildKit builds through the real worker and engine: parallel stages, a cache
mount, a failing stage beside one still running, Dockerfile features the classic
builder refuses, every build option, the plain-progress lines with exactly-once
delivery, clipping (Dockyard's cap and the engine's own), cancel and a killed worker."""

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from images.jobs import logstore
from images.models import Job
from tests import dockerlib, live
from tests.live import JobSocket, wait_for_job, wait_for_lines
from tests.test_build_sources import tar_bytes
from tests.test_interrupted_jobs import HEARTBEAT_TIMEOUT, beat, doomed_worker  # noqa: F401
from tests.test_job_stream import collect_across_a_reconnect

pytestmark = pytest.mark.usefixtures("worker")

BASE = dockerlib.BASE_IMAGE
LABEL = f"LABEL {dockerlib.TEST_LABEL}=1\n"


def start_build(client, dockerfile, tags="", **fields):
    return live.start_build(client, dockerfile, tags, **fields)


def vertices(job, pattern):
    """The graph's vertices whose name matches `pattern` (a regex)."""
    return [vertex for vertex in job.graph["vertices"] if re.search(pattern, vertex["name"])]


def vertex(job, pattern):
    found = vertices(job, pattern)
    assert len(found) == 1, (pattern, [v["name"] for v in job.graph["vertices"]])
    return found[0]


def log_of(job, vertex):
    """A vertex's own log lines (their text, the "#n elapsed " prefix taken off)."""
    texts = logstore.texts(job)
    own = re.compile(rf"#{vertex['n']} \d+\.\d{{3}} (.*)", re.DOTALL)
    return [match[1] for match in map(own.fullmatch, texts) if match]


def texts(job):
    return list(logstore.texts(job))


def assert_each_vertex_ends_once(job):
    """No vertex's end is written twice the same way (a vertex the engine starts again may end otherwise)."""
    ended = [tuple(line.split()[:2]) for line in texts(job) if re.fullmatch(r"#\d+ (DONE \d+\.\ds|CACHED|ERROR: .*)", line)]
    assert ended and len(ended) == len(set(ended)), texts(job)


def test_buildkit_is_the_default_and_the_form_offers_the_classic_builder(builder_client):
    page = builder_client.get(reverse("jobs-build")).content.decode()
    assert re.search(r'<input type="radio" name="builder" value="buildkit"[^>]*checked', page)
    assert 'value="classic"' in page
    job = wait_for_job(start_build(builder_client, f"FROM {BASE}\nRUN echo hello\n{LABEL}"))
    assert job.state == "succeeded", job.error
    assert job.params["builder"] == "buildkit" and job.steps == []
    run = vertex(job, r"^\[2/2\] RUN echo hello$")
    assert run["state"] in ("done", "cached") and run["line"] == 2 and run["step"] == "2/2"
    assert f"#{run['n']} [2/2] RUN echo hello" in texts(job)


def test_a_recipe_without_a_builder_is_rebuilt_with_the_classic_one(builder_client):
    job = wait_for_job(start_build(builder_client, f"FROM {BASE}\nRUN echo old recipe\n{LABEL}", builder="classic",
                                   no_cache="on"))
    assert job.state == "succeeded", job.error
    params = {key: value for key, value in job.params.items() if key != "builder"}
    Job.objects.filter(pk=job.pk).update(params=params)  # as recorded before there was a choice
    again = wait_for_job(live.job_from(builder_client.post(reverse("images-rebuild", args=[job.image_hex]))))
    assert again.state == "succeeded", again.error
    assert again.graph == {} and again.steps and "old recipe" in texts(again)


PARALLEL = (
    f"FROM {BASE} AS a\n"
    "RUN --mount=type=cache,target=/cache,id={cache} sh -c 'echo written-by-{token} > /cache/mark; sleep 2; echo a'\n"
    f"FROM {BASE} AS b\n"
    "RUN sleep 2; echo b-{token}\n"
    f"FROM {BASE}\n"
    "COPY --from=a /bin/sh /from-a\n"
    "COPY --from=b /bin/sh /from-b\n"
    f"{LABEL}"
)


def test_two_parallel_stages_and_a_cache_mount_seen_by_the_next_build(builder_client):
    token = uuid.uuid4().hex[:8]
    dockerfile = PARALLEL.format(cache=f"dockyard-test-{token}", token=token)
    first = wait_for_job(start_build(builder_client, dockerfile))
    assert first.state == "succeeded", first.error
    a, b = vertex(first, r"^\[a 2/2\] RUN"), vertex(first, r"^\[b 2/2\] RUN")
    assert (a["state"], b["state"], a["line"], b["line"], a["stage"], b["stage"]) == ("done", "done", 2, 4, "a", "b")
    assert a["started"] < b["completed"] and b["started"] < a["completed"]  # they ran at the same time
    assert log_of(first, b) == [f"b-{token}"]
    assert_each_vertex_ends_once(first)
    copy = vertex(first, r"^\[stage-2 3/3\] COPY --from=b")
    assert copy["line"] == 7 and b["n"] in copy["inputs"]

    # The same Dockerfile with one more step, which reads the cache mount.
    reader = f"RUN --mount=type=cache,target=/cache,id=dockyard-test-{token} cat /cache/mark\n"
    second = wait_for_job(start_build(builder_client, dockerfile.replace(LABEL, reader + LABEL)))
    assert second.state == "succeeded", second.error
    assert vertex(second, r"^\[a 2/2\] RUN")["state"] == vertex(second, r"^\[b 2/2\] RUN")["state"] == "cached"
    assert [line for line in texts(second) if re.fullmatch(r"#\d+ CACHED", line)]
    assert log_of(second, vertex(second, r"cat /cache/mark")) == [f"written-by-{token}"]


def test_a_failing_run_in_one_of_two_parallel_stages(builder_client):
    job = wait_for_job(start_build(builder_client, (
        f"FROM {BASE} AS quick\n"
        f"RUN echo quick done {uuid.uuid4().hex}\n"
        f"FROM {BASE} AS slow\n"
        "RUN sleep 30\n"
        f"FROM {BASE} AS broken\n"
        "RUN sleep 1; echo about to fail; exit 3\n"
        f"FROM {BASE}\n"
        "COPY --from=quick /bin/sh /q\nCOPY --from=slow /bin/sh /s\nCOPY --from=broken /bin/sh /b\n")))
    assert job.state == "failed"
    broken = vertex(job, r"^\[broken 2/2\] RUN")
    assert broken["state"] == "failed" and broken["line"] == 6 and "exit code: 3" in broken["error"]
    assert "Dockerfile line 6" in job.error and "exit code: 3" in job.error
    assert log_of(job, broken) == ["about to fail"]
    assert f"#{broken['n']} ERROR: {broken['error']}" in texts(job)
    assert vertex(job, r"^\[quick 2/2\] RUN")["state"] == "done"
    assert vertex(job, r"^\[slow 2/2\] RUN")["state"] == "cancelled"  # it was running when the build failed
    assert all(vertex["state"] in ("waiting", "cancelled") for vertex in vertices(job, r"COPY --from=broken"))
    assert not [vertex for vertex in job.graph["vertices"] if vertex["state"] == "running"]


def test_copy_chmod_and_a_build_arg_in_from(builder_client):
    # busybox:latest is not on the engine (nor reachable): the build arg must take its place.
    job = wait_for_job(start_build(builder_client, (
        f"ARG BASE=busybox:latest\nFROM $BASE\nCOPY --chmod=755 Dockerfile /tool\nRUN stat -c '%a' /tool\n{LABEL}"),
        build_args=f"BASE={BASE}", no_cache="on"))
    assert job.state == "succeeded", job.error
    assert log_of(job, vertex(job, r"RUN stat -c")) == ["755"]
    assert vertex(job, r"COPY --chmod=755")["line"] == 3


def test_the_engines_own_log_limit_is_marked_as_the_engines(builder_client):
    # The engine's BuildKit passes on only so much of a step's output a second;
    # past it, it says so once and drops the rest of the step's output.
    job = wait_for_job(start_build(builder_client, f"FROM {BASE}\nRUN seq 1 200000\n{LABEL}", no_cache="on"))
    assert job.state == "succeeded", job.error
    run = vertex(job, r"RUN seq")
    log = log_of(job, run)
    assert run["engine_clipped"] and re.fullmatch(r"\[output clipped, log limit .*reached\]", log[-1])
    # What it passed on, each line once and in order, the last one cut where the engine stopped.
    assert log[:-2] == [str(i) for i in range(1, len(log) - 1)] and str(len(log) - 1).startswith(log[-2])
    assert job.clipped_after is None  # Dockyard's own cap was not reached
    assert run["log_lines"] == len(log)


# Slow enough for the engine's per-second log limit, which would clip it otherwise.
FIFTY_THOUSAND = (f"FROM {BASE}\n"
                  "RUN for b in $(seq 0 9); do seq $((b*5000+1)) $((b*5000+5000)); sleep 0.4; done\n"
                  f"{LABEL}")


def test_fifty_thousand_lines_reach_a_reconnecting_viewer_once_and_equal_storage(builder_client, builder_session,
                                                                                   server):
    job = start_build(builder_client, FIFTY_THOUSAND, no_cache="on")
    wait_for_lines(job, 500)
    everything, state = collect_across_a_reconnect(server, builder_session, job, cut=20000)
    job = wait_for_job(job)
    assert state["state"] == "succeeded", job.error
    assert everything == logstore.lines(job)
    assert [seq for seq, _, _ in everything] == list(range(1, job.line_count + 1))
    run = vertex(job, r"RUN for b in")
    assert log_of(job, run) == [str(i) for i in range(1, 50001)]
    assert run["log_lines"] == 50000 and not run["engine_clipped"]


def test_a_viewer_gets_the_stored_graph_and_live_changes(builder_client, builder_session, server):
    job = start_build(builder_client, f"FROM {BASE}\nRUN for i in 1 2 3; do echo $i; sleep 0.5; done\n{LABEL}",
                      no_cache="on")
    viewer = JobSocket(server, builder_session, job.pk)
    events = list(viewer.events())
    viewer.close()
    job = wait_for_job(job)
    graphs = [event for event in events if event["type"] == "graph"]
    merged = {}
    for event in graphs:
        merged.update((vertex["n"], vertex) for vertex in event["vertices"])
    assert sorted(merged.values(), key=lambda v: v["n"]) == sorted(job.graph["vertices"], key=lambda v: v["n"])
    later = JobSocket(server, builder_session, job.pk)
    whole = [event for event in later.events() if event["type"] == "graph"]
    later.close()
    assert whole[0]["whole"] and whole[0]["vertices"] == job.graph["vertices"]


def test_multibyte_output_split_anywhere_is_kept_and_dockyards_cap_keeps_head_and_tail(builder_client, settings):
    settings.DOCKYARD_JOB_OUTPUT_LIMIT = 16 * 1024
    text = "héllo wörld 漢字テキスト 🚢⚓"
    job = wait_for_job(start_build(builder_client, (
        f"FROM {BASE}\n"
        f"RUN for i in $(seq 1 3000); do echo \"$i {text}\"; done; printf 'bad \\377\\376 bytes\\n'\n{LABEL}"),
        no_cache="on"))
    assert job.state == "succeeded", job.error
    run = vertex(job, r"RUN for i in")
    log = log_of(job, run)
    assert log[0] == f"1 {text}" and log[-1] == "bad \ufffd\ufffd bytes" and f"3000 {text}" in log
    assert all(line == f"{line.split(' ', 1)[0]} {text}" for line in log[:-1])  # no character broken
    assert job.clipped_after is not None and job.clipped_before > job.clipped_after + 1
    assert run["log_lines"] == 3001  # the graph counts what the engine sent, clipped or not


def _processes(marker):
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if marker in line and "ps -eo" not in line]


def _containers_of_the_runs_base():
    """The engine's containers of this run's base image: other people's come and go meanwhile."""
    return set(dockerlib.docker("ps", "-aq", "--filter", f"ancestor={dockerlib.BASE_IMAGE}").split())


def _command_line(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None  # gone


def _runc_running(marker):
    """The runc process BuildKit runs the step printing `marker` in, as (pid, its
    command line): the nearest runc among the ancestors of that step's process."""
    ps = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    rows = [line.split(None, 2) for line in ps.splitlines()]
    parents = {int(pid): int(ppid) for pid, ppid, *_ in rows}
    pid = next(int(pid) for pid, _, args in (row for row in rows if len(row) == 3)
               if f"sleep {marker}" in args and "ps -eo" not in args)
    while pid > 1:
        pid = parents.get(pid, 1)
        command = _command_line(pid) or ""
        if "runc" in command.split(" ", 1)[0]:
            return pid, command
    return None


def test_cancel_stops_the_build_and_leaves_nothing_running(builder_client):
    marker = f"{60 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000:03d}"  # a sleep only this build runs
    containers = _containers_of_the_runs_base()
    job = start_build(builder_client, f"FROM {BASE}\nRUN echo started; sleep {marker}\n{LABEL}", no_cache="on")
    run_started = None
    while run_started is None:
        wait_for_lines(job, logstore.count(job) + 1)
        run_started = next((t for t in texts(job) if t.endswith(" started")), None)
    runc = _runc_running(marker)
    assert runc, "no runc runs the step"
    builder_client.post(reverse("jobs-cancel", args=[job.pk]))
    job = wait_for_job(job, timeout=10)
    assert job.state == "cancelled", job.error
    run = vertex(job, r"RUN echo started")
    assert run["state"] == "cancelled"
    deadline = time.monotonic() + 10
    while _processes(f"sleep {marker}"):
        assert time.monotonic() < deadline, _processes(f"sleep {marker}")
        time.sleep(0.2)
    # The step's container is gone with its process: its runc has exited.
    while _command_line(runc[0]) == runc[1]:
        assert time.monotonic() < deadline, f"the step's runc still runs: {runc}"
        time.sleep(0.2)
    assert _containers_of_the_runs_base() <= containers  # BuildKit made no container the engine keeps


def test_a_killed_worker_leaves_the_buildkit_build_interrupted(builder_client, doomed_worker, beat):  # noqa: F811
    marker = f"{70 + uuid.uuid4().int % 1000}.{uuid.uuid4().int % 1000:03d}"
    job = start_build(builder_client, f"FROM {BASE}\nRUN echo started; sleep {marker}\n", no_cache="on")
    while not any(t.endswith(" started") for t in texts(job)):
        wait_for_lines(job, logstore.count(job) + 1)
    doomed_worker.kill()
    job = wait_for_job(job, states=("interrupted",), timeout=60)
    assert "stopped without finishing" in job.error
    deadline = time.monotonic() + 15  # the engine cancels the solve when the dead worker's connection closes
    while _processes(f"sleep {marker}"):
        assert time.monotonic() < deadline
        time.sleep(0.2)


# Each build option, on BuildKit ---------------------------------------------------

def test_tags_every_one_names_the_image(builder_client):
    repo = dockerlib.unique("bk-tags")
    job = wait_for_job(start_build(builder_client, f"FROM {BASE}\n{LABEL}", tags=f"{repo}:a\n{repo}:b, {repo}:c"))
    assert job.state == "succeeded", job.error
    assert {dockerlib.image_id(f"{repo}:{tag}") for tag in "abc"} == {job.image_id}


def test_build_args_labels_and_target(builder_client):
    job = wait_for_job(start_build(builder_client, (
        f"FROM {BASE} AS wanted\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n{LABEL}"
        f"FROM {BASE} AS never\nRUN exit 1\n"), build_args="GREETING=hi there", labels="team=tools\nbuilt.by=tests",
        target="wanted"))
    assert job.state == "succeeded", job.error
    labels = json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .Config.Labels}}", job.image_id))
    assert labels["team"] == "tools" and labels["built.by"] == "tests"
    assert not vertices(job, r"^\[never")
    dockerfile_copy = dockerlib.docker("run", "--rm", job.image_id, "cat", "/greeting")
    assert dockerfile_copy.strip() == "hi there"


@pytest.mark.parametrize("no_cache, state", [("", "cached"), ("on", "done")])
def test_no_cache(builder_client, no_cache, state):
    dockerfile = f"FROM {BASE}\nRUN echo cache-{uuid.uuid4().hex}\n{LABEL}"
    assert wait_for_job(start_build(builder_client, dockerfile)).state == "succeeded"
    job = wait_for_job(start_build(builder_client, dockerfile, no_cache=no_cache))
    assert job.state == "succeeded", job.error
    assert vertex(job, r"RUN echo cache-")["state"] == state


def test_pull_takes_the_base_image_from_its_registry(builder_client, open_registry):
    reference = f"{open_registry.address}/{dockerlib.unique('bk-pull').split('/', 1)[1]}:1"
    dockerlib.docker("tag", BASE, reference)
    dockerlib.docker("push", reference)
    dockerlib.docker("rmi", reference)
    job = wait_for_job(start_build(builder_client, f"FROM {reference}\nRUN echo pulled\n{LABEL}", pull="on",
                                   no_cache="on"))
    assert job.state == "succeeded", job.error
    assert log_of(job, vertex(job, r"RUN echo pulled")) == ["pulled"]
    assert_each_vertex_ends_once(job)


def test_a_dockerfile_path_in_an_uploaded_context(builder_client):
    files = {"ci/Build.df": f"FROM {BASE}\nCOPY app/x.txt /x\nRUN cat /x\n{LABEL}", "app/x.txt": "from the upload\n"}
    response = builder_client.post(reverse("jobs-build"), {
        "source": "upload", "dockerfile": "ci/Build.df", "context": SimpleUploadedFile("c.tar", tar_bytes(files)),
        "no_cache": "on"})
    job = wait_for_job(live.job_from(response))
    assert job.state == "succeeded", job.error
    assert log_of(job, vertex(job, r"RUN cat /x")) == ["from the upload"]
    assert vertex(job, r"RUN cat /x")["line"] == 3  # the line in the Dockerfile read from the context


def test_the_api_chooses_the_builder(builder):
    from tests.apiclient import bearer

    api = bearer(builder)
    started = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": f"FROM {BASE}\n{LABEL}",
                                       "builder": "classic"})
    assert started.status_code == 201, started.content
    job = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    assert job.params["builder"] == "classic" and job.steps and job.graph == {}
    started = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": f"FROM {BASE}\n{LABEL}"})
    job = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    assert job.params["builder"] == "buildkit" and job.graph["vertices"]
    assert api.get(f"/api/jobs/{job.pk}").json()["graph"] == job.graph
    refused = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": f"FROM {BASE}\n", "builder": "x"})
    assert refused.status_code == 400
