"""Adding, removing and moving tags; tag history and rollback."""

import html
import re
import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

from images.engine import get_engine
from images.lifecycle import events, tags
from images.models import TagMove
from tests import dockerlib


@pytest.fixture
def two_images(base_image):
    repo = dockerlib.unique("tags")
    one = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=one-{repo}\n", tags=[f"{repo}:one"])
    two = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=two-{repo}\n", tags=[f"{repo}:two"])
    return {"repo": repo, "one": one, "two": two}


def hex_of(image_id):
    return image_id.split(":", 1)[1]


def tags_of(image_id):
    return set(dockerlib.docker("image", "inspect", "--format", "{{join .RepoTags \" \"}}", image_id).split())


def test_it_adds_a_tag(owner_client, two_images):
    response = owner_client.post(reverse("images-tag", args=[hex_of(two_images["one"])]),
                                 {"repository": two_images["repo"], "tag": "extra"})
    assert response.status_code == 302
    assert tags_of(two_images["one"]) == {f"{two_images['repo']}:one", f"{two_images['repo']}:extra"}
    page = owner_client.get(response["Location"]).content.decode()
    assert f"Tagged {two_images['repo']}:extra." in page
    assert TagMove.objects.get(tag=f"{two_images['repo']}:extra").by.username == "owner"


@pytest.mark.parametrize("repository, tag, reason", [
    ("Upper/Case", "x", "lowercase"),
    ("ok/repo", "-bad", "is not valid"),
    ("ok/repo", "a" * 129, "is not valid"),
    ("bad repo", "x", "spaces"),
    ("ok/repo", "x@sha256", "digest"),
])
def test_it_rejects_bad_tags_and_changes_nothing(owner_client, two_images, repository, tag, reason):
    before = tags_of(two_images["one"])
    response = owner_client.post(reverse("images-tag", args=[hex_of(two_images["one"])]),
                                 {"repository": repository, "tag": tag}, follow=True)
    assert reason in html.unescape(response.content.decode())
    assert tags_of(two_images["one"]) == before


def test_a_tag_typed_in_the_repository_box_is_taken(owner_client, two_images):
    repo, one = two_images["repo"], two_images["one"]
    response = owner_client.post(reverse("images-tag", args=[hex_of(one)]), {"repository": f"{repo}:copy", "tag": ""},
                                 follow=True)
    assert f"Tagged {repo}:copy." in html.unescape(response.content.decode())
    assert tags_of(one) == {f"{repo}:one", f"{repo}:copy"}


def test_the_tag_box_starts_empty_and_says_latest_is_the_default(owner_client, two_images):
    page = owner_client.get(reverse("images-detail", args=[hex_of(two_images["one"])])).content.decode()
    box = re.search(r'<input name="tag"[^>]*>', page).group(0)
    assert "value=" not in box and 'placeholder="latest"' in box


def test_a_tag_in_both_boxes_says_which_box_the_tag_goes_in(owner_client, two_images):
    repo, one = two_images["repo"], two_images["one"]
    response = owner_client.post(reverse("images-tag", args=[hex_of(one)]),
                                 {"repository": f"{repo}:copy", "tag": "latest"}, follow=True)
    page = html.unescape(response.content.decode())
    assert "Not tagged:" in page and "is not valid" not in page
    assert f"'{repo}:copy' names its tag already" in page and "leave the Tag box empty" in page
    assert tags_of(one) == {f"{repo}:one"}


