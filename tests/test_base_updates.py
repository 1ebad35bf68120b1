"""Base updates and rebuilding what is built on a base (images/bases/), against
the real engine, a real worker and a registry of the tests' own on loopback:
a base pushed, an image built on it through Dockyard, a new base pushed under
the same tag, the periodic check (its task called directly) marking the image
"base updated", and "Rebuild dependents" building it again on the new base."""

import json
import time
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from images import tasks
from images.bases import checks
from images.models import AuditEntry, BaseReference, BaseUpdate, Job, Provenance, RebuildBatch
from tests import dockerlib
from tests.apiclient import bearer
from tests.conftest import log_in
from tests.live import start_build, wait_for_job
from tests.provenance_schemas import validate_statement
from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report


def layers(reference):
    return json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", reference))


def push_base(repository, marker):
    """Build `repository:1` with a file of its own (`/<marker>`), push it; its id and registry digest."""
    reference = f"{repository}:1"
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nCOPY {marker} /{marker}\n", tags=[reference],
                    context_files={marker: uuid.uuid4().hex})
    dockerlib.docker("push", reference)
    digest = dockerlib.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", reference).strip()
    return {"id": dockerlib.image_id(reference), "digest": digest.split("@", 1)[1], "reference": reference}


def build(client, dockerfile, tag, builder="classic"):
    job = wait_for_job(start_build(client, f"{dockerfile}LABEL {dockerlib.TEST_LABEL}=1\n", tags=tag,
                                   builder=builder), timeout=180)
    assert job.state == "succeeded", job.error
    return job


def wait_for_batch(pk, timeout=240):
    deadline = time.monotonic() + timeout
    while True:
        batch = RebuildBatch.objects.get(pk=pk)
        if batch.state != RebuildBatch.State.RUNNING:
            return batch
        assert time.monotonic() < deadline, f"batch {pk} still running after {timeout} s"
        time.sleep(0.3)


def hex_of(image_id):
    return image_id.split(":", 1)[1]


@pytest.mark.browser
@pytest.mark.usefixtures("worker")
def test_a_moved_base_marks_its_dependent_and_rebuilding_puts_it_on_the_new_base(
        builder, builder_client, open_registry, browser, server):
    repository = f"{open_registry.address}/{dockerlib.unique('bu-base')}"
    old = push_base(repository, "one")
    app = dockerlib.unique("bu-app") + ":1"
    built = build(builder_client, f"FROM {old['reference']}\n", app)

    tasks.check_bases()
    assert BaseReference.objects.get(reference=old["reference"]).registry_digest == old["digest"]
    assert not BaseUpdate.objects.exists()

    new = push_base(repository, "two")
    # The engine's name back on the old image: only the registry's digest says the base moved.
    dockerlib.docker("tag", old["id"], old["reference"])
    tasks.check_bases()

    api = bearer(builder)
    listed = api.get("/api/images", {"state": "base-updated"}).json()["images"]
    assert [(row["id"], row["base_updated"]) for row in listed] == [(built.image_id, True)]
    status = api.get(f"/api/images/{hex_of(built.image_id)}/bases").json()
    assert status["base_updated"] is True
    [update] = status["base_updates"]
    assert (update["reference"], update["old_digest"], update["new_digest"]) == (
        old["reference"], old["digest"], new["digest"])
    assert update["old_image_id"] == old["id"] and update["new_image_id"] == ""
    page = builder_client.get(reverse("images-list"), {"state": "base-updated"}).content.decode()
    assert f'{app.rsplit(":", 1)[0]}</a>' in page and 'class="badge base-updated"' in page
    page = builder_client.get(reverse("images-detail", args=[hex_of(built.image_id)])).content.decode()
    assert "Base updated:" in page and f'<code class="new-digest">{new["digest"]}</code>' in page
    base_page = builder_client.get(reverse("images-detail", args=[hex_of(old["id"])])).content.decode()
    assert 'class="dependents-graph"' in base_page and f">{app}</a>" in base_page

    response = builder_client.post(reverse("images-rebuild-dependents", args=[hex_of(old["id"])]),
                                   {"name": old["reference"]})
    assert response.status_code == 302
    batch = RebuildBatch.objects.get()
    assert response["Location"] == reverse("batches-detail", args=[batch.pk])
    batch = wait_for_batch(batch.pk)
    [item] = batch.items.select_related("job")
    assert (batch.state, item.state, item.pull) == ("succeeded", "succeeded", True), item.reason
    rebuilt = item.job
    assert rebuilt.retry_of_id == built.pk
    # The new image stands on the new base's layers, which are not the old one's.
    assert layers(rebuilt.image_id)[:len(layers(new["id"]))] == layers(new["id"])
    assert layers(rebuilt.image_id)[:len(layers(old["id"]))] != layers(old["id"])

    [base] = Provenance.objects.get(job=rebuilt).bases
    assert (base["image_id"], base["repo_digest"]) == (new["id"], new["digest"])
    assert base["previous"] == {"image_id": old["id"], "repo_digest": old["digest"]}
    statement = api.get(f"/api/images/{hex_of(rebuilt.image_id)}/provenance").json()
    validate_statement(statement)
    [dependency] = [found for found in statement["predicate"]["buildDefinition"]["resolvedDependencies"]
                    if found.get("name") == old["reference"]]
    assert dependency["digest"] == {"sha256": hex_of(new["digest"])}
    assert dependency["annotations"]["previousDigest"] == old["digest"]
    assert statement["predicate"]["buildDefinition"]["internalParameters"]["rebuildOf"] == built.pk

    # The next check: the rebuilt image is current; the image it replaced is no current recipe any more.
    tasks.check_bases()
    assert api.get(f"/api/images/{hex_of(rebuilt.image_id)}/bases").json()["base_updated"] is False
    assert not BaseUpdate.objects.filter(image_id=rebuilt.image_id).exists()

    # What a person sees: the batch page, the image page with its chain; no serious accessibility issue.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    log_in(tab, "builder")
    found = []
    for url, ready in ((reverse("batches-detail", args=[batch.pk]), "tr.batch-item"),
                       (reverse("images-detail", args=[hex_of(new["id"])]), "svg.dependents-graph"),
                       (reverse("images-detail", args=[hex_of(rebuilt.image_id)]), "ol.built-on li")):
        tab.goto(url)
        expect(tab.locator(ready).first).to_be_visible()
        found += [(url, violation) for violation in axe_violations(tab) if violation["impact"] in FAILING_IMPACTS]
    # A long base reference wraps in the provenance's narrow column instead of running under the digests.
    assert tab.eval_on_selector_all("#image-provenance dt", "dts => dts.filter(dt => dt.scrollWidth > dt.clientWidth)"
                                    ".map(dt => dt.textContent)") == []
    context.close()
    assert found == [], report(found)


