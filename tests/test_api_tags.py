"""Tags through the API: add, move, remove, history, rollback and push, with a
token, on the real engine."""

import pytest
from django.db import connection

from images.models import Job, TagMove
from tests import dockerlib, live
from tests.apiclient import bearer, entry
from tests.live import wait_for_job
from tests.test_tags import hex_of, tags_of, two_images  # noqa: F401 - the fixture


@pytest.fixture
def api(builder):
    return bearer(builder)


def test_it_adds_a_tag(api, two_images):
    repo, one = two_images["repo"], two_images["one"]
    response = api.post(f"/api/images/{hex_of(one)}/tags", {"repository": repo, "tag": "extra"},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json() == {"tag": f"{repo}:extra", "image_id": one, "moved_from": None}
    assert tags_of(one) == {f"{repo}:one", f"{repo}:extra"}
    assert TagMove.objects.get(tag=f"{repo}:extra").by.username == "builder"
    assert entry("tag", target=f"{repo}:extra").outcome == "ok"


def test_a_bad_tag_is_refused_with_the_reason(api, two_images):
    one = two_images["one"]
    response = api.post(f"/api/images/{hex_of(one)}/tags", {"repository": "Upper/Case", "tag": "x"},
                        content_type="application/json")
    assert response.status_code == 400
    assert "lowercase" in response.json()["error"]
    assert tags_of(one) == {f"{two_images['repo']}:one"}


def test_a_tag_may_follow_the_repository(api, two_images):
    repo, one = two_images["repo"], two_images["one"]
    response = api.post(f"/api/images/{hex_of(one)}/tags", {"repository": f"{repo}:copy"},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["tag"] == f"{repo}:copy"
    assert tags_of(one) == {f"{repo}:one", f"{repo}:copy"}


def test_moving_a_tag_needs_move_and_names_the_image_it_leaves(api, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    url = f"/api/images/{hex_of(two)}/tags"
    refused = api.post(url, {"repository": repo, "tag": "one"}, content_type="application/json")
    assert refused.status_code == 409
    assert refused.json()["holder"] == one and "move" in refused.json()["error"]
    assert tags_of(one) == {f"{repo}:one"}

    moved = api.post(url, {"repository": repo, "tag": "one", "move": True}, content_type="application/json")
    assert moved.status_code == 201 and moved.json()["moved_from"] == one
    assert f"{repo}:one" in tags_of(two) and tags_of(one) == set()  # dangling now
    assert entry("tag", target=f"{repo}:one").detail == f"to {hex_of(two)[:12]}, moved from {hex_of(one)[:12]}"


def test_it_removes_one_of_two_tags_and_the_image_stays(api, two_images):
    repo, one = two_images["repo"], two_images["one"]
    dockerlib.docker("tag", one, f"{repo}:spare")
    response = api.post(f"/api/images/{hex_of(one)}/untag", {"tag": f"{repo}:spare"})  # a form, as the page sends
    assert response.status_code == 200, response.content
    assert response.json() == {"tag": f"{repo}:spare", "image_id": one, "other_tags": [f"{repo}:one"],
                               "image_deleted": False}
    assert tags_of(one) == {f"{repo}:one"}
    assert entry("untag", target=f"{repo}:spare").outcome == "ok"


def test_a_last_tag_deletes_the_image_only_for_an_admin(api, owner, two_images):
    repo, two = two_images["repo"], two_images["two"]
    url, body = f"/api/images/{hex_of(two)}/untag", {"tag": f"{repo}:two"}
    refused = api.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]
    assert tags_of(two) == {f"{repo}:two"}
    assert entry("remove", outcome="denied").target == f"{repo}:two"  # what the untag would have been

    removed = bearer(owner).post(url, body, content_type="application/json")
    assert removed.status_code == 200 and removed.json()["image_deleted"] is True
    assert dockerlib.docker("image", "inspect", two, check=False).strip() == "[]"
    assert entry("untag", outcome="ok").detail == f"from {hex_of(two)[:12]}, which was deleted with it"


def test_it_lists_a_tags_history_and_rolls_it_back(api, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    tag = f"{repo}:release"
    api.post(f"/api/images/{hex_of(one)}/tags", {"repository": repo, "tag": "release"},
             content_type="application/json")
    api.post(f"/api/images/{hex_of(two)}/tags", {"repository": repo, "tag": "release", "move": True},
             content_type="application/json")
    # The image's other tag ({repo}:two, made by the CLI) has a move too when an event
    # listener of another module is still running: this is the history of "release".
    history = [move for move in api.get(f"/api/images/{hex_of(two)}/tag-moves").json() if move["tag"] == tag]
    assert [(move["tag"], move["image_id"], move["previous_image_id"], move["by"]) for move in history] == [
        (tag, two, one, "builder"), (tag, one, "", "builder")]
    move = TagMove.objects.filter(tag=tag).first()
    assert history[0]["id"] == move.pk

    response = api.post(f"/api/tag-moves/{move.pk}/rollback")
    assert response.status_code == 200, response.content
    assert response.json()["tag"] == tag and response.json()["image_id"] == one
    assert tag in tags_of(one) and tag not in tags_of(two)
    rollback = TagMove.objects.filter(tag=tag).first()
    assert (rollback.action, rollback.by.username, rollback.image_id) == ("rollback", "builder", one)
    assert entry("rollback", target=tag).detail == f"to {hex_of(one)[:12]}"


@pytest.fixture
def own_registry():
    """A registry of this test's own: the session's, shared, would then mount
    these layers into the pushes of tests/test_registries.py."""
    registry = live.Registry()
    yield registry
    registry.stop()


@pytest.mark.usefixtures("worker")
def test_it_pushes_a_tag_as_a_job(api, own_registry, base_image):
    tag = f"{own_registry.address}/{dockerlib.unique('apipush')}:1"
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo {tag} > /id\n", tags=[tag])
    response = api.post(f"/api/images/{hex_of(image)}/push", {"tag": tag}, content_type="application/json")
    assert response.status_code == 201, response.content
    job = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert (job.kind, job.state, job.target) == ("push", "succeeded", tag), job.error
    dockerlib.docker("rmi", tag)
    dockerlib.docker("pull", tag)  # the registry has it
    assert dockerlib.image_id(tag) == image
    assert entry("push", target=tag).outcome == "succeeded"


def test_a_push_to_a_registry_not_allowed_is_refused_before_a_job(api, two_images):
    one = two_images["one"]
    response = api.post(f"/api/images/{hex_of(one)}/push", {"tag": "registry.invalid/team/app:1"},
                        content_type="application/json")
    assert response.status_code == 400 and "registry.invalid" in response.json()["error"]
    assert not Job.objects.exists()


def test_a_push_to_an_implied_docker_hub_needs_confirm_registry(owner, base_image):
    """Nothing reaches docker.io: the refused push makes no job, and the
    confirmed one's job is never sent to a worker (this test's transaction
    never commits, and dispatch waits for the commit)."""
    assert connection.in_atomic_block  # so no job made here is ever dispatched
    api = bearer(owner)
    url = f"/api/images/{hex_of(base_image)}/push"
    refused = api.post(url, {"tag": "walk-two:1"}, content_type="application/json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "docker.io/library/walk-two:1" in error and "confirm_registry" in error
    assert not Job.objects.exists()

    confirmed = api.post(url, {"tag": "walk-two:1", "confirm_registry": True}, content_type="application/json")
    assert confirmed.status_code == 201, confirmed.content
    assert Job.objects.get().target == "walk-two:1"


def test_a_push_naming_docker_hub_in_full_needs_no_confirmation(owner, base_image):
    assert connection.in_atomic_block  # so the job is never dispatched
    response = bearer(owner).post(f"/api/images/{hex_of(base_image)}/push", {"tag": "docker.io/library/walk-two:1"},
                                  content_type="application/json")
    assert response.status_code == 201, response.content
    assert Job.objects.get().target == "docker.io/library/walk-two:1"
