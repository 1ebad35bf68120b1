"""A worker killed mid-job leaves the job interrupted, with its output, retryable.
Nobody has to be looking: the scheduler (celery beat) finds it, and tells
whoever is."""

import uuid

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.models import AuditEntry
from tests import dockerlib, live
from tests.live import job_from, wait_for_job

HEARTBEAT_TIMEOUT = live.HEARTBEAT_TIMEOUT  # the sweeping worker's, as process_env sets it


@pytest.fixture
def doomed_worker(live_settings, base_image, settings):
    """A worker on a queue of its own, so that killing it touches no other test."""
    queue = f"{live_settings['queue']}-doomed-{uuid.uuid4().hex[:6]}"
    worker = live.Worker(live.process_env(queue, live_settings["prefix"]), "test-doomed-worker.log", concurrency=1)
    settings.DOCKYARD_QUEUE = queue
    yield worker
    worker.stop()


@pytest.fixture
def beat(live_settings, worker, settings):
    """The scheduler, sending its periodic tasks to the session's worker often."""
    settings.DOCKYARD_HEARTBEAT_TIMEOUT = HEARTBEAT_TIMEOUT
    process = live.Beat(live.process_env(live_settings["queue"], live_settings["prefix"], DOCKYARD_SWEEP_INTERVAL="1"))
    yield process
    process.stop()


def start_doomed_build(client):
    response = client.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile": "Dockerfile", "builder": "classic",  # its lines read as printed
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in $(seq 1 60); do echo beat $i; sleep 1; done\n",
    })
    job = job_from(response)
    wait_for_job(job, states=("running",))
    live.wait_for_lines(job, 6)  # the step header, then "beat 1" and "beat 2"
    return job


def test_a_killed_worker_leaves_the_job_interrupted_with_nobody_looking(builder_client, doomed_worker, beat):
    job = start_doomed_build(builder_client)
    doomed_worker.kill()
    # No page, API call or stream is open: the scheduler alone finds it, so it
    # stops counting against its owner's DOCKYARD_MAX_ACTIVE_JOBS at once.
    job = wait_for_job(job, states=("interrupted",), timeout=60)
    assert "stopped without finishing" in job.error
    assert AuditEntry.objects.get(job=job).outcome == "interrupted"


def test_a_killed_worker_leaves_the_job_interrupted_and_retryable(builder_client, builder_session, server,
                                                                   doomed_worker, beat):
    job = start_doomed_build(builder_client)
    viewer = live.JobSocket(server, builder_session, job.pk)
    try:
        doomed_worker.kill()
        kept = logstore.count(job)
        # The viewer is told by the scheduler's sweep, which publishes the state.
        events = list(viewer.events(timeout=60))
    finally:
        viewer.close()
    assert events[-1]["state"] == "interrupted" and "stopped without finishing" in events[-1]["error"]

    job.refresh_from_db()
    assert job.state == "interrupted" and "stopped without finishing" in job.error
    assert logstore.count(job) >= kept and "beat 1" in logstore.texts(job)
    page = builder_client.get(reverse("jobs-detail", args=[job.pk])).content.decode()
    assert "interrupted" in page and ">Retry<" in page

    response = builder_client.post(reverse("jobs-retry", args=[job.pk]))
    retry = job_from(response)
    assert retry.retry_of_id == job.pk and retry.state == "queued" and retry.params == job.params
    retry.request_cancel()  # its worker is dead; leave nothing queued
