"""Runs on the real engine: a container started from an image by a worker, its
output stored as the job's lines, its limits enforced by the engine, stopped on
request or at its time limit, removed by the sweep, and committed as an image.
Each test checks what the engine holds afterwards."""

import re
import time

import pytest
from django.test import override_settings

from images.engine import get_engine
from images.jobs import control, logstore
from images.lifecycle import runs
from images.models import AuditEntry, Job, TagMove
from tests import dockerlib, savedlayers
from tests.live import wait_for_job, wait_for_lines
from tests.test_interrupted_jobs import beat, doomed_worker  # noqa: F401 - the fixtures

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
def image(base_image):
    """An image whose own command prints, with a variable to see in env."""
    tag = dockerlib.unique("run") + ":1"
    dockerlib.build(f'FROM {dockerlib.BASE_IMAGE}\nENV GREETING=hello\nCMD ["sh", "-c", "echo $GREETING from cmd"]\n',
                    tags=[tag])
    return {"tag": tag, "id": dockerlib.image_id(tag)}


def start(user, image, **options):
    return control.start_run(user, runs.run_params(image["id"], image["tag"], **options))


def lines(job):
    return logstore.texts(job)


def container(job):
    return get_engine().inspect_container(job.container_id)


def test_the_images_own_command_runs_and_its_container_is_kept_stopped_with_its_labels(builder, image):
    job = wait_for_job(start(builder, image))
    assert (job.state, job.error) == ("succeeded", "")
    assert lines(job) == ["hello from cmd", "exited 0"]
    found = container(job)
    assert found["State"]["Running"] is False and found["State"]["ExitCode"] == 0
    assert found["Config"]["Labels"][runs.LABEL_JOB] == str(job.pk)
    assert found["Config"]["Labels"][runs.LABEL_OWNER] == "builder"
    host = found["HostConfig"]
    assert (host["NetworkMode"], host["Privileged"], host["PublishAllPorts"]) == ("none", False, False)
    assert not any(host.get(field) for field in ("PortBindings", "Binds", "Mounts", "Devices", "CapAdd"))
    assert (host["Memory"], host["PidsLimit"], host["NanoCpus"]) == (512 * 1024 * 1024, 256, 10 ** 9)
    assert AuditEntry.objects.get(job=job).outcome == "succeeded"


def test_run_again_runs_the_same_recipe_in_a_new_container(builder, image):
    first = wait_for_job(start(builder, image, argv=["echo", "again"]))
    again = wait_for_job(control.retry(first, builder))
    assert (again.kind, again.retry_of, again.params, again.state) == ("run", first, first.params, "succeeded")
    assert lines(again) == ["again", "exited 0"] and again.container_id != first.container_id


def test_shell_metacharacters_arrive_as_literal_argv(builder, image):
    argv = runs.parse_argv("echo 'a  b' ; $(id) | cat && rm -rf /tmp")
    job = wait_for_job(start(builder, image, argv=argv))
    assert lines(job) == ["a  b ; $(id) | cat && rm -rf /tmp", "exited 0"]
    assert container(job)["Config"]["Cmd"] == ["echo", "a  b", ";", "$(id)", "|", "cat", "&&", "rm", "-rf", "/tmp"]


def test_stdout_and_stderr_are_told_apart_and_a_failing_exit_says_its_code(builder, image):
    job = wait_for_job(start(builder, image, shell="echo out; echo err >&2; exit 3", env=[("A", "1")]))
    assert job.state == "failed" and job.error == "exited 3"
    assert sorted(lines(job)[:2]) == ["[stderr] err", "out"] and lines(job)[-1] == "exited 3"


def test_a_run_past_its_memory_limit_ends_out_of_memory(builder, image):
    # busybox tail keeps its last line whole; /dev/zero never ends one.
    job = wait_for_job(start(builder, image, argv=["tail", "/dev/zero"], memory_mb=16))
    assert (job.state, job.error) == ("failed", "killed: out of memory (16 MB limit)")
    assert container(job)["State"]["OOMKilled"] is True


