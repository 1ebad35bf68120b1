"""Registry logins, and pushes and pulls with and without registry auth."""

import html

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.models import Job, Registry
from tests import dockerlib
from tests.conftest import REGISTRY_PASSWORD
from tests.live import job_from, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")



def push(client, image_id, tag):
    return wait_for_job(job_from(client.post(reverse("images-push", args=[image_id.split(":")[1]]), {"tag": tag})))


def pull(client, reference):
    return wait_for_job(job_from(client.post(reverse("jobs-pull"), {"reference": reference})))


def no_secret_anywhere(password):
    assert not Job.objects.filter(error__contains=password).exists()
    assert not any(password in text for job in Job.objects.all() for text in logstore.texts(job))
    assert not Registry.objects.filter(password_encrypted__contains=password).exists()


@pytest.fixture(autouse=True)
def builder_is_admin(builder):
    """Registry logins are an admin's to manage: here the one user does both."""
    from images.accounts import roles

    roles.assign(builder, roles.ADMIN)


@pytest.fixture
def image(base_image):
    return dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo {dockerlib.unique('push')} > /id\n")


def add_login(client, registry, password):
    response = client.post(reverse("registries-new"), {
        "address": registry.address, "username": "pusher", "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Registry.objects.get(address=registry.address)


def test_it_stores_the_password_encrypted_and_never_shows_it(builder_client, auth_registry):
    login = add_login(builder_client, auth_registry, REGISTRY_PASSWORD)
    assert login.auth_config()["password"] == REGISTRY_PASSWORD
    for url in (reverse("registries-list"), reverse("registries-edit", args=[login.pk])):
        assert REGISTRY_PASSWORD not in builder_client.get(url).content.decode()
    builder_client.post(reverse("registries-edit", args=[login.pk]), {
        "address": auth_registry.address, "username": "pusher", "password": ""})
    login.refresh_from_db()
    assert login.auth_config()["password"] == REGISTRY_PASSWORD  # empty keeps it
    no_secret_anywhere(REGISTRY_PASSWORD)


def test_it_tests_a_login(builder_client, auth_registry):
    login = add_login(builder_client, auth_registry, REGISTRY_PASSWORD)
    page = builder_client.post(reverse("registries-test", args=[login.pk]), follow=True).content.decode()
    assert f"Logged in to {auth_registry.address} as pusher" in page
    login.set_password("wrong-password-9931")
    login.save()
    page = html.unescape(builder_client.post(reverse("registries-test", args=[login.pk]), follow=True).content.decode())
    assert f"Login to {auth_registry.address} failed" in page and "wrong-password-9931" not in page


def test_push_and_pull_without_auth(builder_client, open_registry, image):
    tag = f"{open_registry.address}/dockyard-test/open:1"
    dockerlib.docker("tag", image, tag)
    job = push(builder_client, image, tag)
    assert job.state == "succeeded", job.error
    assert job.progress["digest"].startswith("sha256:")
    # "Mounted from <repository>": the registry held the layer already, under another repository.
    assert {layer["status"].split(" from ")[0] for layer in job.progress["layers"]} <= {
        "Pushed", "Layer already exists", "Mounted"}
    dockerlib.docker("rmi", tag)
    back = pull(builder_client, tag)
    assert back.state == "succeeded", back.error
    assert back.image_id == image and back.progress["digest"] == job.progress["digest"]
    dockerlib.docker("rmi", tag)


def test_push_and_pull_with_auth(builder_client, auth_registry, image):
    add_login(builder_client, auth_registry, REGISTRY_PASSWORD)
    tag = f"{auth_registry.address}/dockyard-test/private:1"
    dockerlib.docker("tag", image, tag)
    job = push(builder_client, image, tag)
    assert job.state == "succeeded", job.error
    dockerlib.docker("rmi", tag)
    back = pull(builder_client, tag)
    assert back.state == "succeeded", back.error
    assert back.image_id == image
    dockerlib.docker("rmi", tag)
    no_secret_anywhere(REGISTRY_PASSWORD)


def test_a_wrong_password_fails_the_push_clearly_without_the_secret(builder_client, auth_registry, image):
    add_login(builder_client, auth_registry, "wrong-password-5512")
    tag = f"{auth_registry.address}/dockyard-test/denied:1"
    dockerlib.docker("tag", image, tag)
    job = push(builder_client, image, tag)
    assert job.state == "failed"
    assert "unauthorized" in job.error.lower() or "authentication required" in job.error.lower()
    page = builder_client.get(reverse("jobs-detail", args=[job.pk])).content.decode()
    assert "wrong-password-5512" not in page
    no_secret_anywhere("wrong-password-5512")
    dockerlib.docker("rmi", tag)


def test_a_private_pull_without_a_login_fails(builder_client, auth_registry):
    job = pull(builder_client, f"{auth_registry.address}/dockyard-test/private:nope")
    assert job.state == "failed"
    assert "no basic auth" in job.error.lower() or "unauthorized" in job.error.lower()
