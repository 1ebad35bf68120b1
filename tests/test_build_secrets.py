"""Build secrets: the Secrets page (builders' own, admins' shared), write-only
values encrypted at rest, audited by id, chosen by id on the build form and
read for the job's owner when the build runs.

Every test also ends with conftest's scan of every stored row, which looks for
BUILD_SECRET among the other secrets."""

import html

import pytest
from django.test import Client
from django.urls import reverse

from images.accounts import roles
from images.builds import secrets
from images.models import AuditEntry, BuildSecret, Job
from tests import dockerlib
from tests.conftest import BUILD_SECRET, make_user


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def page(client, url=None):
    return html.unescape(client.get(url or reverse("secrets-list")).content.decode())


def add(client, name, value=BUILD_SECRET, **extra):
    return client.post(reverse("secrets-list"), {"name": name, "value": value, **extra})


@pytest.fixture
def admin(owner):
    return client_for(owner)


@pytest.fixture
def building(builder):
    return client_for(builder)


def test_a_builder_keeps_a_secret_that_is_never_shown_again(builder, building):
    response = add(building, "npm_token")
    assert response.status_code == 302
    secret = BuildSecret.objects.get()
    assert (secret.owner, secret.name, secret.value()) == (builder, "npm_token", BUILD_SECRET.encode())
    assert BUILD_SECRET not in secret.value_encrypted
    listing = page(building)
    assert "npm_token" in listing and BUILD_SECRET not in listing
    assert BUILD_SECRET not in page(building, reverse("secrets-replace", args=[secret.pk]))
    assert "--mount=type=ssh" in listing and "not offered" in listing

    building.post(reverse("secrets-replace", args=[secret.pk]), {"value": "line one\r\nline two\r\n"})
    secret.refresh_from_db()
    assert secret.value() == b"line one\nline two\n"  # a browser's CRLF, as typed
    building.post(reverse("secrets-delete", args=[secret.pk]))
    assert not BuildSecret.objects.exists()
    assert [(e.action, e.target, e.detail) for e in AuditEntry.objects.order_by("pk")] == [
        ("secret-add", "secret npm_token", "own, of builder"),
        ("secret-change", "secret npm_token", "own, of builder; value replaced (not recorded)"),
        ("secret-delete", "secret npm_token", "own, of builder"),
    ]


def test_admins_keep_the_shared_secrets_which_builders_see_by_id_only(owner, admin, builder, building):
    assert add(admin, "deploy_key", shared="on").status_code == 302
    shared = BuildSecret.objects.get()
    assert shared.owner is None
    listing = page(building)
    assert "deploy_key" in listing and reverse("secrets-replace", args=[shared.pk]) not in listing
    assert building.post(reverse("secrets-delete", args=[shared.pk])).status_code == 404
    assert building.post(reverse("secrets-replace", args=[shared.pk]), {"value": "x"}).status_code == 404
    add(building, "deploy_key", value="mine", shared="on")  # not an admin: `shared` is no field for them
    assert BuildSecret.objects.get(owner=builder).value() == b"mine"
    assert secrets.usable_names(builder) == ["deploy_key"]
    assert secrets.values_for_build(builder, ["deploy_key"]) == {"deploy_key": b"mine"}  # own before shared
    assert secrets.values_for_build(owner, ["deploy_key"]) == {"deploy_key": BUILD_SECRET.encode()}


def test_no_one_reaches_anothers_secret(builder, building):
    other = make_user("viewer", roles.BUILDER)
    add(client_for(other), "theirs")
    theirs = BuildSecret.objects.get()
    assert building.post(reverse("secrets-delete", args=[theirs.pk])).status_code == 404
    assert building.get(reverse("secrets-replace", args=[theirs.pk])).status_code == 404
    assert "theirs" not in page(building)
    assert secrets.usable_names(builder) == []
    with pytest.raises(secrets.SecretUnavailable, match="chose the secret theirs, which is not among yours"):
        secrets.values_for_build(builder, ["theirs"])


def test_a_viewer_has_no_secrets_page(building):
    viewer = make_user("viewer", roles.VIEWER)
    client = client_for(viewer)
    assert client.get(reverse("secrets-list")).status_code == 403
    assert add(client, "sneaky").status_code == 403
    assert not BuildSecret.objects.exists()
    assert reverse("secrets-list") not in page(client, reverse("images-list"))
    assert reverse("secrets-list") in page(building, reverse("images-list"))


@pytest.mark.parametrize("name, error", [
    ("has space", "Up to 64 letters"), ("../up", "Up to 64 letters"), ("x" * 65, "at most 64"), ("", "required"),
])
def test_an_id_a_dockerfile_could_not_mount_is_refused(building, name, error):
    response = add(building, name)
    assert response.status_code == 200 and error in html.unescape(response.content.decode())
    assert not BuildSecret.objects.exists()


def test_a_duplicate_or_oversized_secret_is_refused(building):
    add(building, "npm_token")
    response = add(building, "npm_token", value="other")
    assert "You already have a secret with the id npm_token" in html.unescape(response.content.decode())
    response = add(building, "big", value="é" * (BuildSecret.VALUE_LIMIT // 2 + 1))
    assert "BuildKit takes at most 512,000" in html.unescape(response.content.decode())
    assert list(BuildSecret.objects.values_list("name", flat=True)) == ["npm_token"]


def test_a_build_chooses_secrets_by_id_and_its_job_keeps_the_ids_only(builder, building, base_image, live_settings):
    # live_settings: the job is queued on this run's own queue.
    add(building, "npm_token")
    form = page(building, reverse("jobs-build"))
    assert 'value="npm_token"' in form and "choose build secrets instead" in form
    fields = {"source": "dockerfile", "dockerfile": "Dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}
    response = building.post(reverse("jobs-build"), {**fields, "secrets": ["not_mine"]})
    assert "not_mine is not one of the available choices" in html.unescape(response.content.decode())
    response = building.post(reverse("jobs-build"), {**fields, "secrets": ["npm_token"]})
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.params["secrets"] == ["npm_token"]
    assert AuditEntry.objects.get(job=job).detail == "from dockerfile typed on the page; secrets npm_token"


def test_the_build_args_warning_points_to_secrets(building):
    response = building.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile": "Dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n",
        "build_args": "NPM_TOKEN=abc"})
    assert "keep it on the Secrets page and choose it under Secrets" in html.unescape(response.content.decode())
