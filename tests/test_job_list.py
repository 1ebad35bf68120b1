"""The jobs page: what each role is offered, newest first, filtered by state, kind
and who started them."""

import re

from django.test import Client
from django.urls import reverse

from images.accounts import roles
from images.jobs import control
from images.models import Job
from tests.conftest import make_user
from tests.test_roles import client_for, queued_job


def job_list(user, **params):
    client = Client()
    client.force_login(user)
    response = client.get(reverse("jobs-list"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_it_offers_build_and_pull_only_to_roles_that_may(db):
    viewer = make_user("viewer", roles.VIEWER)
    builder = make_user("builder", roles.BUILDER)
    page = job_list(viewer)
    assert f'href="{reverse("jobs-build")}"' not in page and f'href="{reverse("jobs-pull")}"' not in page
    page = job_list(builder)
    assert re.search(rf'<a class="button" href="{reverse("jobs-build")}">Build</a>', page)
    assert re.search(rf'<a class="button" href="{reverse("jobs-pull")}">Pull</a>', page)


def test_its_kind_filter_names_every_kind(db):
    builder = make_user("builder", roles.BUILDER)
    control.start_pull(builder, "127.0.0.1:5000/never/sent:1")  # the test's transaction never commits: never sent
    select = re.search(r'<select name="kind"[^>]*>(.*?)</select>', job_list(builder), re.S)[1]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    assert options == [("", "Any kind"), *[(value, label) for value, label in Job.Kind.choices]]
    assert {"build", "pull", "push", "import", "index", "run", "retention"} == {value for value, _ in options[1:]}
    select = re.search(r'<select name="kind"[^>]*>(.*?)</select>', job_list(builder, kind="push"), re.S)[1]
    assert '<option value="push" selected>' in select


def listed(client, **filters):
    page = client.get(reverse("jobs-list"), filters).content.decode()
    return [int(pk) for pk in re.findall(r'<td><a href="/jobs/(\d+)/">', page)]


def test_it_filters_by_state_kind_and_who_started_them(owner):
    builder = make_user("builder", roles.BUILDER)
    pull = queued_job(builder)
    push = control.start_push(owner, "127.0.0.1:5000/never/sent:2")
    client = client_for(owner)
    assert listed(client) == [push.pk, pull.pk]
    assert listed(client, kind="push") == [push.pk]
    assert listed(client, user="builder") == [pull.pk]
    assert listed(client, user="builder", kind="push") == []
    assert 'name="user" value="builder"' in client.get(reverse("jobs-list"), {"user": "builder"}).content.decode()
    cancelled = queued_job(builder)
    client.post(reverse("jobs-cancel", args=[cancelled.pk]))
    assert listed(client) == [cancelled.pk, push.pk, pull.pk]
    assert listed(client, state="cancelled") == [cancelled.pk]
    assert listed(client, state="queued") == [push.pk, pull.pk]
    assert listed(client, state="queued", user="builder", kind="pull") == [pull.pk]
    assert listed(client, state="succeeded") == []
    select = re.search(r'<select name="state"[^>]*>(.*?)</select>',
                       client.get(reverse("jobs-list"), {"state": "cancelled"}).content.decode(), re.S)[1]
    assert '<option value="cancelled" selected>' in select
