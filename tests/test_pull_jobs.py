"""Pulls from the local registry on 127.0.0.1:5000, through a real worker."""

import re

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.models import Job
from tests import dockerlib
from tests.live import JobSocket, job_from, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")
REGISTRY = "127.0.0.1:5000"


@pytest.fixture(scope="module")
def pushed(base_image):
    """An image of two layers of its own in the registry, and not on the engine."""
    name = f"{REGISTRY}/{dockerlib.unique('pull')}"
    image = dockerlib.build(
        f"FROM {dockerlib.BASE_IMAGE}\n"
        "RUN dd if=/dev/urandom of=/one bs=1024 count=3000\n"
        "RUN dd if=/dev/urandom of=/two bs=1024 count=2000\n",
        tags=[f"{name}:1"],
    )
    output = dockerlib.docker("push", f"{name}:1")
    digest = re.search(r"digest: (sha256:[0-9a-f]{64})", output)[1]
    dockerlib.docker("rmi", f"{name}:1")
    assert dockerlib.docker("images", "-q", image).strip() == ""
    yield {"name": name, "image": image, "digest": digest}
    dockerlib.docker("rmi", "-f", image, check=False)


def start_pull(client, reference):
    response = client.post(reverse("jobs-pull"), {"reference": reference})
    assert response.status_code == 302, response.content.decode()[:1000]
    return job_from(response)


def test_a_pull_shows_each_layer_and_ends_with_the_digest(builder_client, builder_session, server, pushed):
    job = start_pull(builder_client, f"{pushed['name']}:1")
    socket = JobSocket(server, builder_session, job.pk)
    events = list(socket.events())
    socket.close()
    job = wait_for_job(job)
    assert job.state == "succeeded", job.error
    assert job.image_id == pushed["image"]
    assert dockerlib.image_id(f"{pushed['name']}:1") == pushed["image"]
    layers = job.progress["layers"]
    assert len(layers) == 3  # the base layer and two of its own
    assert sorted(layer["status"] for layer in layers) == ["Already exists", "Pull complete", "Pull complete"]
    assert job.progress["digest"] == pushed["digest"]
    assert f"Digest: {pushed['digest']}" in logstore.texts(job)
    progress = [event for event in events if event["type"] == "progress"]
    assert progress and progress[-1]["digest"] == pushed["digest"]
    pulled = [layer for layer in progress[-1]["layers"] if layer["status"] == "Pull complete"]
    assert len(pulled) == 2 and all(layer["total"] > 1_000_000 and layer["current"] == layer["total"]
                                    for layer in pulled)
    dockerlib.docker("rmi", f"{pushed['name']}:1")


def test_a_pull_by_digest(builder_client, pushed):
    job = wait_for_job(start_pull(builder_client, f"{pushed['name']}@{pushed['digest']}"))
    assert job.state == "succeeded", job.error
    assert job.image_id == pushed["image"]
    dockerlib.docker("rmi", f"{pushed['name']}@{pushed['digest']}")


def test_a_pull_of_a_missing_tag_fails_with_the_registrys_answer(builder_client, pushed):
    job = wait_for_job(start_pull(builder_client, f"{pushed['name']}:no-such-tag"))
    assert job.state == "failed"
    assert "not found" in job.error.lower() or "manifest unknown" in job.error.lower()


def test_a_bad_reference_is_refused_before_any_job(builder_client):
    response = builder_client.post(reverse("jobs-pull"), {"reference": "Not A/Valid::Ref"})
    assert response.status_code == 200
    assert "cannot contain spaces" in response.content.decode()
    assert not Job.objects.exists()
