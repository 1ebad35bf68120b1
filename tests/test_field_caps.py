"""Every free-text field has a length cap, refused with a clear error on the
form and, the same, in the API: nothing over a cap is stored or sent on.
(Uploaded file names need none: Django cuts them to 255 characters.)"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from images.models import ApiToken, Job
from tests import dockerlib

DOCKERFILE = f"FROM {dockerlib.BASE_IMAGE}\n"

# field: (an over-long value, the start of the error it gets)
OVER_LONG = {
    "build_args": ("\n".join(f"ARG_{n}={'v' * 200}" for n in range(100)), "Ensure this value has at most 16384"),
    "labels": ("\n".join(f"label.{n}={'v' * 200}" for n in range(100)), "Ensure this value has at most 16384"),
    "tags": (",".join(f"dockyard-test/many:{n}" for n in range(21)), "At most 20 tags"),
    "dockerfile_text": (DOCKERFILE + "#" * (1024 * 1024), "Ensure this value has at most 1048576"),
    "target": ("t" * 201, "Ensure this value has at most 200"),
    "git_url": ("https://github.com/" + "x" * 2048 + ".git", "Ensure this value has at most 2048"),
    "directory": ("/" + "d" * 4096, "Ensure this value has at most 4096"),
    "dockerfile": ("d/" * 513, "Ensure this value has at most 1024"),
}


def fields_with(field, value):
    source = {"git_url": "git", "directory": "directory"}.get(field, "dockerfile")
    return {"source": source, "dockerfile": "Dockerfile", "dockerfile_text": DOCKERFILE, field: value}


@pytest.mark.parametrize("field", OVER_LONG)
def test_the_build_form_refuses_an_over_long_field(builder_client, field):
    value, error = OVER_LONG[field]
    response = builder_client.post(reverse("jobs-build"), fields_with(field, value))
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert errors and errors[0].startswith(error), errors
    assert error in response.content.decode()
    assert not Job.objects.exists()


@pytest.fixture
def api(builder):
    _, token = ApiToken.issue(builder, "ci")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize("field", OVER_LONG)
def test_the_api_refuses_what_the_form_refuses(api, field):
    value, error = OVER_LONG[field]
    response = api.post("/api/builds", fields_with(field, value))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "The build was not started."
    assert body["fields"][field][0]["message"].startswith(error)
    assert not Job.objects.exists()


def test_the_api_refuses_an_over_long_pull_reference_in_json(api):
    response = api.post("/api/pulls", json.dumps({"reference": "a" * 601}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"]["reference"][0]["message"].startswith("Ensure this value has at most 600")


def test_the_api_answers_an_over_large_json_body_in_its_own_shape(api, settings):
    body = json.dumps({"reference": "busybox", "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = api.post("/api/pulls", body, content_type="application/json")
    assert response.status_code == 413
    assert "bytes" in response.json()["error"]
    assert not Job.objects.exists()


def test_prune_refuses_an_over_long_label_filter(owner_client):
    response = owner_client.post(reverse("images-prune"), {"confirm": "yes", "label": "k=" + "v" * 300}, follow=True)
    assert "A label filter is at most 255 characters" in response.content.decode()