def test_a_fork_bomb_stops_at_the_pids_limit_and_the_engine_still_answers(builder, image):
    # exec: the shell becomes sleep without forking, so it lives on however full the pids limit is.
    job = start(builder, image, shell="bomb() { bomb | bomb & }; bomb; exec sleep 300", pids=32)
    wait_for_job(job, states=("running",))
    deadline = time.monotonic() + 30
    peak = 0
    while time.monotonic() < deadline and peak < 32:
        job.refresh_from_db()
        if job.container_id:
            peak = max(peak, int(dockerlib.docker("stats", "--no-stream", "--format", "{{.PIDs}}",
                                                  job.container_id).strip()))
        time.sleep(0.2)
    assert peak == 32  # it reached the limit, and no further
    assert get_engine().ping()
    control.cancel(job, builder)
    job = wait_for_job(job, timeout=60)
    assert job.state == "cancelled" and job.error.startswith("stopped by builder")
    assert container(job)["State"]["Running"] is False


@override_settings(DOCKYARD_JOB_OUTPUT_LIMIT=8 * 1024)
def test_endless_output_is_clipped_head_and_tail_and_ends_at_the_time_limit(builder, image):
    # Paced, so that what the engine keeps of it past the limit stays small; TERM ends it at once.
    # 2,000 lines at once (past the 8 KB limit however slow the machine), then paced lines until the time limit.
    job = wait_for_job(start(builder, image, shell="trap 'exit 0' TERM; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); "
                                                   "echo line $i; done; while true; do i=$((i+1)); echo line $i; "
                                                   "usleep 100; done", timeout=3))
    assert job.state == "failed" and re.fullmatch(r"timed out after 3 s \(exit code \d+\)", job.error)
    kept = lines(job)
    assert kept[0] == "line 1" and job.clipped_bytes > 0 and job.clipped_lines > 0
    assert kept[-1] == job.error and re.fullmatch(r"line \d+", kept[-2])
    assert container(job)["State"]["Running"] is False


def test_stop_sends_sigterm_first_and_says_who_stopped_it(builder, image):
    job = start(builder, image, shell="trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done")
    wait_for_lines(job, 1)
    control.cancel(job, builder)
    job = wait_for_job(job, timeout=30)
    assert job.state == "cancelled" and job.error == "stopped by builder (exit code 0)"
    assert lines(job) == ["ready", "got TERM", "stopped by builder (exit code 0)"]


def test_run_change_commit_the_new_layer_holds_exactly_the_change(builder, image):
    job = wait_for_job(start(builder, image, shell="echo changed > /etc/motd && mkdir -p /srv && echo 12345 > /srv/new",
                             env=[("TOKENISH", "run-only-value")]))
    assert job.state == "succeeded", job.error
    changed = {(change.path, change.kind, change.size) for change in runs.changes(job)}
    assert changed == {("/etc", "changed", None), ("/etc/motd", "added", 8), ("/srv", "added", None),
                       ("/srv/new", "added", 6)}
    name = dockerlib.unique("committed")
    made = runs.commit(job, builder, f"{name}:1", "tried by hand", ["CMD [\"cat\", \"/srv/new\"]", "ENV MODE=tried"])
    inspected = get_engine().inspect_image(f"{name}:1")
    # The source image's configuration, the run's own (its command, Dockyard's labels) left with the run.
    labels = inspected["Config"]["Labels"]
    assert (labels[runs.LABEL_JOB], labels[runs.LABEL_OWNER], labels[runs.LABEL_INSTANCE]) == ("", "", "")
    assert "GREETING=hello" in inspected["Config"]["Env"] and "TOKENISH" in inspected["Config"]["Env"]
    assert "run-only-value" not in str(inspected["Config"])  # the run's env values stay with the run
    assert inspected["Id"] == made and inspected["Author"] == "builder" and inspected["Comment"] == "tried by hand"
    assert inspected["Config"]["Cmd"] == ["cat", "/srv/new"] and "MODE=tried" in inspected["Config"]["Env"]
    assert inspected["Config"]["Labels"]["dockyard.run.job"] == str(job.pk)
    assert inspected["Config"]["Labels"]["dockyard.run.image"] == image["id"]
    top = savedlayers.saved_layers(f"{name}:1")[-1]
    assert sorted(entry[0].decode().rstrip("/") for entry in top) == ["etc", "etc/motd", "srv", "srv/new"]
    move = TagMove.objects.get(tag=f"{name}:1")
    assert (move.action, move.image_id, move.by) == ("commit", made, builder)


