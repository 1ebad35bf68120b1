import uuid

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from images.accounts import roles
from images.models import AuditEntry


def test_it_shows_the_login_page_to_anyone(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Log in to Dockyard" in response.content.decode()


def test_it_logs_in_and_lands_on_the_image_list(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "owner-password-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("images-list")


def test_it_rejects_a_wrong_password(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_it_sends_anonymous_visitors_to_login(client, db):
    for url in ("/", "/images/abc/", "/images/dockyard-test/x:1/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_logout_needs_a_post(owner_client):
    assert owner_client.get(reverse("logout")).status_code == 405
    response = owner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert owner_client.get("/").status_code == 302


@pytest.mark.parametrize("door", ["login", "admin:login"])
def test_repeated_failures_lock_the_login_even_with_the_right_password(client, db, settings, door):
    settings.DOCKYARD_LOGIN_FAILURES = 3
    name = f"locked-{uuid.uuid4().hex[:8]}"
    roles.assign(get_user_model().objects.create_user(name, password="right-password-1"), roles.ADMIN)
    for _ in range(2):
        client.post(reverse(door), {"username": name, "password": "wrong"})
    # The other door counts towards the same limit.
    client.post(reverse("admin:login" if door == "login" else "login"), {"username": name, "password": "wrong"})
    response = client.post(reverse(door), {"username": name, "password": "right-password-1"})
    assert response.status_code == 200
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    logins = AuditEntry.objects.filter(action="login", target=name).order_by("pk")
    assert [entry.outcome for entry in logins] == ["failed", "failed", "failed", "refused"]


def _throttled_user(settings):
    settings.DOCKYARD_LOGIN_FAILURES = 3
    name = f"carl-{uuid.uuid4().hex[:8]}"
    roles.assign(get_user_model().objects.create_user(name, password="carl-password-1"), roles.BUILDER)
    return name


@pytest.mark.parametrize("spelling", [
    "\uff43{rest}",  # a fullwidth c: Django's login form turns it into c (NFKC) before it authenticates
    " c{rest} ",  # spaces around the name, which the form strips
])
def test_another_spelling_of_the_name_is_throttled_as_the_same_name(client, db, settings, spelling):
    name = _throttled_user(settings)
    for _ in range(3):
        client.post(reverse("login"), {"username": name, "password": "wrong"})
    response = client.post(reverse("login"), {"username": spelling.format(rest=name[1:]),
                                              "password": "carl-password-1"})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_under_another_spelling_count_towards_the_name(client, db, settings):
    name = _throttled_user(settings)
    for spelling in ("\uff43" + name[1:], name.upper(), name):
        client.post(reverse("login"), {"username": spelling, "password": "wrong"})
    response = client.post(reverse("login"), {"username": name, "password": "carl-password-1"})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
