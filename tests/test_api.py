"""The JSON API, driven with a bearer token as a CI script would."""

import json
from datetime import datetime, timezone

import pytest
from django.test import Client
from ninja.responses import NinjaJSONEncoder

from images.api.images import ImageList, image_list_json
from images.catalog import listing
from images.engine import get_engine
from images.models import ApiToken, Job
from tests import dockerlib, live
from tests.live import wait_for_job

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def api(builder):
    _, token = ApiToken.issue(builder, "ci")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", enforce_csrf_checks=True)


def test_it_needs_a_token_or_a_session(db):
    client = Client()
    for url in ("/api/images", "/api/jobs/1"):
        response = client.get(url)
        assert response.status_code == 401
        assert "Bearer" in response.json()["error"]
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/api/images").status_code == 401


def test_it_builds_follows_and_reads_the_log(api):
    tag = dockerlib.unique("api") + ":1"
    response = api.post("/api/builds", {
        "source": "dockerfile", "tags": tag,
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN echo from the api\nLABEL {dockerlib.TEST_LABEL}=1\n",
        "no_cache": "on",  # BuildKit's cache outlives the image: a cached RUN prints nothing
    })
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    wait_for_job(Job.objects.get(pk=job_id))
    job = api.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded" and job["image_id"] == dockerlib.image_id(tag)
    assert job["started_at"] and job["finished_at"] and job["lines"] > 0

    first = api.get(f"/api/jobs/{job_id}/log", {"after": 0}).json()
    assert "from the api" in live.printed_lines(text for _, text, _ in first["lines"])
    assert [seq for seq, _, _ in first["lines"]] == list(range(1, job["lines"] + 1))
    rest = api.get(f"/api/jobs/{job_id}/log", {"after": 3}).json()
    assert rest["lines"] == first["lines"][3:]
    # A page of `limit` lines (what the job page asks for as it scrolls); more than 5,000 is 5,000.
    limited = api.get(f"/api/jobs/{job_id}/log", {"after": 1, "limit": 2}).json()
    assert limited["lines"] == first["lines"][1:3] and limited["next_after"] == 3 and limited["more"]
    assert api.get(f"/api/jobs/{job_id}/log", {"after": 0, "limit": 10**6}).json()["lines"] == first["lines"]


def test_it_refuses_an_invalid_build_with_the_reasons(api):
    response = api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": "", "tags": "Bad Tag"})
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "tags" in fields and "dockerfile_text" in fields
    assert not Job.objects.exists()


def test_it_starts_a_pull_from_json(api):
    response = api.post("/api/pulls", json.dumps({"reference": "127.0.0.1:5000/dockyard-test/none:x"}),
                        content_type="application/json")
    assert response.status_code == 201
    job = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert job.state == "failed"
    assert api.post("/api/pulls", json.dumps({"reference": "UPPER"}), content_type="application/json").status_code == 400


def test_it_cancels_a_job(api):
    response = api.post("/api/builds", {
        "source": "dockerfile",
        "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nRUN sleep 60\n",
    })
    job = Job.objects.get(pk=response.json()["id"])
    wait_for_job(job, states=("running",))
    assert api.post(f"/api/jobs/{job.pk}/cancel").status_code in (200, 202)
    assert wait_for_job(job, timeout=10).state == "cancelled"


def test_it_lists_images_and_shows_one_with_history(api, base_image):
    listed = api.get("/api/images", {"q": dockerlib.BASE_REPOSITORY}).json()
    rows = [(i["repository"], i["tag"], i["id"]) for i in listed["images"]]
    # Another checkout's test run may have a base image whose name contains this one.
    assert (dockerlib.BASE_REPOSITORY, "latest", base_image) in rows
    assert all(dockerlib.BASE_REPOSITORY in repository for repository, _, _ in rows)
    detail = api.get(f"/api/images/{dockerlib.BASE_IMAGE}").json()
    assert detail["id"] == base_image
    assert len(detail["history"]) == len(dockerlib.history(base_image))
    assert api.get("/api/images/dockyard-test/none:x").status_code == 404


def test_the_list_is_written_as_its_schema_and_ninja_would_write_it(api, base_image):
    """The list's JSON is written by hand for speed (images/api/images.py):
    byte for byte what ninja made of the same rows through ImageList, for the
    engine's own rows and for a dangling one and one known only by digests
    whose base has moved."""
    found = listing.list_images(get_engine())
    made = datetime(2026, 12, 7, 14, 54, 18, 123456, tzinfo=timezone.utc)
    rows = [*found.rows, listing.ImageRow("sha256:" + "a" * 64, "<none>", "<none>", made, 0, 2, True),
            listing.ImageRow("sha256:" + "b" * 64, "reg:5000/team/app", "<none>", made, 7, 0, False,
                             ("reg:5000/team/app@sha256:" + "c" * 64,), base_updated=True)]
    whole = listing.ImageList(rows, found.totals, found.engine_address)
    by_ninja = json.dumps(ImageList.model_validate({"totals": whole.totals, "images": whole.rows}).model_dump(),
                          cls=NinjaJSONEncoder)
    assert image_list_json(whole) == by_ninja
    assert '"created": "2026-12-07T14:54:18.123Z"' in by_ninja and '"base_updated": true' in by_ninja
    answer = api.get("/api/images")
    assert answer["Content-Type"] == "application/json; charset=utf-8"
    listed = ImageList.model_validate_json(answer.content, by_name=True)  # the rows are read by the name "id"
    assert base_image in {row.id for row in listed.images}


def test_session_posts_need_the_csrf_token(builder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(builder)
    assert client.post("/api/pulls", {"reference": "x"}).status_code == 403


def test_session_posts_pass_with_the_csrf_header_or_field(builder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(builder)
    client.get("/api/docs")  # a page sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    answers = [
        client.post("/api/pulls", json.dumps({"reference": "UPPER"}), content_type="application/json",
                    HTTP_X_CSRFTOKEN=csrf),
        client.post("/api/pulls", {"reference": "UPPER"}, HTTP_X_CSRFTOKEN=csrf),  # multipart, as a form
        client.post("/api/pulls", {"reference": "UPPER", "csrfmiddlewaretoken": csrf}),
    ]
    for response in answers:  # past the CSRF check, to the pull form's own reasons
        assert response.status_code == 400
        assert response.json()["fields"]["reference"][0]["message"] == "Repository names must be lowercase."


def test_it_answers_in_its_own_shape_whatever_goes_wrong(api):
    wrong_method = api.get("/api/builds")
    assert (wrong_method.status_code, wrong_method["Allow"]) == (405, "POST")
    assert wrong_method.json() == {"error": "GET is not a method of this path: use POST."}
    not_json = api.post("/api/pulls", "{nope", content_type="application/json")
    assert (not_json.status_code, not_json.json()) == (400, {"error": "The body is not valid JSON."})
    bad_after = api.get("/api/jobs/1/log", {"after": "x"})
    assert bad_after.status_code == 400 and "after" in bad_after.json()["fields"]
    assert api.get("/api/jobs/999999").json() == {"error": "No such job."}


def test_an_operation_that_names_no_permission_is_refused_to_everyone(owner):
    from django.core.exceptions import PermissionDenied
    from django.test import RequestFactory

    from images.api import auth

    request = RequestFactory().get("/api/forgotten")
    request.user, request.token_auth = owner, True  # an admin, by token
    with pytest.raises(PermissionDenied):
        auth.undeclared()[0].authenticate(request, "dky_…")


def test_the_api_root_leads_to_the_reference(builder_client):
    response = builder_client.get("/api/")
    assert (response.status_code, response["Location"]) == (302, "/api/docs")
