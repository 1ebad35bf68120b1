"""The Run form and a run's job page: what a builder fills in (the image's own
command shown, the admin's caps as defaults), what is refused with the field
named and nothing started, and, after the run, what it changed and the form that
saves it as an image (its owner only)."""

import pytest
from django.test import Client
from django.urls import reverse

from images.lifecycle import runs
from images.models import AuditEntry, Job
from tests import dockerlib
from tests.conftest import make_user
from tests.live import wait_for_job
from tests.test_runs import image  # noqa: F401 - the fixture


def hex_of(image_id):
    return image_id.split(":", 1)[1]


FORM = {"command": "", "env": "", "workdir": "", "user": "", "memory_mb": 512, "cpus": "1", "pids": 256,
        "timeout": 600, "network": "none"}


def test_the_form_shows_the_images_own_command_and_the_caps(builder_client, image):
    page = builder_client.get(reverse("images-run", args=[hex_of(image["id"])])).content.decode()
    assert "The image's own command: <code>sh -c echo $GREETING from cmd</code>" in page
    assert 'name="memory_mb" value="512"' in page and 'name="timeout" value="600"' in page
    assert '<option value="none" selected>none</option>' in page
    for never in ("port", "mount", "volume", "privileged", "device", "cap_add"):
        assert f'name="{never}' not in page
    detail = builder_client.get(reverse("images-detail", args=[hex_of(image["id"])])).content.decode()
    assert f'href="{reverse("images-run", args=[hex_of(image["id"])])}">Run</a>' in detail


@pytest.mark.parametrize("fields, field, message", [
    ({"command": "echo 'unbalanced"}, "command", "quoting is unbalanced"),
    ({"env": "JUST_A_NAME"}, "env", "Line 1 has no"),
    ({"env": "BAD NAME=x"}, "env", "is not a variable name"),
    ({"network": "host"}, "network", "Select a valid choice"),
    ({"memory_mb": 4096}, "memory_mb", "4096 is outside what runs may ask for here: 6 to 512 MB"),
    ({"pids": 100000}, "pids", "outside what runs may ask for"),
    ({"timeout": 0}, "timeout", "outside what runs may ask for"),
    ({"workdir": "relative"}, "workdir", "Give an absolute path"),
    ({"user": "root; rm"}, "user", "Give a user name or id"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_starts(builder_client, image, fields, field, message):
    response = builder_client.post(reverse("images-run", args=[hex_of(image["id"])]), {**FORM, **fields})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.filter(kind="run").exists()


def test_a_viewer_has_no_run_button_and_is_refused(client, image, db):
    client.force_login(make_user("viewer", "viewer"))
    detail = client.get(reverse("images-detail", args=[hex_of(image["id"])])).content.decode()
    assert reverse("images-run", args=[hex_of(image["id"])]) not in detail
    refused = client.post(reverse("images-run", args=[hex_of(image["id"])]), FORM)
    assert refused.status_code == 403 and "needs the builder role" in refused.content.decode()


@pytest.mark.usefixtures("worker")
def test_a_run_from_the_form_then_its_changes_and_a_commit_from_its_page(builder_client, builder, image):
    response = builder_client.post(reverse("images-run", args=[hex_of(image["id"])]),
                                   {**FORM, "command": "echo hi > /greeting", "shell": "on", "env": "SECRETISH=v1"})
    assert response.status_code == 302
    job = wait_for_job(Job.objects.get(kind="run"))
    assert job.state == "succeeded", job.error
    page = builder_client.get(job.get_absolute_url()).content.decode()
    assert "<code>/greeting</code></td><td>added</td><td class=\"num\">3B</td>" in page
    assert "SECRETISH <span class=\"subtle\">(values not shown)</span>" in page and "v1" not in page
    detail = AuditEntry.objects.get(job=job).detail
    assert "env SECRETISH" in detail and "v1" not in detail and detail.startswith("sh -c 'echo hi > /greeting'")
    assert 'id="run-commit"' in page
    viewer = Client()
    viewer.force_login(make_user("viewer", "viewer"))
    watched = viewer.get(job.get_absolute_url()).content.decode()
    assert "<code>/greeting</code>" in watched and 'id="run-commit"' not in watched

    name = dockerlib.unique("page-commit")
    saved = builder_client.post(reverse("runs-commit", args=[job.pk]), {"reference": f"{name}:1", "message": "m",
                                                                        "changes": "CMD [\"cat\", \"/greeting\"]"})
    made = dockerlib.image_id(f"{name}:1")
    assert saved.status_code == 302 and saved["Location"] == reverse("images-detail", args=[hex_of(made)])
    refused = builder_client.post(reverse("runs-commit", args=[job.pk]), {"reference": f"{name}:2",
                                                                          "changes": "RUN id"})
    assert refused.status_code == 302
    assert "RUN cannot be changed by a commit" in builder_client.get(job.get_absolute_url()).content.decode()
    assert dockerlib.docker("images", "-q", f"{name}:2").strip() == ""
    assert runs.LABEL_JOB in get_labels(made)


def get_labels(image_id):
    import json

    return json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .Config.Labels}}", image_id))
