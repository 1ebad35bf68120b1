"""Finding an image the way people write one (repository, repository:tag,
registry/repository:tag, an id with or without sha256:, a digest), on the image
list, the header's search across engines, and both through the API."""

import html
import re

import pytest
from django.urls import reverse

from tests import dockerlib
from tests.apiclient import bearer
from tests.test_image_list import rows


@pytest.fixture(scope="module")
def pushed(base_image, open_registry):
    """An image tagged twice in a registry and pushed (so it has a repo digest
    there), and tagged a third time under Docker Hub's full name, which the
    engine stores in its familiar form."""
    repository = f"{open_registry.address}/{dockerlib.unique('pushed')}"
    hub = dockerlib.unique("hub")
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL run={repository}\n",
                            tags=[f"{repository}:1", f"{repository}:2", f"docker.io/{hub}:3"])
    dockerlib.docker("push", f"{repository}:1")
    digest = dockerlib.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", image).strip()
    assert digest.startswith(f"{repository}@sha256:")
    return {"id": image, "repository": repository, "hub": hub, "digest": digest}


def searches(pushed):
    """Each search, and the rows (repository, tag) it finds among this image's."""
    repository, hub = pushed["repository"], pushed["hub"]
    hex_id, digest_hex = pushed["id"].split(":")[1], pushed["digest"].split(":")[-1]
    every_tag = {(repository, "1"), (repository, "2"), (hub, "3")}
    in_registry = {(repository, "1"), (repository, "2")}
    return [
        (repository, in_registry),
        (f"{repository}:2", {(repository, "2")}),  # registry/repository:tag
        (f"{repository.rsplit('/', 1)[1]}:1", {(repository, "1")}),  # the last part of a name, and the tag
        (f"{repository.rsplit('/', 1)[1][:-4]}:2", {(repository, "2")}),  # part of a name, and the tag
        (f"docker.io/{hub}:3", {(hub, "3")}),  # Docker Hub's name as pulled, as the engine does not show it
        (f"sha256:{hex_id[:10]}", every_tag),
        (pushed["id"], every_tag),
        (hex_id, every_tag),
        (hex_id[:12], every_tag),
        (pushed["digest"], in_registry),  # registry/repository@sha256:…
        (f"sha256:{digest_hex}", in_registry),
        (f"SHA256:{digest_hex[:16].upper()}", in_registry),
    ]


def on_the_list(client, query):
    return {(r[0], r[1]) for r in rows(client.get(reverse("images-list"), {"q": query}))}


def on_the_search_page(client, query):
    page = client.get(reverse("images-search"), {"q": query}).content.decode()
    section = page.split('id="engine-default"', 1)[1].split("</section>", 1)[0]
    found = set()
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section.split("<tbody>", 1)[-1], re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found.add((cells[0], cells[1]))
    return found


def through_the_api_list(api, query):
    answer = api.get("/api/images", {"q": query})
    assert answer.status_code == 200, answer.content
    return {(image["repository"], image["tag"]) for image in answer.json()["images"]}


def through_the_api_search(api, query):
    answer = api.get("/api/search", {"q": query})
    assert answer.status_code == 200, answer.content
    [default] = [matches for matches in answer.json() if matches["engine"] == "default"]
    return {(image["repository"], image["tag"]) for image in default["images"]}


def test_the_image_list_finds_images_as_people_write_them(owner_client, pushed):
    for query, expected in searches(pushed):
        assert on_the_list(owner_client, query) == expected, query


def test_the_search_across_engines_finds_images_as_people_write_them(owner_client, pushed):
    for query, expected in searches(pushed):
        assert on_the_search_page(owner_client, query) == expected, query


def test_the_api_finds_images_as_people_write_them(owner, pushed):
    api = bearer(owner)
    for query, expected in searches(pushed):
        assert through_the_api_list(api, query) == expected, query
        assert through_the_api_search(api, query) == expected, query

