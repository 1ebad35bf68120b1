"""BuildKit build jobs with their session, through the real worker: a base
image behind the stored registry login, a chosen secret (whose value is then in
no stored row, log, page or layer), a secret not chosen, and a cancel that
leaves no session behind."""

import hashlib
import html

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.builds import secrets
from images.engine import get_engine
from tests import dockerlib, live
from tests.conftest import BUILD_SECRET
from tests.live import wait_for_job
from tests.test_build_session import engine_dropped, image_files, only_in_registry, private_image, stored_login  # noqa: F401

pytestmark = pytest.mark.usefixtures("worker")

LABEL = f"LABEL {dockerlib.TEST_LABEL}=1\n"


def start_build(client, dockerfile, **fields):
    # No cache: a cached RUN step would not mount its secret again, nor print.
    return live.start_build(client, dockerfile, dockerlib.unique("session") + ":1", builder="buildkit",
                            no_cache="on", **fields)


@pytest.fixture
def npm_token(builder):
    secrets.add_secret(builder, "npm_token", BUILD_SECRET)
    return "npm_token"


def test_a_secret_mount_reads_its_value_which_then_is_nowhere_else(builder_client, npm_token, tmp_path):
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\n"
                                   f"RUN --mount=type=secret,id={npm_token} cat /run/secrets/{npm_token} | sha256sum\n"
                                   f"{LABEL}", secrets=[npm_token]))
    assert job.state == "succeeded", job.error
    digest = hashlib.sha256(BUILD_SECRET.encode()).hexdigest()
    assert any(digest in text for text in logstore.texts(job))
    for url in (reverse("jobs-detail", args=[job.pk]), reverse("jobs-log", args=[job.pk]),
                reverse("secrets-list"), reverse("images-detail", args=[job.image_hex])):
        response = builder_client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == 200 and BUILD_SECRET.encode() not in body, url
    layers = image_files(job.image_id, tmp_path / "image.tar")
    assert not [name for name, data in layers.items() if BUILD_SECRET.encode() in data]
    assert job.params["secrets"] == [npm_token]


def test_a_secret_asked_for_but_not_chosen_fails_the_build_naming_it(builder_client, npm_token):
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\n"
                                   "RUN --mount=type=secret,id=aws_key cat /run/secrets/aws_key\n", secrets=[npm_token]))
    assert job.state == "failed"
    assert "'aws_key' was not chosen for this build" in job.error


@pytest.mark.parametrize("pull", ["", "on"])
def test_a_buildkit_job_builds_from_a_private_base_image_with_the_stored_login(builder_client, stored_login,
                                                                               only_in_registry, pull):
    job = wait_for_job(start_build(builder_client, f"FROM {only_in_registry}\nRUN cat /private\n{LABEL}", pull=pull))
    assert job.state == "succeeded", job.error


def test_a_cancelled_build_leaves_no_session(builder_client, npm_token, worker):
    logged_before = worker.log_path.read_text()
    job = start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\nRUN --mount=type=secret,id={npm_token} sleep 60\n",
                      secrets=[npm_token])
    live.wait_for_lines(job, 2)
    builder_client.post(reverse("jobs-cancel", args=[job.pk]))
    job = wait_for_job(job, timeout=10)
    assert job.state == "cancelled", html.unescape(job.error)
    logged = worker.log_path.read_text()[len(logged_before):]
    attached = [line.split("BuildKit session ")[1].split()[0] for line in logged.splitlines()
                if "attached" in line and "BuildKit session " in line]
    assert len(attached) == 1, logged
    assert f"BuildKit session {attached[0]} closed, its thread ended" in logged
    assert engine_dropped(get_engine(), attached[0])
