"""The jobs page: newest first, filtered by state, kind and who started them."""

import re

from django.urls import reverse

from images.accounts import roles
from images.jobs import control
from tests.conftest import make_user
from tests.test_roles import client_for, queued_job


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
