"""A worker killed mid-job leaves the job interrupted, with its output, retryable."""

import uuid

import pytest
from django.urls import reverse

from images.models import Job
from tests import dockerlib, live
from tests.live import wait_for_job


@pytest.fixture
def doomed_worker(live_settings, base_image, settings):
    """A worker on a queue of its own, so that killing it touches no other test."""
    queue = f"{live_settings['queue']}-doomed-{uuid.uuid4().hex[:6]}"
    worker = live.Worker(live.process_env(queue, live_settings["prefix"]), "test-doomed-worker.log", concurrency=1)
    settings.DOCKYARD_QUEUE = queue
    yield worker
    worker.stop()


def test_a_killed_worker_leaves_the_job_interrupted_and_retryable(builder_client, doomed_worker, settings):
    settings.DOCKYARD_HEARTBEAT_TIMEOUT = 3
    response = builder_client.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile": "Dockerfile",
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in $(seq 1 60); do echo beat $i; sleep 1; done\n",
    })
    job = Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    wait_for_job(job, states=("running",))
    live.wait_for_lines(job, 6)  # the step header, then "beat 1" and "beat 2"
    doomed_worker.kill()
    kept = job.lines.count()

    job = wait_for_job(job, states=("interrupted",), timeout=30, reap=True)
    assert "stopped without finishing" in job.error
    assert job.lines.count() >= kept and "beat 1" in job.lines.values_list("text", flat=True)
    page = builder_client.get(reverse("jobs-detail", args=[job.pk])).content.decode()
    assert "interrupted" in page and ">Retry<" in page

    response = builder_client.post(reverse("jobs-retry", args=[job.pk]))
    retry = Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert retry.retry_of_id == job.pk and retry.state == "queued" and retry.params == job.params
    retry.request_cancel()  # its worker is dead; leave nothing queued
