"""Removing images (one or several, in use or not), pruning, export and import."""

import html
import io
import re
import tarfile

import pytest
from django.urls import reverse

from images.jobs import logstore
from images.models import Job
from tests import dockerlib
from tests.live import job_from, wait_for_job


def exists(image_id):
    return dockerlib.docker("image", "inspect", "--format", "{{.Id}}", image_id, check=False).strip() == image_id


@pytest.fixture
def images(base_image):
    repo = dockerlib.unique("remove")
    free = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL r=free-{repo}\n", tags=[f"{repo}:free", f"{repo}:also"])
    used = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL r=used-{repo}\n", tags=[f"{repo}:used"])
    dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", "--name", f"{repo.replace('/', '-')}-c", used)
    return {"repo": repo, "free": free, "used": used}


def test_the_confirmation_says_what_will_go(owner_client, images):
    page = html.unescape(owner_client.get(reverse("images-remove"), {"image": [images["free"], images["used"]]})
                         .content.decode())
    assert f"{images['repo']}:free" in page and f"{images['repo']}:also" in page
    assert "used by" in page and "Force" in page
    assert exists(images["free"]) and exists(images["used"])


def test_it_removes_an_image_with_several_tags(owner_client, images):
    response = owner_client.post(reverse("images-remove"), {"image": images["free"], "confirm": "yes"}, follow=True)
    assert "Removed 1 image(s)" in response.content.decode()
    assert not exists(images["free"])


def test_it_refuses_an_image_in_use_unless_forced(owner_client, images):
    response = owner_client.post(reverse("images-remove"), {"image": images["used"], "confirm": "yes"}, follow=True)
    assert "is used by" in html.unescape(response.content.decode())
    assert exists(images["used"])
    owner_client.post(reverse("images-remove"), {"image": images["used"], "confirm": "yes", "force": "on"})
    assert not exists(images["used"])


def test_several_selected_images_go_together(owner_client, images):
    other = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL r=other-{images['repo']}\n")
    owner_client.post(reverse("images-remove"), {"image": [images["free"], other], "confirm": "yes"})
    assert not exists(images["free"]) and not exists(other)


def test_prune_removes_dangling_images_and_reports_the_space(owner_client, images):
    dangling = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/d bs=1024 count=100\n"
                               f"LABEL r=dangling-{images['repo']}\n")
    page = owner_client.get(reverse("images-prune")).content.decode()
    assert dangling.split(":")[1][:12] in page
    # Only images this suite made: a test never touches the host's other images.
    response = owner_client.post(reverse("images-prune"), {"confirm": "yes", "label": dockerlib.TEST_LABEL},
                                 follow=True)
    reclaimed = re.search(r"Pruned \d+ image\(s\), reclaiming .*? \(([\d,]+) bytes\)", response.content.decode())
    assert reclaimed and int(reclaimed[1].replace(",", "")) >= 100 * 1024
    assert not exists(dangling)
    assert exists(images["free"]) and exists(images["used"])


def test_export_then_import_round_trips_the_image(builder_client, images, worker):
    response = builder_client.get(reverse("images-export", args=[images["free"].split(":")[1]]))
    assert response["Content-Type"] == "application/x-tar"
    archive = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert "manifest.json" in tar.getnames()
    dockerlib.docker("rmi", "-f", images["free"])
    assert not exists(images["free"])

    from django.core.files.uploadedfile import SimpleUploadedFile

    response = builder_client.post(reverse("images-import"), {"archive": SimpleUploadedFile("free.tar", archive)})
    job = wait_for_job(job_from(response))
    assert job.state == "succeeded", job.error
    assert job.image_id == images["free"]
    assert f"Loaded image: {images['repo']}:free" in logstore.texts(job)
    assert dockerlib.image_id(f"{images['repo']}:also") == images["free"]


def test_import_refuses_what_is_not_a_tar(builder_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = builder_client.post(reverse("images-import"), {"archive": SimpleUploadedFile("x.zip", b"PK")})
    assert "Upload the .tar" in response.content.decode()
    assert not Job.objects.exists()
