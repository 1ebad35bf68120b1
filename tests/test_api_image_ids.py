"""Every image route of the API takes the image's id in each form the API hands
out: `sha256:<64 hex>` (a job's image_id, a list row's id), the 64 hex digits
(the pages' addresses) and the 12-digit short id (what `docker images` shows).
A method a path does not take is answered with the methods it does take."""

import io
import json
import tarfile

import pytest

from images.models import Job, Provenance
from tests import dockerlib
from tests.apiclient import bearer, entry
from tests.live import wait_for_job
from tests.test_remove_prune import exists

FORMS = {
    "sha256": lambda image_id: image_id,
    "hex": lambda image_id: image_id[len("sha256:"):],
    "short": lambda image_id: image_id[len("sha256:"):][:12],
}


@pytest.fixture
def admin_api(owner):
    return bearer(owner)


def made_image():
    repo = dockerlib.unique("apiids")
    image_id = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN mkdir /ids && echo {repo} > /ids/name\n",
                               tags=[f"{repo}:1"])
    return {"id": image_id, "repo": repo, "tag": f"{repo}:1"}


@pytest.fixture(scope="module")
def image(base_image):
    """One image for the routes that leave it as they found it."""
    return made_image()


@pytest.fixture
def own_image(base_image):
    """An image of the test's own, for the routes that remove it."""
    return made_image()


def json_post(api, path, body=None):
    return api.post(path, json.dumps(body or {}), content_type="application/json")


@pytest.mark.parametrize("form", FORMS)
def test_it_reads_one_image_and_its_tag_history_by_each_id_form(admin_api, image, form):
    image_id = FORMS[form](image["id"])
    detail = admin_api.get(f"/api/images/{image_id}")
    assert detail.status_code == 200, detail.content
    assert detail.json()["id"] == image["id"] and detail.json()["tags"] == [image["tag"]]
    moves = admin_api.get(f"/api/images/{image_id}/tag-moves")
    assert moves.status_code == 200, moves.content


@pytest.mark.parametrize("form", FORMS)
def test_it_infers_the_parent_by_each_id_form(admin_api, image, form):
    # On an engine holding many other images, one call reads at most 100 of them: asked again, it reads more.
    for _ in range(20):
        response = admin_api.get(f"/api/images/{FORMS[form](image['id'])}/parent")
        assert response.status_code == 200, response.content
        if response.json()["parent"] or not response.json()["unchecked"]:
            break
    parent = response.json()["parent"]
    # Its base, or another image of the same busybox layer: one layer below its two.
    assert parent["shared_layers"] == 1 and parent["layers"] == 2, parent


@pytest.mark.parametrize("form", FORMS)
def test_it_tags_and_untags_by_each_id_form(admin_api, image, form):
    image_id = FORMS[form](image["id"])
    tagged = json_post(admin_api, f"/api/images/{image_id}/tags", {"repository": image["repo"], "tag": form})
    assert tagged.status_code == 201, tagged.content
    assert tagged.json()["image_id"] == image["id"]
    assert dockerlib.image_id(f"{image['repo']}:{form}") == image["id"]
    untagged = json_post(admin_api, f"/api/images/{image_id}/untag", {"tag": f"{image['repo']}:{form}"})
    assert untagged.status_code == 200, untagged.content
    assert untagged.json()["image_id"] == image["id"] and untagged.json()["other_tags"] == [image["tag"]]
    tags = dockerlib.docker("image", "inspect", "--format", "{{json .RepoTags}}", image["id"])
    assert json.loads(tags) == [image["tag"]]


@pytest.mark.parametrize("form", FORMS)
def test_it_exports_by_each_id_form(admin_api, image, form):
    response = admin_api.get(f"/api/images/{FORMS[form](image['id'])}/export")
    assert response.status_code == 200, response.content
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content))) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
    assert manifest[0]["Config"].startswith(image["id"][len("sha256:"):]) and manifest[0]["RepoTags"] == [image["tag"]]


@pytest.mark.parametrize("form", FORMS)
def test_it_pushes_by_each_id_form(admin_api, image, form):
    pushed = json_post(admin_api, f"/api/images/{FORMS[form](image['id'])}/push",
                       {"tag": f"127.0.0.1:5000/{image['repo']}:1"})
    assert pushed.status_code == 201, pushed.content
    assert Job.objects.get(pk=pushed.json()["id"]).params["reference"] == f"127.0.0.1:5000/{image['repo']}:1"


@pytest.mark.unaudited("the build that made the image and its provenance are rows, as the worker records them")
@pytest.mark.parametrize("form", FORMS)
def test_it_answers_the_provenance_by_each_id_form(admin_api, owner, image, form):
    build = Job.objects.create(kind="build", state="succeeded", target=image["tag"], image_id=image["id"],
                               created_by=owner, output_limit=1000, params={"source": "dockerfile", "tags": []})
    Provenance.objects.create(job=build, source={"kind": "dockerfile"}, builder="classic")
    response = admin_api.get(f"/api/images/{FORMS[form](image['id'])}/provenance")
    assert response.status_code == 200, response.content
    assert image["id"][len("sha256:"):] in response.content.decode()