def test_moving_a_tag_shows_the_old_holder_and_needs_confirmation(owner_client, two_images):
    url = reverse("images-tag", args=[hex_of(two_images["two"])])
    response = owner_client.post(url, {"repository": two_images["repo"], "tag": "one"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Move " in page and hex_of(two_images["one"])[:12] in page
    assert tags_of(two_images["one"]) == {f"{two_images['repo']}:one"}  # not moved yet

    owner_client.post(url, {"repository": two_images["repo"], "tag": "one", "move": "True"})
    assert f"{two_images['repo']}:one" in tags_of(two_images["two"])
    move = TagMove.objects.filter(tag=f"{two_images['repo']}:one").first()
    assert move.image_id == two_images["two"]


def test_removing_one_of_two_tags_keeps_the_image(owner_client, two_images):
    repo, one = two_images["repo"], two_images["one"]
    dockerlib.docker("tag", one, f"{repo}:spare")
    url = reverse("images-untag", args=[hex_of(one)])
    confirm = owner_client.get(url, {"tag": f"{repo}:spare"}).content.decode()
    assert "The image stays: it is still tagged" in confirm
    owner_client.post(url, {"tag": f"{repo}:spare", "confirm": "yes"})
    assert tags_of(one) == {f"{repo}:one"}


def test_the_last_tag_of_an_image_in_use_stays(owner_client, two_images):
    repo, one = two_images["repo"], two_images["one"]
    dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", one)
    url = reverse("images-untag", args=[hex_of(one)])
    page = html.unescape(owner_client.get(url, {"tag": f"{repo}:one"}).content.decode())
    assert "last tag and 1 container(s) use the image" in page and "Remove tag" not in page
    owner_client.post(url, {"tag": f"{repo}:one", "confirm": "yes"})
    assert tags_of(one) == {f"{repo}:one"}


def test_removing_the_last_tag_says_the_image_goes(owner_client, two_images):
    repo, two = two_images["repo"], two_images["two"]
    url = reverse("images-untag", args=[hex_of(two)])
    assert "the image" in owner_client.get(url, {"tag": f"{repo}:two"}).content.decode()
    owner_client.post(url, {"tag": f"{repo}:two", "confirm": "yes"})
    # (`docker images -q <id>` filters by repository and prints nothing for any id.)
    assert dockerlib.docker("image", "inspect", two, check=False).strip() == "[]"


def test_a_get_never_removes(owner_client, two_images):
    owner_client.get(reverse("images-untag", args=[hex_of(two_images["two"])]),
                     {"tag": f"{two_images['repo']}:two", "confirm": "yes"})
    assert tags_of(two_images["two"]) == {f"{two_images['repo']}:two"}


@pytest.mark.usefixtures("event_listener")
def test_a_tag_moved_in_a_terminal_shows_in_history_and_rolls_back(builder_client, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    tag = f"{repo}:release"
    dockerlib.docker("tag", one, tag)
    wait_for(lambda: TagMove.objects.filter(tag=tag, image_id=one).exists())
    dockerlib.docker("tag", two, tag)  # moved from the terminal
    wait_for(lambda: TagMove.objects.filter(tag=tag, image_id=two).exists())

    page = builder_client.get(reverse("images-detail", args=[hex_of(two)])).content.decode()
    assert "Tag history" in page and hex_of(one)[:12] in page
    move = TagMove.objects.filter(tag=tag).first()
    assert move.image_id == two and move.previous_image_id == one and move.action == "tag"

    builder_client.post(reverse("tags-rollback", args=[move.pk]), {"confirm": "yes", "from": two})
    assert tag in tags_of(one) and tag not in tags_of(two)
    rollback = TagMove.objects.filter(tag=tag).first()
    assert rollback.action == "rollback" and rollback.by.username == "builder" and rollback.image_id == one


def moved_twice(client, two_images):
    """release on one, then moved to two, through Dockyard: the move to roll back."""
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    client.post(reverse("images-tag", args=[hex_of(one)]), {"repository": repo, "tag": "release"})
    client.post(reverse("images-tag", args=[hex_of(two)]), {"repository": repo, "tag": "release", "move": "True"})
    return TagMove.objects.filter(tag=f"{repo}:release").first()


def test_a_rollback_asks_first_naming_the_tag_and_both_images(owner_client, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    move = moved_twice(owner_client, two_images)
    for ask in (owner_client.get, owner_client.post):  # a POST without confirm=yes only asks too
        response = ask(reverse("tags-rollback", args=[move.pk]))
        assert response.status_code == 200
        page = " ".join(re.sub(r"<[^>]+>", "", html.unescape(response.content.decode())).split())
        assert f"Move tag {repo}:release from {hex_of(two)[:12]} to {hex_of(one)[:12]}?" in page
        assert f"{repo}:release" in tags_of(two)  # not moved yet
    assert TagMove.objects.filter(tag=f"{repo}:release").count() == 2

    response = owner_client.post(reverse("tags-rollback", args=[move.pk]), {"confirm": "yes", "from": two},
                                 follow=True)
    assert f"{repo}:release points at {hex_of(one)[:12]} again." in html.unescape(response.content.decode())
    assert f"{repo}:release" in tags_of(one)


def test_a_second_confirmation_of_the_same_rollback_moves_nothing(owner_client, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    move = moved_twice(owner_client, two_images)
    url = reverse("tags-rollback", args=[move.pk])
    owner_client.post(url, {"confirm": "yes", "from": two})
    again = owner_client.post(url, {"confirm": "yes", "from": two}, follow=True)  # a double click
    assert f"{repo}:release already points at {hex_of(one)[:12]}" in html.unescape(again.content.decode())
    assert f"{repo}:release" in tags_of(one)
    assert TagMove.objects.filter(tag=f"{repo}:release").count() == 3


def test_a_rollback_confirmed_after_the_tag_moved_elsewhere_is_refused(owner_client, two_images):
    repo, one, two = two_images["repo"], two_images["one"], two_images["two"]
    move = moved_twice(owner_client, two_images)
    third = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=three-{repo}\n")
    dockerlib.docker("tag", third, f"{repo}:release")  # moved while the confirmation was open
    response = owner_client.post(reverse("tags-rollback", args=[move.pk]), {"confirm": "yes", "from": two},
                                 follow=True)
    assert "was moved meanwhile" in html.unescape(response.content.decode())
    assert f"{repo}:release" in tags_of(third)


def test_a_get_never_rolls_back(owner_client, two_images):
    repo, two = two_images["repo"], two_images["two"]
    move = moved_twice(owner_client, two_images)
    owner_client.get(reverse("tags-rollback", args=[move.pk]), {"confirm": "yes", "from": two})
    assert f"{repo}:release" in tags_of(two)


def wait_for(check, timeout=10):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_move_heard_by_several_at_once_is_recorded_once(transactional_db):
    """Dockyard records its own tag and then hears the engine's event for it, and
    a restarted listener can overlap the old one: every caller that reports the
    same move at the same moment leaves one row, and a real move after it still
    counts. Eight threads report each move together, released by one barrier."""
    callers, names = 8, [f"{dockerlib.unique('heard')}:{n}" for n in range(6)]
    barrier = threading.Barrier(callers)
    errors = []

    def report(image_id):
        try:
            for tag in names:
                barrier.wait(timeout=30)
                TagMove.record(tag, image_id, "tag")
        except Exception as error:  # the assertion below names it
            errors.append(error)
        finally:
            connection.close()

    for image_id in ("sha256:" + "a" * 64, "sha256:" + "b" * 64):
        threads = [threading.Thread(target=report, args=(image_id,)) for _ in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert errors == []
    for tag in names:
        moves = list(TagMove.objects.filter(tag=tag).order_by("pk").values_list("image_id", "previous_image_id"))
        assert moves == [("sha256:" + "a" * 64, ""), ("sha256:" + "b" * 64, "sha256:" + "a" * 64)], tag


def test_an_older_event_heard_while_dockyard_moves_the_tag_moves_nothing_back(builder, two_images, monkeypatch):
    """The event listener is late with the event of the tag's first move, and
    takes its turn at the worst moment: Dockyard has recorded the move to `two`
    and the engine still points the tag at `one`. That moment lasts
    milliseconds and no real listener can be made to hit it on purpose, so the
    engine's tag call is wrapped to give the listener its turn there (for up to
    a second) first. The history must stay one -> two, both by the builder."""
    engine = get_engine()
    release = f"{two_images['repo']}:release"
    tags.add_tag(engine, two_images["one"], release, builder)
    late_event = {"Action": "tag", "Actor": {"Attributes": {"name": release}}}

    def listener_turn():
        try:
            events.record_event(engine, late_event)
        finally:
            connection.close()

    listener = threading.Thread(target=listener_turn)
    tag_image = engine.tag_image

    def tag_image_after_the_listener_looked(*args, **kwargs):
        listener.start()
        listener.join(timeout=1)  # with the tag locked, it waits for the tag instead
        return tag_image(*args, **kwargs)

    monkeypatch.setattr(engine, "tag_image", tag_image_after_the_listener_looked)
    tags.add_tag(engine, two_images["two"], release, builder, allow_move=True)
    listener.join(timeout=30)
    assert not listener.is_alive()
    moves = TagMove.objects.filter(tag=release).order_by("pk")
    assert [(move.image_id, move.previous_image_id, move.by_id) for move in moves] == [
        (two_images["one"], "", builder.pk), (two_images["two"], two_images["one"], builder.pk)]
