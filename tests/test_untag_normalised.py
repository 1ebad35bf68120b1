"""Removing a tag: whatever the spelling of the tag, the plan is the engine's, the
tag must be the URL's image's, and a last tag (which deletes the image) needs
the remove permission, also when two removals race."""

import html
import threading
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from images.accounts import roles
from images.engine import Engine
from images.models import AuditEntry, TagMove
from images.refs import familiar_name
from tests import dockerlib
from tests.conftest import make_user
from tests.test_roles import client_for


@pytest.mark.parametrize("reference, familiar", [
    ("app", "app:latest"),
    ("app:1.0", "app:1.0"),
    ("library/app", "app:latest"),
    ("docker.io/app", "app:latest"),
    ("docker.io/library/app:latest", "app:latest"),
    ("index.docker.io/library/app:2", "app:2"),
    ("docker.io/team/app", "team/app:latest"),
    ("index.docker.io/team/app:3", "team/app:3"),
    ("library/team/app", "library/team/app:latest"),  # library/ is dropped only before a one-part name
    ("localhost/app", "localhost/app:latest"),
    ("localhost:5000/library/app:1", "localhost:5000/library/app:1"),
    ("registry.example.com/app", "registry.example.com/app:latest"),
    ("Registry.Example.com/app", "Registry.Example.com/app:latest"),
    ("app@sha256:" + "a" * 64, "app@sha256:" + "a" * 64),  # a digest gets no tag
    ("docker.io/library/app:1@sha256:" + "b" * 64, "app:1@sha256:" + "b" * 64),
])
def test_it_spells_references_as_the_engine_lists_them(reference, familiar):
    assert familiar_name(reference) == familiar


@pytest.fixture
def lone(base_image):
    """An image whose only tag is <name>:latest, with a one-part name as Docker Hub's library images have."""
    name = f"{dockerlib.PREFIX}-untag-{uuid.uuid4().hex[:8]}"
    image_id = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which={name}\n", tags=[f"{name}:latest"])
    return {"name": name, "id": image_id, "hex": image_id.split(":", 1)[1]}


def exists(image_id):
    return dockerlib.docker("image", "inspect", "--format", "{{.Id}}", image_id, check=False).strip() == image_id


def tags_of(image_id):
    return set(dockerlib.docker("image", "inspect", "--format", "{{join .RepoTags \" \"}}", image_id).split())


SPELLINGS = ["{name}", "docker.io/library/{name}:latest", "docker.io/library/{name}", "index.docker.io/library/{name}",
             "library/{name}:latest", "docker.io/{name}"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_builder_cannot_delete_an_image_by_spelling_its_last_tag_otherwise(db, lone, spelling):
    client = client_for(make_user("builder", roles.BUILDER))
    url = reverse("images-untag", args=[lone["hex"]])
    tag = spelling.format(name=lone["name"])
    confirm = html.unescape(client.get(url, {"tag": tag}).content.decode())
    assert "the image's last" in confirm and "itself is deleted" in confirm
    response = client.post(url, {"tag": tag, "confirm": "yes"})
    assert response.status_code == 403
    assert "needs the admin role" in html.unescape(response.content.decode())
    assert tags_of(lone["id"]) == {f"{lone['name']}:latest"}


def test_an_admin_removes_a_last_tag_spelled_in_full_and_the_audit_names_it_as_the_engine_does(owner_client, lone):
    url = reverse("images-untag", args=[lone["hex"]])
    response = owner_client.post(url, {"tag": f"docker.io/library/{lone['name']}", "confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == reverse("images-list")
    assert not exists(lone["id"])
    entry = AuditEntry.objects.get(action="untag")
    assert entry.target == f"{lone['name']}:latest" and entry.outcome == "ok"


def test_a_tag_added_in_full_is_recorded_as_the_engine_names_it(owner_client, lone):
    response = owner_client.post(reverse("images-tag", args=[lone["hex"]]),
                                 {"repository": f"docker.io/library/{lone['name']}", "tag": "extra"})
    assert response.status_code == 302
    assert tags_of(lone["id"]) == {f"{lone['name']}:latest", f"{lone['name']}:extra"}
    assert TagMove.objects.get().tag == f"{lone['name']}:extra"
    assert AuditEntry.objects.get(action="tag").target == f"{lone['name']}:extra"


def test_the_tag_must_belong_to_the_image_in_the_url(owner_client, lone, base_image):
    other_tag = dockerlib.unique("untag-other") + ":1"
    other = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which={other_tag}\n", tags=[other_tag])
    url = reverse("images-untag", args=[lone["hex"]])
    for method in ("get", "post"):
        response = getattr(owner_client, method)(url, {"tag": other_tag, "confirm": "yes"}, follow=True)
        assert f"{other_tag} is not a tag of this image" in html.unescape(response.content.decode())
    assert tags_of(other) == {other_tag}
    assert exists(lone["id"])


def held_while(first, second):
    """Run first() and second() in two threads (as two server processes would),
    holding the first inside the engine's remove call until the second has had
    every chance to go ahead. The hold only forces the interleaving: the engine
    and the lock are real. Returns their results."""
    first_inside, release_first = threading.Event(), threading.Event()
    original = Engine.remove_image

    def held_remove(engine, reference, **kwargs):
        if threading.current_thread().name == "first":
            first_inside.set()
            release_first.wait(30)
        return original(engine, reference, **kwargs)

    results = {}

    def run(name, call):
        try:
            results[name] = call()
        finally:
            connection.close()

    Engine.remove_image = held_remove
    try:
        threads = {name: threading.Thread(target=run, args=(name, call), name=name)
                   for name, call in (("first", first), ("second", second))}
        threads["first"].start()
        assert first_inside.wait(30)
        threads["second"].start()
        threads["second"].join(5)  # without the lock the second goes ahead now, while the first is held
        release_first.set()
        for thread in threads.values():
            thread.join(30)
    finally:
        release_first.set()
        Engine.remove_image = original
    return results["first"], results["second"]


def test_two_untags_at_once_never_delete_an_image_without_remove(transactional_db, lone):
    second_tag = f"{lone['name']}:second"
    dockerlib.docker("tag", lone["id"], second_tag)
    client = client_for(make_user("builder", roles.BUILDER))
    url = reverse("images-untag", args=[lone["hex"]])
    first, second = held_while(lambda: client.post(url, {"tag": f"{lone['name']}:latest", "confirm": "yes"}),
                               lambda: client.post(url, {"tag": second_tag, "confirm": "yes"}))
    assert exists(lone["id"]), "two builders' untags deleted the image"
    assert tags_of(lone["id"]) == {second_tag}
    assert first.status_code == 302 and second.status_code == 403


def test_a_tag_moved_away_during_an_untag_never_deletes_the_image(transactional_db, lone):
    second_tag = f"{lone['name']}:second"
    dockerlib.docker("tag", lone["id"], second_tag)
    other = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=other-{lone['name']}\n")
    client = client_for(make_user("builder", roles.BUILDER))
    first, second = held_while(
        lambda: client.post(reverse("images-untag", args=[lone["hex"]]),
                            {"tag": f"{lone['name']}:latest", "confirm": "yes"}),
        lambda: client.post(reverse("images-tag", args=[other.split(":", 1)[1]]),
                            {"repository": lone["name"], "tag": "second", "move": "True"}))
    assert first.status_code == 302 and second.status_code == 302
    assert exists(lone["id"]), "an untag and a move deleted the image"
    assert tags_of(other) == {second_tag}
