"""Redis restarts while a build runs and another waits: both still end, and
nothing stored is lost. The database, not Redis, is the truth about jobs.

Each test starts its own Redis the way scripts/services.sh does (it IS
services.sh, with a port and data directory of its own: append-only file and
password), and its own worker (one slot, so that the second build waits) and
scheduler on it, then restarts that Redis; the shared one is never touched.
"""

import base64
import json
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.celery import app as celery_app
from images.jobs import control, logstore
from images.models import Job
from tests import dockerlib, live
from tests.live import wait_for_job, wait_for_lines

# The web side of Dockyard on the same Redis: a job made and queued as the build page does it.
SUBMIT = """
import sys, django
django.setup()
from django.contrib.auth import get_user_model
from images.builds.forms import BuildForm
from images.jobs import control
form = BuildForm({"source": "dockerfile", "dockerfile": "Dockerfile", "dockerfile_text": sys.stdin.read(),
                  "builder": "classic"})
assert form.is_valid(), form.errors
print(control.start_build(get_user_model().objects.get(username="builder"), form.job_params()).pk)
"""

SLOW_LINES = 40


class Stack:
    """A worker and celery beat on `dockyard_redis`, and a way to submit builds through it."""

    def __init__(self, dockyard_redis, live_settings, requeue_after):
        run = uuid.uuid4().hex[:6]
        self.queue = f"{live_settings['queue']}-restart-{run}"
        self.redis = dockyard_redis
        self.env = live.process_env(self.queue, f"{live_settings['prefix']}-restart-{run}",
                                    REDIS_URL=dockyard_redis.url, DOCKYARD_SWEEP_INTERVAL="1",
                                    DOCKYARD_REQUEUE_AFTER=str(requeue_after))
        self.worker = live.Worker(self.env, "test-restart-worker.log", concurrency=1)
        self.beat = None
        try:
            self.beat = live.Beat(self.env, "test-restart-beat.log")
        except Exception:
            self.stop()
            raise

    def submit(self, dockerfile):
        result = subprocess.run([sys.executable, "-c", SUBMIT], input=dockerfile, env=self.env, cwd=live.ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return Job.objects.get(pk=int(result.stdout.split()[-1]))

    def queued_job_ids(self):
        """The jobs whose run_job_task message waits in this stack's queue in Redis."""
        ids = []
        for raw in self.redis.client().lrange(self.queue, 0, -1):
            headers = json.loads(raw)["headers"]
            if headers["task"] == "images.tasks.run_job_task":
                ids.append(int(headers["argsrepr"].strip("(),")))
        return ids

    def stop(self):
        if self.beat:
            self.beat.stop()
        self.worker.stop()
        for log in (self.worker.log_path, *([self.beat.log_path] if self.beat else [])):
            assert self.redis.password not in log.read_text(errors="replace"), f"{log} shows the Redis password"


@pytest.fixture
def dockyard_redis(tmp_path):
    started = live.DockyardRedis(tmp_path / "var")
    started.start()
    yield started
    if started.running:
        started.stop()


@pytest.fixture
def stack_factory(dockyard_redis, live_settings, builder, base_image):
    stacks = []

    def make(requeue_after):
        stacks.append(Stack(dockyard_redis, live_settings, requeue_after))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.stop()


def slow_build():
    return (f"FROM {dockerlib.BASE_IMAGE}\n"
            f"RUN for i in $(seq 1 {SLOW_LINES}); do echo \"line $i {uuid.uuid4().hex[:8]}\"; sleep 0.4; done\n"
            f"LABEL {dockerlib.TEST_LABEL}=1\n")


def quick_build():
    return f"FROM {dockerlib.BASE_IMAGE}\nRUN echo quick {uuid.uuid4().hex}\nLABEL {dockerlib.TEST_LABEL}=1\n"


def assert_every_line_kept(job):
    seqs = [seq for seq, _, _ in logstore.lines(job)]
    assert seqs == list(range(1, job.line_count + 1)), "sequence numbers have a gap"


def start_one_running_one_queued(stack):
    running = stack.submit(slow_build())
    wait_for_job(running, states=("running",))
    wait_for_lines(running, 4)
    queued = stack.submit(quick_build())
    queued.refresh_from_db()
    assert queued.state == "queued" and queued.dispatched_at is not None
    assert stack.queued_job_ids() == [queued.pk]
    return running, queued


def assert_both_ended_whole(running, queued):
    running = wait_for_job(running, timeout=120)
    queued = wait_for_job(queued, timeout=120)
    assert (running.state, queued.state) == ("succeeded", "succeeded"), (running.error, queued.error)
    assert_every_line_kept(running)
    assert_every_line_kept(queued)
    printed = [text for text in logstore.texts(running) if text.startswith("line ")]
    assert [text.split()[1] for text in printed] == [str(i) for i in range(1, SLOW_LINES + 1)]
    return running, queued


def test_it_keeps_the_queued_job_in_redis_append_only_file_across_a_restart(stack_factory, dockyard_redis):
    # The sweep would only send it again after an hour: whatever runs it comes from the file.
    stack = stack_factory(requeue_after=3600)
    running, queued = start_one_running_one_queued(stack)
    sent_at = queued.dispatched_at

    dockyard_redis.restart()
    assert logstore.count(running) < SLOW_LINES, "the build ended before Redis restarted"

    running, queued = assert_both_ended_whole(running, queued)
    assert queued.dispatched_at == sent_at, "the sweep sent it again; the append-only file did not carry it"


def test_it_sends_a_queued_job_again_at_once_when_redis_came_back_empty(stack_factory, dockyard_redis):
    # The production timer: only the sweep's look into the broker can send it within the wait.
    stack = stack_factory(requeue_after=300)
    running, queued = start_one_running_one_queued(stack)
    sent_at = queued.dispatched_at

    # As a Redis without persistence comes back: its queues are gone.
    dockyard_redis.restart(lose_data=True)
    assert logstore.count(running) < SLOW_LINES, "the build ended before Redis restarted"
    assert queued.pk not in stack.queued_job_ids()

    # Within 30 s of Redis coming back: the running build ends (~15 s), the sweep finds the
    # queued job's task missing twice, sends it, and the worker claims it.
    claimed = wait_for_job(queued, states=("running", "succeeded", "failed"), timeout=30)
    assert claimed.dispatched_at > sent_at, "nothing sent it again"
    assert_both_ended_whole(running, queued)


@pytest.mark.unaudited("rows stand in for jobs at each point of their life")
def test_it_sends_again_only_jobs_left_queued_and_unclaimed_past_the_bound(db, settings):
    settings.DOCKYARD_REQUEUE_AFTER = 300
    now = timezone.now()
    long_ago = now - timedelta(seconds=301)

    def job(state, dispatched_at, queued_at=now):
        return Job.objects.create(kind="build", target="t", state=state, output_limit=1000,
                                  dispatched_at=dispatched_at, queued_at=queued_at).pk

    lost = job("queued", long_ago)
    from_before_dispatches_were_noted = job("queued", None, queued_at=long_ago)
    job("queued", now - timedelta(seconds=10))  # waiting, sent recently
    job("running", long_ago)
    job("succeeded", long_ago)
    assert set(Job.find_unclaimed(300).values_list("pk", flat=True)) == {lost, from_before_dispatches_were_noted}


@pytest.fixture
def lone_queue(db, settings):
    """A queue of this test's own on the shared Redis, which no worker reads:
    what the sweep finds there is what the test put."""
    settings.DOCKYARD_QUEUE = f"{settings.DOCKYARD_QUEUE}-sweep-{uuid.uuid4().hex[:8]}"
    with celery_app.connection_for_write() as connection:
        yield connection.default_channel
        connection.default_channel.queue_purge(settings.DOCKYARD_QUEUE)


def queued_in(channel, queue):
    return sorted(json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]
                  for raw in channel.client.lrange(queue, 0, -1))