@pytest.mark.usefixtures("worker")
def test_a_chain_rebuilds_in_order_and_a_failure_skips_only_what_is_built_on_it(
        builder, builder_client, open_registry):
    repository = f"{open_registry.address}/{dockerlib.unique('bu-chain')}"
    old = push_base(repository, "v1-only")
    names = {name: dockerlib.unique(f"bu-{name}") + ":1" for name in ("mid", "mid-bad", "app", "app-bad")}
    build(builder_client, f"FROM {old['reference']}\n", names["mid"])
    # Needs a file only the old base has: its rebuild on the new base fails.
    build(builder_client, f"FROM {old['reference']}\nRUN test -f /v1-only\n", names["mid-bad"])
    build(builder_client, f"FROM {names['mid']}\n", names["app"])
    build(builder_client, f"FROM {names['mid-bad']}\n", names["app-bad"])
    new = push_base(repository, "v2")

    api = bearer(builder)
    dependents = api.get(f"/api/images/{hex_of(old['id'])}/bases").json()["dependents"]
    assert [(found["name"], found["level"]) for found in dependents] == sorted(
        [(names["mid"], 1), (names["mid-bad"], 1), (names["app"], 2), (names["app-bad"], 2)],
        key=lambda pair: (pair[1], pair[0]))
    response = api.post(f"/api/images/{hex_of(old['id'])}/rebuild-dependents", {"name": old["reference"]},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    batch = wait_for_batch(response.json()["id"])
    answer = api.get(f"/api/batches/{batch.pk}").json()
    items = {item["name"]: item for item in answer["items"]}
    assert answer["state"] == "failed"
    assert [item["name"] for item in answer["items"]][:2] == sorted([names["mid"], names["mid-bad"]])
    assert {name: items[names[name]]["state"] for name in names} == {
        "mid": "succeeded", "mid-bad": "failed", "app": "succeeded", "app-bad": "skipped"}
    assert "returned a non-zero code" in items[names["mid-bad"]]["reason"]
    assert items[names["app-bad"]]["reason"] == f"Skipped: it is built on {names['mid-bad']}, whose rebuild failed."
    assert items[names["app-bad"]]["job"] is None

    mid_job, app_job = (Job.objects.get(pk=items[names[name]]["job"]) for name in ("mid", "app"))
    assert app_job.queued_at >= mid_job.finished_at  # built after what it is built on, not beside it
    assert (items[names["mid"]]["pull"], items[names["app"]]["pull"]) == (True, False)
    assert layers(mid_job.image_id)[:len(layers(new["id"]))] == layers(new["id"])
    assert layers(app_job.image_id)[:len(layers(mid_job.image_id))] == layers(mid_job.image_id)
    page = builder_client.get(reverse("batches-detail", args=[batch.pk])).content.decode()
    assert f"Skipped: it is built on {names['mid-bad']}, whose rebuild failed." in page
    assert [row["id"] for row in api.get("/api/batches").json()] == [batch.pk]


@pytest.mark.usefixtures("worker")
def test_a_buildkit_rebuild_records_the_base_it_fetched_not_the_stale_local_tag(builder, builder_client, open_registry):
    """BuildKit pulls a base into its own store, so the engine's name for it still gives the old image: the
    rebuild's provenance takes the digest BuildKit says it fetched, and the next check finds it current."""
    repository = f"{open_registry.address}/{dockerlib.unique('bu-bk')}"
    old = push_base(repository, "one")
    built = build(builder_client, f"FROM {old['reference']}\n", dockerlib.unique("bu-bk-app") + ":1", "buildkit")
    new = push_base(repository, "two")
    dockerlib.docker("tag", old["id"], old["reference"])
    tasks.check_bases()
    api = bearer(builder)
    assert api.get(f"/api/images/{hex_of(built.image_id)}/bases").json()["base_updated"] is True

    response = api.post(f"/api/images/{hex_of(old['id'])}/rebuild-dependents", {"name": old["reference"]},
                        content_type="application/json")
    assert response.status_code == 201, response.content
    [item] = wait_for_batch(response.json()["id"]).items.select_related("job")
    assert item.state == "succeeded", item.reason
    assert layers(item.job.image_id)[:len(layers(new["id"]))] == layers(new["id"])
    [base] = Provenance.objects.get(job=item.job).bases
    assert base["repo_digest"] == new["digest"] and base["image_id"] == ""
    assert base["previous"] == {"image_id": old["id"], "repo_digest": old["digest"]}
    page = builder_client.get(reverse("images-detail", args=[hex_of(item.job.image_id)])).content.decode()
    assert f"→ <code>{new['digest']}</code>" in page and "unresolved" not in page
    tasks.check_bases()
    assert api.get(f"/api/images/{hex_of(item.job.image_id)}/bases").json()["base_updated"] is False


@pytest.mark.usefixtures("worker")
def test_a_batch_is_named_after_its_base_as_recorded_not_as_the_caller_says(builder, builder_client, open_registry):
    old = push_base(f"{open_registry.address}/{dockerlib.unique('bu-name')}", "one")
    build(builder_client, f"FROM {old['reference']}\n", dockerlib.unique("bu-name-app") + ":1")
    response = bearer(builder).post(f"/api/images/{hex_of(old['id'])}/rebuild-dependents",
                                    {"name": "registry.example.com/someone-else:1"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["base_name"] == old["reference"]
    assert AuditEntry.objects.filter(action="rebuild-dependents").get().target == old["reference"]
    wait_for_batch(response.json()["id"])


@pytest.mark.unaudited("the build and its provenance are rows, as the worker records them")
def test_the_check_asks_no_registry_that_pulls_may_not_use(db, engine):
    """A base from a registry outside DOCKYARD_REGISTRY_HOSTS is not asked about, and says why."""
    job = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, target="t", output_limit=1,
                             image_id="sha256:" + "1" * 64, params={"tags": ["elsewhere-app:1"]},
                             finished_at=timezone.now())
    reference = "registry.example.invalid/team/base:1"
    Provenance.objects.create(job=job, builder="classic", bases=[
        {"instruction": "FROM", "line": 1, "reference": reference, "image_id": "sha256:" + "2" * 64,
         "repo_digest": "sha256:" + "3" * 64, "resolved": "when the build started"}])
    assert checks.check_engine(engine) == []
    checked = BaseReference.objects.get(reference=reference)
    assert checked.registry_digest == "" and "may not use the registry registry.example.invalid" in checked.error


def test_rebuilding_the_dependents_of_an_image_nothing_is_built_on_is_refused(builder, base_image):
    response = bearer(builder).post(f"/api/images/{hex_of(base_image)}/rebuild-dependents")
    assert response.status_code == 409
    assert "nothing to rebuild" in response.json()["error"]
    assert not RebuildBatch.objects.exists()


@pytest.mark.usefixtures("worker")
def test_a_recipe_set_to_rebuild_by_itself_is_rebuilt_when_its_base_moves(builder, builder_client):
    """Off by default; set through the API or the image's page, the check that sees its base move starts a
    batch of only the recipes so set, as Dockyard's own doing."""
    base = dockerlib.unique("bu-auto-base") + ":1"
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nCOPY one /one\n", tags=[base], context_files={"one": "1"})
    old_base = dockerlib.image_id(base)
    on, off = (build(builder_client, f"FROM {base}\nENV WHICH={name}\n", dockerlib.unique(f"bu-{name}") + ":1")
               for name in ("auto", "manual"))
    api = bearer(builder)
    assert api.get(f"/api/images/{hex_of(on.image_id)}/bases").json()["rebuilds_by_itself"] is False
    response = api.put(f"/api/images/{hex_of(on.image_id)}/rebuild-by-itself", {"enabled": True},
                       content_type="application/json")
    assert response.json() == {"rebuilds_by_itself": True, "recipe_job": on.pk}
    page = builder_client.get(reverse("images-detail", args=[hex_of(on.image_id)])).content.decode()
    assert "Rebuilt by itself when its base moves." in page
    toggle = reverse("images-rebuild-by-itself", args=[hex_of(off.image_id)])
    assert builder_client.post(toggle, {"enabled": "on"}).status_code == 302
    assert api.get(f"/api/images/{hex_of(off.image_id)}/bases").json()["rebuilds_by_itself"] is True
    builder_client.post(toggle, {"enabled": "off"})
    assert api.get(f"/api/images/{hex_of(off.image_id)}/bases").json()["rebuilds_by_itself"] is False
    assert api.put(f"/api/images/{hex_of(old_base)}/rebuild-by-itself", {"enabled": True},
                   content_type="application/json").status_code == 409

    tasks.check_bases()
    assert not RebuildBatch.objects.exists()
    # The base's tag moves to another image on the engine.
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nCOPY two /two\n", tags=[base], context_files={"two": "2"})
    tasks.check_bases()

    batch = wait_for_batch(RebuildBatch.objects.get().pk)
    [item] = batch.items.select_related("job")
    assert (batch.state, item.old_image_id, batch.created_by) == ("succeeded", on.image_id, builder)
    assert item.job.params["rebuild_when_base_moves"] is True  # the rebuilt recipe keeps the choice
    assert layers(item.job.image_id)[:len(layers(base))] == layers(base)
    assert AuditEntry.objects.filter(action="rebuild-dependents", via="auto", actor_name="builder").count() == 1
    assert not Job.objects.filter(retry_of=off).exists()


@pytest.mark.usefixtures("worker", "event_listener")
def test_a_base_tag_moved_on_the_engine_marks_its_dependents_without_waiting_for_the_check(
        builder, builder_client, base_image):
    base = dockerlib.unique("bu-ev-base") + ":1"
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nCOPY one /one\n", tags=[base], context_files={"one": "1"})
    old_base = dockerlib.image_id(base)
    app = build(builder_client, f"FROM {base}\n", dockerlib.unique("bu-ev-app") + ":1")
    api = bearer(builder)

    dockerlib.docker("tag", base_image, base)  # the listener hears the tag event; no check runs
    deadline = time.monotonic() + 30
    while not (status := api.get(f"/api/images/{hex_of(app.image_id)}/bases").json())["base_updated"]:
        assert time.monotonic() < deadline, "the tag's move was not noticed"
        time.sleep(0.3)
    [update] = status["base_updates"]
    assert (update["reference"], update["old_image_id"], update["new_image_id"]) == (base, old_base, base_image)
    assert BaseReference.objects.get(reference=base).image_id == base_image
    # The periodic check agrees, and does not call it a move a second time.
    tasks.check_bases()
    assert [mark.new_image_id for mark in BaseUpdate.objects.filter(image_id=app.image_id)] == [base_image]


@pytest.mark.browser
@pytest.mark.usefixtures("worker")
def test_a_repository_page_draws_what_its_recent_images_are_built_on(builder_client, browser, server):
    repository = dockerlib.unique("bu-repo")
    first = build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\n", f"{repository}:1")
    second = build(builder_client, f"FROM {repository}:1\nENV SECOND=1\n", f"{repository}:2")
    page = builder_client.get(reverse("repository-trends", args=[repository])).content.decode()
    graph = page[page.index('<svg class="dependents-graph repository-graph"'):page.index("</svg>")]
    assert graph.count("<line ") == 2
    for image_id in (first.image_id, second.image_id):
        assert f'href="{reverse("images-detail", args=[hex_of(image_id)])}"' in graph

    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    log_in(tab, "builder")
    tab.goto(reverse("repository-trends", args=[repository]))
    expect(tab.locator("svg.repository-graph rect")).to_have_count(3)
    found = [violation for violation in axe_violations(tab) if violation["impact"] in FAILING_IMPACTS]
    context.close()
    assert found == [], report([(repository, violation) for violation in found])
