"""Images through the API: rebuild, remove (one, several, forced), prune, export
and import, with a token, on the real engine."""

import io
import tarfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.models import AuditEntry, Job
from tests import dockerlib
from tests.apiclient import bearer, entry
from tests.live import wait_for_job
from tests.test_remove_prune import exists, images  # noqa: F401 - the fixture


@pytest.fixture
def admin_api(owner):
    return bearer(owner)


def hex_of(image_id):
    return image_id.split(":", 1)[1]


def test_it_removes_one_image_with_all_its_tags(admin_api, images):
    response = admin_api.post("/api/remove", {"images": [images["free"]]}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json() == {"removed": [images["free"]], "refused": []}
    assert not exists(images["free"])
    assert set(entry("remove", target=images["free"]).detail.split(", ")) == {f"{images['repo']}:free",
                                                                              f"{images['repo']}:also"}


def test_an_image_in_use_goes_only_with_force_and_several_go_together(admin_api, images):
    other = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL r=other-{images['repo']}\n")
    both = {"images": [images["used"], other]}
    response = admin_api.post("/api/remove", both, content_type="application/json")
    assert response.json()["removed"] == [other]
    assert len(response.json()["refused"]) == 1 and "is used by" in response.json()["refused"][0]
    assert exists(images["used"]) and not exists(other)
    assert entry("remove", target=images["used"]).outcome == "refused"

    forced = admin_api.post("/api/remove", {"images": [images["used"]], "force": True},
                            content_type="application/json")
    assert forced.json() == {"removed": [images["used"]], "refused": []}
    assert not exists(images["used"])
    assert entry("remove", target=images["used"], outcome="ok").detail.endswith("(forced)")


def test_remove_wants_at_least_one_image(admin_api):
    response = admin_api.post("/api/remove", {"images": []}, content_type="application/json")
    assert response.status_code == 400 and "images" in response.json()["fields"]


def test_prune_says_how_many_images_went_and_the_bytes_reclaimed(admin_api, images):
    dangling = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/d bs=1024 count=100\n"
                               f"LABEL r=dangling-{images['repo']}\n")
    # Only images this suite made: a test never touches the host's other images.
    response = admin_api.post("/api/prune", {"label": dockerlib.TEST_LABEL}, content_type="application/json")
    assert response.status_code == 200, response.content
    pruned = response.json()
    assert pruned["deleted"] >= 1 and pruned["reclaimed"] >= 100 * 1024
    assert not exists(dangling) and exists(images["free"]) and exists(images["used"])
    assert entry("prune").detail == f"{pruned['deleted']} image(s) deleted, {pruned['reclaimed']} bytes reclaimed"


def test_prune_refuses_a_label_filter_with_spaces(admin_api):
    response = admin_api.post("/api/prune", {"label": "a b"}, content_type="application/json")
    assert response.status_code == 400 and "without spaces" in response.json()["error"]
    assert not AuditEntry.objects.filter(action="prune").exists()


@pytest.mark.usefixtures("worker")
def test_export_streams_the_image_and_import_loads_it_back(builder, images):
    api = bearer(builder)
    first_tag = dockerlib.docker("image", "inspect", "--format", "{{index .RepoTags 0}}", images["free"]).strip()
    response = api.get(f"/api/images/{hex_of(images['free'])}/export")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/x-tar"
    assert response["Content-Disposition"] == f'attachment; filename="{first_tag.replace("/", "_").replace(":", "_")}.tar"'
    archive = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "manifest.json" in tar.getnames()
    dockerlib.docker("rmi", "-f", images["free"])

    response = api.post("/api/import", {"archive": SimpleUploadedFile("free.tar", archive)})
    assert response.status_code == 201, response.content
    job = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert (job.kind, job.state, job.image_id) == ("import", "succeeded", images["free"]), job.error
    assert dockerlib.image_id(f"{images['repo']}:also") == images["free"]
    assert entry("import").outcome == "succeeded"


def test_import_refuses_what_is_not_a_tar(builder):
    response = bearer(builder).post("/api/import", {"archive": SimpleUploadedFile("x.zip", b"PK")})
    assert response.status_code == 400
    assert response.json()["fields"]["archive"][0]["message"].startswith("Upload the .tar")
    assert not Job.objects.exists()


@pytest.mark.usefixtures("worker")
def test_it_rebuilds_an_image_dockyard_built(builder, base_image):
    api = bearer(builder)
    tag = dockerlib.unique("apirebuild") + ":1"
    started = api.post("/api/builds", {"source": "dockerfile", "tags": tag,
                                       "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=1\n"})
    first = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    response = api.post(f"/api/images/{first.image_hex}/rebuild")
    assert response.status_code == 201, response.content
    again = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert (again.state, again.retry_of_id, again.image_id) == ("succeeded", first.pk, first.image_id)
    assert entry("rebuild").job == again

    never = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL r={dockerlib.unique('cli')}\n")
    refused = api.post(f"/api/images/{hex_of(never)}/rebuild")
    assert refused.status_code == 409 and "did not build this image" in refused.json()["error"]