@pytest.mark.parametrize("form", FORMS)
def test_it_runs_by_each_id_form(admin_api, image, form):
    started = json_post(admin_api, f"/api/images/{FORMS[form](image['id'])}/run", {"command": ["cat", "/ids/name"]})
    assert started.status_code == 201, started.content
    assert Job.objects.get(pk=started.json()["id"]).params["image_id"] == image["id"]


@pytest.mark.unaudited("the build that made the image is a row: its recipe is what a rebuild reads")
@pytest.mark.parametrize("form", FORMS)
def test_it_rebuilds_by_each_id_form(admin_api, owner, image, form):
    params = {"source": "dockerfile", "dockerfile": "Dockerfile", "tags": [image["tag"]],
              "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN mkdir /ids && echo {image['repo']} > /ids/name\n"}
    recipe = Job.objects.create(kind="build", state="succeeded", target=image["tag"], params=params,
                                image_id=image["id"], created_by=owner, output_limit=1000)
    response = admin_api.post(f"/api/images/{FORMS[form](image['id'])}/rebuild")
    assert response.status_code == 201, response.content
    again = Job.objects.get(pk=response.json()["id"])
    assert again.retry_of == recipe and again.params["dockerfile_text"] == params["dockerfile_text"]


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("form", FORMS)
def test_it_indexes_and_reads_the_files_by_each_id_form(transactional_db, admin_api, image, form):
    image_id = FORMS[form](image["id"])
    started = admin_api.post(f"/api/images/{image_id}/index")
    assert started.status_code == 201, started.content
    assert wait_for_job(Job.objects.get(pk=started.json()["id"])).state == "succeeded"
    listing = admin_api.get(f"/api/images/{image_id}/files", {"path": "/ids"})
    assert listing.status_code == 200, listing.content
    assert [entry["path"] for entry in listing.json()["entries"]] == ["/ids/name"]
    found = admin_api.get(f"/api/images/{image_id}/files/search", {"q": "name"})
    assert found.status_code == 200 and "/ids/name" in json.dumps(found.json()), found.content
    assert admin_api.get(f"/api/images/{image_id}/waste").status_code == 200


@pytest.mark.parametrize("form", FORMS)
def test_it_removes_an_image_by_each_id_form(admin_api, own_image, form):
    response = admin_api.delete(f"/api/images/{FORMS[form](own_image['id'])}")
    assert response.status_code == 200, response.content
    assert response.json() == {"removed": own_image["id"], "tags": [own_image["tag"]]}
    assert not exists(own_image["id"])
    assert entry("remove", target=own_image["id"]).outcome == "ok"


def test_an_image_in_use_is_removed_only_with_force(admin_api, own_image):
    container = dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", own_image["id"]).strip()
    refused = admin_api.delete(f"/api/images/{own_image['id']}")
    assert refused.status_code == 409 and "is used by" in refused.json()["error"], refused.content
    assert "needs force" in refused.json()["error"] and exists(own_image["id"])
    forced = admin_api.delete(f"/api/images/{own_image['id']}?force=true")
    assert forced.status_code == 200, forced.content
    assert not exists(own_image["id"])
    dockerlib.docker("rm", container)


def test_delete_takes_an_id_not_a_reference(admin_api, image):
    response = admin_api.delete(f"/api/images/{image['tag']}")
    assert response.status_code == 400
    assert "/untag" in response.json()["error"] and exists(image["id"])


def test_a_wrong_method_is_told_the_methods_the_path_takes(admin_api, image):
    for method, path, allowed in (
        ("put", f"/api/images/{image['id']}/tags", "POST"),
        ("get", f"/api/images/{image['id'][7:19]}/tags", "POST"),
        ("post", f"/api/images/{image['id'][7:]}/export", "GET"),
        ("post", f"/api/images/{image['id']}", "DELETE, GET"),
        ("patch", "/api/jobs/1", "GET"),
    ):
        response = getattr(admin_api, method)(path)
        assert response.status_code == 405, (method, path, response.status_code)
        assert response["Allow"] == allowed, (method, path)
        error = response.json()["error"]
        assert f"{method.upper()} is not a method of this path" in error, error
        assert all(name in error for name in allowed.split(", ")), error


def test_an_action_on_a_reference_says_the_action_takes_an_id(admin_api, image):
    response = json_post(admin_api, f"/api/images/{image['tag']}/tags", {"repository": "x"})
    assert response.status_code == 405
    error = response.json()["error"]
    assert "takes the image's id" in error and f"GET /api/images/{image['tag']}" in error, error
