"""Retry follows cancel: one's own jobs, or anyone's with cancel_any_job (admins)."""

import html

import pytest
from django.urls import reverse

from images.accounts import roles
from images.models import AuditEntry, Job
from tests.conftest import make_user
from tests.test_roles import client_for, queued_job


@pytest.fixture
def people(owner):
    return {"owner": owner, "builder": make_user("builder", roles.BUILDER)}


def test_a_builder_cannot_retry_someone_elses_job(people):
    theirs = queued_job(people["owner"])
    before = list(Job.objects.values_list("pk", flat=True))
    response = client_for(people["builder"]).post(reverse("jobs-retry", args=[theirs.pk]))
    assert response.status_code == 403
    text = html.unescape(response.content.decode())
    assert "Your role (builder) does not allow this" in text and "needs the admin role" in text
    assert list(Job.objects.values_list("pk", flat=True)) == before
    denied = AuditEntry.objects.get(actor=people["builder"], outcome="denied")
    assert denied.action == "retry" and denied.target == f"job {theirs.pk}"


def test_a_builder_retries_their_own_job_and_an_admin_anyones(people):
    mine = queued_job(people["builder"])
    response = client_for(people["builder"]).post(reverse("jobs-retry", args=[mine.pk]))
    again = Job.objects.get(retry_of=mine)
    assert response["Location"] == again.get_absolute_url() and again.created_by == people["builder"]
    client_for(people["owner"]).post(reverse("jobs-retry", args=[mine.pk]))
    assert Job.objects.filter(retry_of=mine, created_by=people["owner"]).count() == 1


def test_the_job_page_offers_retry_only_to_who_may_retry(people):
    theirs, mine = queued_job(people["owner"]), queued_job(people["builder"])
    builder = client_for(people["builder"])
    assert reverse("jobs-retry", args=[theirs.pk]) not in builder.get(theirs.get_absolute_url()).content.decode()
    assert reverse("jobs-retry", args=[mine.pk]) in builder.get(mine.get_absolute_url()).content.decode()
    owner_page = client_for(people["owner"]).get(mine.get_absolute_url()).content.decode()
    assert reverse("jobs-retry", args=[mine.pk]) in owner_page


def test_a_job_of_a_deleted_account_is_retried_only_by_an_admin(people):
    orphan = queued_job(make_user("viewer", roles.BUILDER))
    orphan.created_by.delete()
    assert client_for(people["builder"]).post(reverse("jobs-retry", args=[orphan.pk])).status_code == 403
    assert client_for(people["owner"]).post(reverse("jobs-retry", args=[orphan.pk])).status_code == 302
