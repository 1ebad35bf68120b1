"""Pushes to the local registry on 127.0.0.1:5000, through a real worker, and
the confirmation a push to an implied Docker Hub asks for first (never sent:
no job made here reaches a worker)."""

import html
import re

import pytest
from django.db import connection
from django.urls import reverse

from images.models import Job
from tests import dockerlib
from tests.live import JobSocket, wait_for_job

REGISTRY = "127.0.0.1:5000"


@pytest.mark.usefixtures("worker")
def test_a_viewer_who_connects_after_the_push_gets_its_layer_progress(builder_client, builder_session, server,
                                                                      base_image):
    name = f"{REGISTRY}/{dockerlib.unique('push')}:1"
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/urandom of=/data bs=1024 count=2000\n",
                            tags=[name])
    response = builder_client.post(reverse("images-push", args=[image.split(":", 1)[1]]), {"tag": name})
    assert response.status_code == 302, response.content.decode()[:1000]
    job = wait_for_job(Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1])))
    assert job.state == "succeeded", job.error

    # As a pull's page does, a push's page opened late shows every layer and the digest.
    socket = JobSocket(server, builder_session, job.pk)
    events = list(socket.events())
    socket.close()
    progress = [event for event in events if event["type"] == "progress"]
    assert progress == [{"type": "progress", **job.progress}]
    assert progress[0]["digest"].startswith("sha256:")
    layers = progress[0]["layers"]
    assert len(layers) == 2  # the base layer and one of its own
    assert "Pushed" in {layer["status"] for layer in layers}
    dockerlib.docker("rmi", name)


def page_text(response):
    return " ".join(re.sub(r"<[^>]+>", "", html.unescape(response.content.decode())).split())


def test_a_push_with_no_registry_host_asks_naming_docker_hub_and_queues_nothing(owner_client, base_image):
    url = reverse("images-push", args=[base_image.split(":", 1)[1]])
    response = owner_client.post(url, {"tag": "walk-two:1"})
    assert response.status_code == 200
    assert "Push to docker.io/library/walk-two:1?" in page_text(response)
    assert not Job.objects.exists()
    form = re.search(r'<form method="post" action="([^"]*)"[^>]*>(.*?)</form>', response.content.decode(), re.S)
    assert html.unescape(form.group(1)) == url
    assert '<input type="hidden" name="tag" value="walk-two:1">' in form.group(2)
    assert '<input type="hidden" name="confirm_registry" value="yes">' in form.group(2)


def test_a_confirmed_push_to_docker_hub_is_queued(owner_client, base_image):
    assert connection.in_atomic_block  # so its job is never dispatched: no network to docker.io here
    response = owner_client.post(reverse("images-push", args=[base_image.split(":", 1)[1]]),
                                 {"tag": "dockyard-test/walk-two:1", "confirm_registry": "yes"})
    assert response.status_code == 302
    assert Job.objects.get().target == "dockyard-test/walk-two:1"


def test_a_push_to_a_registry_not_allowed_is_refused_before_asking(owner_client, base_image, settings):
    settings.DOCKYARD_REGISTRY_HOSTS = ["127.0.0.1"]
    response = owner_client.post(reverse("images-push", args=[base_image.split(":", 1)[1]]), {"tag": "walk-two:1"},
                                 follow=True)
    assert "Not pushed: Pulls and pushes may not use the registry docker.io" in page_text(response)
    assert "Push to docker.io" not in page_text(response)
    assert not Job.objects.exists()
