"""Starting builds through the API: JSON for a Dockerfile's text, a git URL or a
server directory; multipart for an uploaded context; any other body is told
which types the call takes."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from images.jobs import logstore
from images.models import Job
from tests import dockerlib
from tests.apiclient import bearer
from tests.live import printed_lines, wait_for_job
from tests.test_build_sources import FILES, git_server, printed, tar_bytes  # noqa: F401 - the fixture

# A semicolon, quotes and a backslash: what a shell or curl's -F would cut or mangle.
DOCKERFILE = (f"FROM {dockerlib.BASE_IMAGE}\n"
              "RUN echo one; echo 'two; \"three\"' && echo four\\\\five\n")


@pytest.fixture
def api(builder):
    return bearer(builder)


def json_post(api, path, body):
    return api.post(path, json.dumps(body), content_type="application/json")


@pytest.mark.usefixtures("worker")
def test_a_json_build_from_a_dockerfiles_text_runs_with_its_fields(api):
    repo = dockerlib.unique("apijson")
    started = json_post(api, "/api/builds", {
        "source": "dockerfile", "dockerfile_text": DOCKERFILE, "tags": f"{repo}:1, {repo}:2",
        "labels": f"{dockerlib.TEST_LABEL}=1\nbuilt.by=json", "no_cache": True, "builder": "classic",
    })
    assert started.status_code == 201, started.content
    job = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    assert job.state == "succeeded", job.error
    assert job.params["dockerfile_text"] == DOCKERFILE.strip() and job.params["no_cache"] is True
    lines = printed_lines(logstore.texts(job))
    assert "one" in lines and 'two; "three"' in lines and "four\\five" in lines
    assert dockerlib.image_id(f"{repo}:1") == dockerlib.image_id(f"{repo}:2") == job.image_id
    labels = json.loads(dockerlib.docker("image", "inspect", "--format", "{{json .Config.Labels}}", job.image_id))
    assert labels["built.by"] == "json"


@pytest.mark.usefixtures("worker")
def test_a_json_build_from_a_git_url_runs(api, git_server):  # noqa: F811 - the fixture
    started = json_post(api, "/api/builds", {"source": "git", "git_url": f"{git_server}#main",
                                             "dockerfile": "build/Dockerfile", "builder": "classic"})
    assert started.status_code == 201, started.content
    job = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    assert job.state == "succeeded", job.error
    assert job.params["git_url"] == f"{git_server}#main" and printed(job)


def test_a_json_build_is_checked_as_the_page_checks_it(api):
    refused = json_post(api, "/api/builds", {"source": "dockerfile", "dockerfile_text": "  "})
    assert refused.status_code == 400 and "dockerfile_text" in refused.json()["fields"], refused.content
    missing = json_post(api, "/api/builds", {"dockerfile_text": DOCKERFILE})
    assert missing.status_code == 400 and list(missing.json()["fields"]) == ["source"]
    assert not Job.objects.exists()


def test_an_upload_comes_as_multipart_and_json_is_told_so(api):
    told = json_post(api, "/api/builds", {"source": "upload"})
    assert told.status_code == 415 and "multipart/form-data" in told.json()["error"]
    started = api.post("/api/builds", {"source": "upload", "dockerfile": "build/Dockerfile",
                                       "context": SimpleUploadedFile("context.tar", tar_bytes(FILES))})
    assert started.status_code == 201, started.content
    assert Job.objects.get(pk=started.json()["id"]).params["context_name"] == "context.tar"


def test_a_body_of_another_type_is_told_the_types_the_call_takes(api):
    for content_type, body in (("text/plain", "source=dockerfile"), ("application/xml", "<build/>")):
        response = api.post("/api/builds", body, content_type=content_type)
        assert response.status_code == 415, (content_type, response.content)
        error = response.json()["error"]
        assert content_type in error and "application/json" in error and "multipart/form-data" in error
    # curl -d '{...}' without a Content-Type: JSON read as one form field
    response = api.post("/api/builds", json.dumps({"source": "dockerfile"}),
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and "Content-Type: application/json" in response.json()["error"]
    assert not Job.objects.exists()
