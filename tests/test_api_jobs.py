"""The job list and retry through the API, with a token."""

import pytest

from images.accounts import roles
from images.jobs import control
from images.models import AuditEntry, Job
from tests.apiclient import bearer, entry
from tests.conftest import make_user
from tests.live import wait_for_job
from tests.test_roles import queued_job


@pytest.fixture
def people(owner):
    return {"owner": owner, "builder": make_user("builder", roles.BUILDER)}


def ids(response):
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()["jobs"]]


def test_it_lists_jobs_newest_first_with_the_pages_filters(people):
    pull = queued_job(people["builder"])
    push = control.start_push(people["owner"], "127.0.0.1:5000/never/sent:2")
    cancelled = queued_job(people["owner"])
    control.cancel(cancelled, people["owner"])
    api = bearer(make_user("viewer", roles.VIEWER))  # browsing is enough
    listed = api.get("/api/jobs").json()
    assert [job["id"] for job in listed["jobs"]] == [cancelled.pk, push.pk, pull.pk]
    assert (listed["count"], listed["page"], listed["pages"]) == (3, 1, 1)
    assert listed["jobs"][0]["created_by"] == "owner" and listed["jobs"][0]["state"] == "cancelled"
    assert ids(api.get("/api/jobs", {"kind": "push"})) == [push.pk]
    assert ids(api.get("/api/jobs", {"state": "cancelled"})) == [cancelled.pk]
    assert ids(api.get("/api/jobs", {"user": "builder"})) == [pull.pk]
    assert ids(api.get("/api/jobs", {"state": "queued", "user": "owner"})) == [push.pk]
    assert ids(api.get("/api/jobs", {"kind": "nonsense"})) == [cancelled.pk, push.pk, pull.pk]  # as the page


@pytest.mark.unaudited("jobs made as rows, only to fill pages")
def test_the_list_comes_fifty_jobs_a_page(people):
    Job.objects.bulk_create([Job(kind="pull", target=f"x:{number}", created_by=people["builder"], output_limit=1)
                             for number in range(51)])
    api = bearer(people["builder"])
    first = api.get("/api/jobs").json()
    assert (len(first["jobs"]), first["count"], first["pages"]) == (50, 51, 2)
    assert len(api.get("/api/jobs", {"page": 2}).json()["jobs"]) == 1


@pytest.mark.usefixtures("worker")
def test_it_retries_a_job_that_failed_on_the_engine(builder):
    api = bearer(builder)
    started = api.post("/api/pulls", {"reference": "127.0.0.1:5000/dockyard-test/none:x"},
                       content_type="application/json")
    failed = wait_for_job(Job.objects.get(pk=started.json()["id"]))
    assert failed.state == "failed"
    response = api.post(f"/api/jobs/{failed.pk}/retry")
    assert response.status_code == 201, response.content
    again = wait_for_job(Job.objects.get(pk=response.json()["id"]))
    assert (again.retry_of_id, again.kind, again.target, again.state) == (failed.pk, "pull", failed.target, "failed")
    assert response.json()["retry_of"] == failed.pk
    assert entry("pull", job=again).detail == f"again from the recipe of job {failed.pk}"


def test_a_builder_retries_only_their_own_jobs(people):
    theirs = queued_job(people["owner"])
    response = bearer(people["builder"]).post(f"/api/jobs/{theirs.pk}/retry")
    assert response.status_code == 403 and "needs the admin role" in response.json()["error"]
    assert not Job.objects.filter(retry_of=theirs).exists()
    denied = AuditEntry.objects.get(actor=people["builder"], outcome="denied")
    assert (denied.action, denied.target, denied.via) == ("retry", f"job {theirs.pk}", "token")