@pytest.mark.unaudited("rows stand in for queued jobs")
def test_the_sweep_sends_again_only_jobs_redis_holds_nowhere_found_missing_twice(lone_queue, settings, monkeypatch):
    settings.DOCKYARD_REQUEUE_AFTER = 300  # the timer plays no part
    monkeypatch.setattr(control, "MISSING_CONFIRM_SECONDS", 0)  # the second sweep need not wait a second
    queue = settings.DOCKYARD_QUEUE

    def queued_job():
        return Job.objects.create(kind="build", target="t", state="queued", output_limit=1000)

    waiting, in_a_workers_hands, lost = queued_job(), queued_job(), queued_job()
    control.dispatch(in_a_workers_hands.pk, queue)
    # A worker takes it: out of the list, into kombu's unacked hash until it is acknowledged.
    taken = lone_queue.basic_get(queue, no_ack=False)
    control.dispatch(waiting.pk, queue)
    sent_at = {job.pk: Job.objects.get(pk=job.pk).dispatched_at for job in (waiting, in_a_workers_hands)}
    # `lost`'s message went with a Redis that lost its data: it was never in this one.
    assert queued_in(lone_queue, queue) == [waiting.pk]

    control.requeue_unclaimed()
    assert queued_in(lone_queue, queue) == [waiting.pk], "sent again on one sweep's sighting"
    control.requeue_unclaimed()
    assert queued_in(lone_queue, queue) == sorted([waiting.pk, lost.pk])
    for job in (waiting, in_a_workers_hands):
        assert Job.objects.get(pk=job.pk).dispatched_at == sent_at[job.pk]
    taken.ack()


def test_a_build_asked_for_while_redis_is_down_is_queued_and_runs_when_it_is_back(stack_factory, dockyard_redis):
    stack = stack_factory(requeue_after=3)
    dockyard_redis.stop()
    # The request succeeds: the job is stored, and the sweep sends it once Redis answers.
    job = stack.submit(quick_build())
    assert job.state == "queued"
    dockyard_redis.start()
    job = wait_for_job(job, timeout=120)
    assert job.state == "succeeded", job.error
    assert_every_line_kept(job)
