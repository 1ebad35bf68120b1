"""Runs through the API with a token: run, stop, changes, commit; and the
hostile run requests, each refused with a 400 naming the field, nothing reaching
the engine (no job, no container)."""

import pytest
from django.test import override_settings

from images.lifecycle import runs
from images.models import Job
from tests import dockerlib
from tests.apiclient import bearer, entry
from tests.live import wait_for_job, wait_for_lines
from tests.test_runs import image  # noqa: F401 - the fixture


@pytest.fixture
def api(builder):
    return bearer(builder)


def hex_of(image_id):
    return image_id.split(":", 1)[1]


def post(api, path, body):
    return api.post(path, body, content_type="application/json")


@pytest.mark.usefixtures("worker")
def test_run_stop_changes_and_commit_with_a_token(api, image):
    response = post(api, f"/api/images/{hex_of(image['id'])}/run",
                    {"shell": "echo made > /made; echo ready; while true; do sleep 0.2; done", "timeout": 120})
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.params["shell"].startswith("echo made")) == ("run", True)
    wait_for_lines(job, 1)
    stopped = post(api, f"/api/jobs/{job.pk}/stop", {})
    assert stopped.status_code in (200, 202)
    job = wait_for_job(job, timeout=30)
    assert job.state == "cancelled" and job.error.startswith("stopped by builder")
    changes = api.get(f"/api/jobs/{job.pk}/changes")
    assert changes.status_code == 200 and {"path": "/made", "kind": "added", "size": 5} in changes.json()
    name = dockerlib.unique("api-commit")
    committed = post(api, f"/api/jobs/{job.pk}/commit", {"reference": f"{name}:1", "message": "from the api",
                                                          "changes": ["CMD [\"cat\", \"/made\"]"]})
    assert committed.status_code == 201, committed.content
    assert committed.json()["image_id"] == dockerlib.image_id(f"{name}:1")
    assert entry("commit", target=f"{name}:1").outcome == "ok"
    assert entry("run", job=job).outcome == "cancelled"


HOSTILE = [
    ({"ports": {"80/tcp": 8080}}, "ports"),
    ({"publish_all": True}, "publish_all"),
    ({"mounts": ["/:/host"]}, "mounts"),
    ({"binds": ["/etc:/etc"]}, "binds"),
    ({"volumes": {"/": {}}}, "volumes"),
    ({"privileged": True}, "privileged"),
    ({"cap_add": ["SYS_ADMIN"]}, "cap_add"),
    ({"devices": ["/dev/sda"]}, "devices"),
    ({"network_mode": "host"}, "network_mode"),
    ({"env": {"A=B": "x"}}, "env"),
    ({"env": {"NUL": "a\u0000b"}}, "env"),
    ({"network": "host"}, "network"),
    ({"memory_mb": 4096}, "memory_mb"),
    ({"pids": 100000}, "pids"),
    ({"timeout": 86400}, "timeout"),
    ({"cpus": 64}, "cpus"),
    ({"workdir": "relative/dir"}, "workdir"),
    ({"user": "root;rm"}, "user"),
    ({"command": ["echo"], "shell": "echo"}, "command"),
    ({"surprise": 1}, "surprise"),
]


@pytest.mark.parametrize("body, field", HOSTILE, ids=[field for _, field in HOSTILE])
def test_hostile_runs_are_refused_naming_the_field_and_nothing_starts(api, image, body, field):
    response = post(api, f"/api/images/{hex_of(image['id'])}/run", body)
    assert response.status_code == 400, response.content
    answer = response.json()
    assert field in answer["error"] or field in answer.get("fields", {}), answer
    assert not Job.objects.filter(kind="run").exists()
    assert dockerlib.docker("ps", "-aq", "--filter", f"label={runs.LABEL_OWNER}=builder",
                            "--filter", f"label={runs.LABEL_INSTANCE}={runs.instance_id()}",
                            "--filter", f"ancestor={image['id']}", "--filter", "status=created").strip() == ""


@override_settings(DOCKYARD_RUN_NETWORKS=["bridge"])
def test_an_allowed_network_is_taken(api, image, settings):
    response = post(api, f"/api/images/{hex_of(image['id'])}/run", {"shell": "true", "network": "bridge"})
    assert response.status_code == 201, response.content
    assert Job.objects.get(kind="run").params["network"] == "bridge"


def test_a_viewer_may_not_run(image, db):
    from tests.conftest import make_user

    response = post(bearer(make_user("viewer", "viewer")), f"/api/images/{hex_of(image['id'])}/run", {})
    assert response.status_code == 403 and "needs the builder role" in response.json()["error"]
