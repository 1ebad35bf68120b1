"""Pushes to the local registry on 127.0.0.1:5000, through a real worker."""

import pytest
from django.urls import reverse

from images.models import Job
from tests import dockerlib
from tests.live import JobSocket, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")
REGISTRY = "127.0.0.1:5000"


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