def test_bad_commits_are_refused_and_change_nothing(builder, image):
    job = wait_for_job(start(builder, image, shell="echo x > /x"))
    name = dockerlib.unique("refused")
    made_before = dockerlib.docker("images", "-q", "--no-trunc", "--filter", f"label=dockyard.run.job={job.pk}")
    for reference, changes, field in (("UPPER:1", [], "reference"), (f"{name}@sha256:" + "a" * 64, [], "reference"),
                                      (f"{name}:1", ["RUN rm -rf /"], "changes"), (f"{name}:1", ["CMD"], "changes")):
        with pytest.raises(runs.CommitRefused) as refused:
            runs.commit(job, builder, reference, "", changes)
        assert refused.value.field == field
    assert dockerlib.docker("images", "-q", name).strip() == ""
    # Nothing was committed from this container: no new image names the run in its labels.
    assert dockerlib.docker("images", "-q", "--no-trunc", "--filter", f"label=dockyard.run.job={job.pk}") == made_before


@pytest.mark.unaudited("the job is marked interrupted here, standing for the reaper after its worker died")
def test_the_sweep_removes_an_interrupted_runs_container_and_never_anothers(builder, image):
    job = start(builder, image, shell="sleep 300")
    wait_for_job(job, states=("running",))
    wait_for_container = time.monotonic() + 30
    while not job.container_id and time.monotonic() < wait_for_container:
        job.refresh_from_db()
        time.sleep(0.1)
    # Another Dockyard's container (another instance label) and one of no Dockyard, on the same engine.
    # Another Dockyard's container, and one made from an image committed of a run (so labelled as this
    # Dockyard's run, but not named as it names them), on the same engine.
    labels = ["--label", f"{dockerlib.TEST_LABEL}=1", "--label", f"{runs.LABEL_JOB}={job.pk}"]
    foreign = [dockerlib.docker("run", "-d", *labels, "--label", f"{runs.LABEL_INSTANCE}={instance}",
                                dockerlib.BASE_IMAGE, "sleep", "300").strip()
               for instance in ("someone-else", runs.instance_id())]
    try:
        Job.objects.filter(pk=job.pk).update(state="interrupted")  # as the reaper marks a job whose worker died
        assert job.container_id in runs.remove_finished("default")
        assert dockerlib.docker("ps", "-aq", "--no-trunc", "--filter", f"id={job.container_id}").strip() == ""
        for container_id in foreign:
            assert dockerlib.docker("ps", "-q", "--no-trunc", "--filter", f"id={container_id}").strip() == container_id
    finally:
        dockerlib.docker("rm", "-f", *foreign, check=False)


def test_a_killed_worker_leaves_no_container_after_the_sweep(builder, image, doomed_worker, beat):
    job = start(builder, image, shell="echo started; sleep 300")
    wait_for_lines(job, 1)
    job.refresh_from_db()
    container_id = job.container_id
    assert get_engine().inspect_container(container_id)["State"]["Running"] is True
    doomed_worker.kill()
    # The scheduler alone: it marks the job interrupted, then its sweep removes the container.
    assert wait_for_job(job, states=("interrupted",), timeout=60).state == "interrupted"
    deadline = time.monotonic() + 30
    while dockerlib.docker("ps", "-aq", "--no-trunc", "--filter", f"id={container_id}").strip():
        assert time.monotonic() < deadline, "the sweep left the run's container behind"
        time.sleep(0.5)
