"""The build cache through the API, with tokens, on the real engine: the list
(builders and admins), the prune (admins), refusals that change nothing.

On the shared engine a test prunes only its own records, by id: other people's
build cache is on it too. Prunes by age or size run on the tests' own engine."""

import pytest

from images.accounts import roles
from images.models import AuditEntry
from tests import buildcache
from tests.apiclient import bearer, entry
from tests.conftest import make_user


@pytest.fixture
def made(base_image):
    made = buildcache.build_with_cache_mount()
    yield made
    buildcache.remove(made)


def test_a_builder_lists_the_cache_with_the_mount_named(db, made):
    api = bearer(make_user("builder", roles.BUILDER))
    response = api.get("/api/build-cache")
    assert response.status_code == 200, response.content
    listed = response.json()
    by_id = {record["id"]: record for record in listed["records"]}
    mount = by_id[made["mount"]["ID"]]
    assert (mount["type"], mount["type_name"], mount["mount_target"]) == ("exec.cachemount", "cache mount",
                                                                           made["target"])
    assert mount["size"] == made["mount"]["Size"] >= buildcache.MOUNT_BYTES
    assert mount["description"] == made["mount"]["Description"] and not mount["shared"]
    layer = by_id[made["layer"]["ID"]]
    assert (layer["type"], layer["shared"], layer["mount_target"]) == ("regular", True, "")
    assert listed["total"] == sum(record["size"] for record in listed["records"])
    assert sum(total["count"] for total in listed["by_type"]) == len(listed["records"])
    sizes = [record["size"] for record in listed["records"]]
    assert sizes == sorted(sizes, reverse=True)
    found = api.get("/api/build-cache", {"q": made["marker"]}).json()
    assert [record["id"] for record in found["records"]] == [made["mount"]["ID"], made["layer"]["ID"]]
    # The totals are the whole cache's, whatever the filter: the build's context record at least is more.
    assert found["total"] > sum(record["size"] for record in found["records"])
    mounts = api.get("/api/build-cache", {"type": "exec.cachemount"})
    assert {record["type"] for record in mounts.json()["records"]} == {"exec.cachemount"}


def test_a_viewer_may_not_list_and_a_builder_may_not_prune(db, made):
    viewer = bearer(make_user("viewer", roles.VIEWER))
    response = viewer.get("/api/build-cache")
    assert response.status_code == 403 and "needs the builder role" in response.json()["error"]
    builder = bearer(make_user("builder", roles.BUILDER))
    for body in ({"record": made["mount"]["ID"]}, {"all": True}):
        response = builder.post("/api/build-cache/prune", body, content_type="application/json")
        assert response.status_code == 403 and "needs the admin role" in response.json()["error"]
    assert made["mount"]["ID"] in buildcache.engine_records()
    assert set(AuditEntry.objects.filter(outcome="denied").values_list("via", flat=True)) == {"token"}
    assert not AuditEntry.objects.filter(action="prune-build-cache").exists()


def test_an_admin_prunes_one_record_and_gets_its_id_and_bytes(owner, made):
    api = bearer(owner)
    response = api.post("/api/build-cache/prune", {"record": made["mount"]["ID"]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"deleted": [made["mount"]["ID"]], "reclaimed": made["mount"]["Size"]}
    assert made["mount"]["ID"] not in buildcache.engine_records()
    assert entry("prune-build-cache").target == f"build-cache record {made['mount']['ID']}"
    # As a page's form sends it, too.
    form = api.post("/api/build-cache/prune", {"record": made["layer"]["ID"]})
    assert form.json()["deleted"] == [made["layer"]["ID"]]
    assert made["layer"]["ID"] not in buildcache.engine_records()


def test_an_admin_prunes_by_age_and_size_and_young_records_stay(owner, settings, second_engine):
    settings.DOCKYARD_ENGINES = {**settings.DOCKYARD_ENGINES, "b": second_engine.address}
    made = buildcache.build_with_cache_mount("b")  # on the tests' own engine: all its cache is theirs
    api = bearer(owner)
    response = api.post("/e/b/api/build-cache/prune", {"until": "7d", "all": True}, content_type="application/json")
    assert response.status_code == 200
    assert made["mount"]["ID"] not in response.json()["deleted"]
    response = api.post("/e/b/api/build-cache/prune", {"keep_storage": "1PiB", "all": True},
                        content_type="application/json")
    assert response.json() == {"deleted": [], "reclaimed": 0}
    records = buildcache.engine_records("b")
    assert made["mount"]["ID"] in records and made["layer"]["ID"] in records
    assert [e.target for e in AuditEntry.objects.filter(action="prune-build-cache").order_by("pk")] == [
        "all build cache, unused for 7d", f"all build cache, keeping {1024 ** 5} bytes"]
    buildcache.remove(made)


@pytest.mark.parametrize("body, reason", [
    ({"keep_storage": "lots"}, "is not a size"),
    ({"keep_storage": "-5GB"}, "is not a size"),
    ({"until": "forever"}, "is not an age"),
    ({"until": "0s"}, "more than zero"),
    ({"record": "x|.*"}, "letters and digits"),
])
def test_hostile_fields_answer_400_and_change_nothing(owner, made, body, reason):
    response = bearer(owner).post("/api/build-cache/prune", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("Nothing pruned: ") and reason in response.json()["error"]
    records = buildcache.engine_records()
    assert made["mount"]["ID"] in records and made["layer"]["ID"] in records
    assert not AuditEntry.objects.filter(action="prune-build-cache").exists()


def test_a_field_of_the_wrong_type_is_refused_by_the_schema(owner, made):
    response = bearer(owner).post("/api/build-cache/prune", {"keep_storage": {"$gt": 1}, "all": "sure"},
                                  content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"keep_storage", "all"}
    assert made["mount"]["ID"] in buildcache.engine_records()
