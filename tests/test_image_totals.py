"""The image list's totals against the engine's own figures: the dangling count
is `docker images -f dangling=true`, the bytes on disk `docker system df`'s
(shared layers counted once), on an engine that also holds other people's
images, which other test runs add and remove meanwhile."""

import html
import re
import time
import uuid

import pytest
from django.urls import reverse

from images.monitoring.metrics import ENGINE_CALL_SECONDS
from images.sizes import human_size
from tests import dockerlib
from tests.apiclient import bearer


@pytest.fixture(scope="module")
def shelf(base_image, open_registry):
    """Two tagged images sharing a 400 kB layer, a dangling image on top of it,
    and an image known only by its registry digest (dangling to the engine)."""
    run = uuid.uuid4().hex[:8]
    repo = f"{dockerlib.PREFIX}/totals-{run}"
    shared = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/shared bs=1024 count=400\n"
    one = dockerlib.build(shared + f"LABEL which=one-{run}\n", tags=[f"{repo}:one"])
    two = dockerlib.build(shared + f"LABEL which=two-{run}\n", tags=[f"{repo}:two", f"{repo}:also"])
    dangling = dockerlib.build(shared + f"RUN dd if=/dev/zero of=/own bs=1024 count=100\nLABEL which=d-{run}\n")
    pushed = f"{open_registry.address}/totals-{run}:v1"
    by_digest = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=digest-{run}\n", tags=[pushed])
    dockerlib.docker("push", "-q", pushed)
    digest = dockerlib.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", pushed).strip()
    dockerlib.docker("rmi", pushed)
    dockerlib.docker("pull", "-q", digest)
    return {"one": one, "two": two, "dangling": dangling, "by_digest": by_digest}


def counted(read, fresh):
    """`read()` once the bytes on disk it shows count the images it lists: the
    list never waits for that count, which runs beside it."""
    for _ in range(120):
        answer = read()
        if fresh(answer):
            return answer
        time.sleep(0.5)
    raise AssertionError("The bytes on disk were not counted within a minute")


def api_list(api):
    return counted(lambda: api.get("/api/images").json(), lambda answer: answer["totals"]["size_fresh"])


def test_the_api_totals_are_the_engines(owner, shelf):
    api = bearer(owner)
    answer, engine = dockerlib.beside_the_engine(lambda: api_list(api),
                                       lambda answer: {row["id"] for row in answer["images"]})
    dangling_rows = {row["id"] for row in answer["images"] if row["dangling"]}
    assert {shelf["dangling"], shelf["by_digest"]} <= dangling_rows
    assert dangling_rows & engine["steady"] == engine["dangling"] & engine["steady"]
    assert answer["totals"]["dangling"] == len(dangling_rows)
    assert answer["totals"]["size"] == engine["layers_size"]
    assert answer["totals"]["images"] == len(engine["ids"])


def test_the_list_page_shows_the_engines_totals(owner_client, shelf):
    def read():
        return counted(lambda: owner_client.get(reverse("images-list")),
                       lambda response: response.context["totals"].size_fresh)

    response, engine = dockerlib.beside_the_engine(read, lambda response: {
        row.image_id for row in response.context["page"].paginator.object_list})
    page = html.unescape(response.content.decode())
    totals = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.split('id="image-totals"', 1)[1].split("</p>", 1)[0]))
    dangling = {row.image_id for row in response.context["page"].paginator.object_list if row.dangling}
    assert dangling & engine["steady"] == engine["dangling"] & engine["steady"]
    assert {shelf["dangling"], shelf["by_digest"]} <= dangling
    assert f"{len(engine['ids'])} images" in totals
    assert f"{len(dangling)} dangling" in totals
    assert f"{human_size(engine['layers_size'])} on disk, shared layers counted once" in totals


def test_the_dangling_filter_lists_what_the_engine_calls_dangling(owner, shelf):
    found = {row["id"] for row in bearer(owner).get("/api/images", {"state": "dangling"}).json()["images"]}
    assert {shelf["dangling"], shelf["by_digest"]} <= found
    assert not {shelf["one"], shelf["two"]} & found


def test_the_bytes_on_disk_summed_from_each_images_layers_are_the_engines(owner, shelf, monkeypatch):
    """Every image's layers asked (a first view asks about a few and reads the df
    for the rest): the sum of the layers, each once, is the df's figure, and the
    df was not asked."""
    from images.catalog import usage
    from images.engine import get_engine

    engine = get_engine()
    monkeypatch.setattr(usage, "ASK_AT_MOST", None)
    asked_df, disk_usage = [], engine.disk_usage
    monkeypatch.setattr(engine, "disk_usage", lambda: asked_df.append(1) or disk_usage())
    api = bearer(owner)
    answer, snapshot = dockerlib.beside_the_engine(lambda: api_list(api),
                                                   lambda answer: {row["id"] for row in answer["images"]})
    assert answer["totals"]["size"] == snapshot["layers_size"]
    assert not asked_df


def engine_calls():
    """{call: how many this process has made to the default engine} (its metrics' count)."""
    from images.engine import get_engine

    name = get_engine().name
    return {sample.labels["call"]: sample.value for metric in ENGINE_CALL_SECONDS.collect()
            for sample in metric.samples if sample.name.endswith("_count") and sample.labels["engine"] == name}


def test_a_list_after_a_new_image_does_not_wait_for_the_bytes_on_disk(owner_client, base_image):
    """The view after a build shows the last count, says it is stale, and asks
    the engine for its lists only; the count runs beside it (held back here, so
    that the calls counted are the view's own) and the next views show it."""
    from django.core.cache import cache

    from images.engine import get_engine

    owner_client.get(reverse("images-list"))
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=churn-{uuid.uuid4().hex}\n")
    claim = f"layers-size-counting:{get_engine().name}"
    for _ in range(120):  # a count started before the build is let finish
        if cache.add(claim, 1, 60):
            break
        time.sleep(0.5)
    try:
        before = engine_calls()
        response = owner_client.get(reverse("images-list"))
        asked = {call: count - before.get(call, 0) for call, count in engine_calls().items()
                 if count != before.get(call, 0)}
    finally:
        cache.delete(claim)
    assert not {"disk_usage", "inspect_image", "image_history"} & set(asked), asked
    totals = html.unescape(response.content.decode()).split('id="image-totals"', 1)[1].split("</p>", 1)[0]
    assert "updating…" in totals or "counting…" in totals
    later = counted(lambda: owner_client.get(reverse("images-list")),
                    lambda response: response.context["totals"].size_fresh)
    assert "updating…" not in later.content.decode()
