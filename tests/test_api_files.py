"""The API's image files, driven with bearer tokens as a CI script would: start
an index, read a directory after a layer, search, wasted space, the diff."""

import pytest
from django.test import Client

from images.accounts import roles
from images.models import ApiToken
from tests import dockerlib
from tests.live import wait_for_job

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def api(builder):
    _, token = ApiToken.issue(builder, "ci")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", enforce_csrf_checks=True)


@pytest.fixture(scope="module")
def images(base_image):
    repo = dockerlib.unique("apifiles")
    first = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN mkdir -p /opt/app && echo 1 > /opt/app/v\n",
                            tags=[f"{repo}:1"])
    second = dockerlib.build(f"FROM {repo}:1\nRUN echo 22 > /opt/app/v && rm -rf /tmp\n", tags=[f"{repo}:2"])
    return {"repo": repo, "first": first, "second": second, "hex": second.split(":")[1]}


def index(api, image_id):
    response = api.post(f"/api/images/{image_id.split(':')[1]}/index")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["kind"] == "index"
    from images.models import Job

    finished = wait_for_job(Job.objects.get(pk=job["id"]))
    assert finished.state == "succeeded", finished.error
    return job


def test_it_indexes_and_reads_one_directory_after_each_layer(api, images):
    tag = images["hex"]  # an image's actions take its id, as the pages' addresses do
    assert api.get(f"/api/images/{tag}/files").status_code == 404  # not indexed yet
    index(api, images["second"])
    top = api.get(f"/api/images/{tag}/files", {"path": "/opt/app"}).json()
    assert top["layer"] == 3 and [layer["number"] for layer in top["layers"]] == [1, 2, 3]
    assert top["layers"][2]["instruction"].startswith("RUN echo 22")
    assert [(entry["name"], entry["mark"], entry["size"], entry["kind"], entry["from_layer"])
            for entry in top["entries"]] == [("v", "modified", 3, "file", 3)]
    second = api.get(f"/api/images/{tag}/files", {"layer": 2, "path": "/opt/app"}).json()
    assert [(entry["name"], entry["mark"], entry["size"]) for entry in second["entries"]] == [("v", "added", 2)]
    root = api.get(f"/api/images/{tag}/files", {"layer": 3, "changed": "1"}).json()
    assert {entry["name"]: entry["mark"] for entry in root["entries"]} == {"opt": "unchanged", "tmp": "removed"}
    assert api.get(f"/api/images/{tag}/files", {"layer": 9}).status_code == 404
    assert api.get(f"/api/images/{tag}/files", {"path": "/no/such"}).status_code == 404
    assert api.get(f"/api/images/{tag}/files", {"offset": "x"}).status_code == 400
    assert api.get(f"/api/images/{images['repo']}:2/files").status_code == 404  # a reference is not an id

    hits = api.get(f"/api/images/{tag}/files/search", {"q": "app/v"}).json()["hits"]
    assert hits == [{"path": "/opt/app/v", "is_dir": False, "present": True,
                     "changes": [{"layer": 2, "change": "added"}, {"layer": 3, "change": "modified"}]}]
    waste = api.get(f"/api/images/{tag}/waste").json()
    assert waste["wasted_bytes"] == 2 + 3 and waste["wasters"] == [{"path": "/opt/app/v", "size": 5, "layers": [2, 3]}]


def test_it_diffs_two_images(api, images):
    first, second = f"{images['repo']}:1", f"{images['repo']}:2"
    early = api.get("/api/diff", {"a": first, "b": second}).json()
    assert early["files"] is None and set(early["not_indexed"]) == {images["first"], images["second"]}
    index(api, images["first"])
    index(api, images["second"])
    found = api.get("/api/diff", {"a": first, "b": second}).json()
    assert found["config"] == [] and len(found["layers"]["shared"]) == 2 and found["layers"]["a"] == []
    assert [layer["instruction"][:12] for layer in found["layers"]["b"]] == ["RUN echo 22 "]
    assert {change["path"]: change["change"] for change in found["files"]["changes"]} == {
        "/opt/app/v": "changed", "/tmp": "removed"}
    assert api.get("/api/diff", {"a": first}).status_code == 400
    assert api.get("/api/diff", {"a": first, "b": "no-such:1"}).status_code == 404


def test_a_viewer_token_reads_but_does_not_index(builder, images):
    roles.assign(builder, roles.VIEWER)
    _, token = ApiToken.issue(builder, "read")
    viewer = Client(HTTP_AUTHORIZATION=f"Bearer {token}", enforce_csrf_checks=True)
    first = images["first"].split(":")[1]
    refused = viewer.post(f"/api/images/{first}/index")
    assert refused.status_code == 403 and "builder" in refused.json()["error"]
    assert viewer.get(f"/api/images/{first}/files").status_code == 404  # readable, just not indexed
    assert Client().get(f"/api/images/{first}/files").status_code == 401
    assert viewer.get(f"/api/images/{first}/index").status_code == 405
