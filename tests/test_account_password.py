"""Everyone changes their own password on Dockyard's account page, with Django's
own view: the old password, the new one twice, and the validators."""

from django.test import Client
from django.urls import reverse

from images.models import AuditEntry
from tests.conftest import PASSWORDS, make_user

NEW = "a-New-passw0rd-for-viewer"


def test_a_viewer_changes_their_password_and_signs_in_with_it(client, db):
    viewer = make_user("viewer", "viewer")
    client.force_login(viewer)
    assert reverse("account-password") in client.get(reverse("tokens-list")).content.decode()
    response = client.post(reverse("account-password"), {
        "old_password": PASSWORDS["viewer"], "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302 and response["Location"] == reverse("tokens-list")
    assert client.get(reverse("tokens-list")).status_code == 200  # this session goes on
    assert Client().login(username="viewer", password=NEW)
    assert not Client().login(username="viewer", password=PASSWORDS["viewer"])
    entry = AuditEntry.objects.get(action="password")
    assert (entry.actor_name, entry.outcome) == ("viewer", "ok")


def test_a_wrong_old_password_or_a_weak_new_one_changes_nothing(client, db):
    client.force_login(make_user("builder", "builder"))
    wrong = client.post(reverse("account-password"), {
        "old_password": "not-it", "new_password1": NEW, "new_password2": NEW})
    assert "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(reverse("account-password"), {
        "old_password": PASSWORDS["builder"], "new_password1": "12345678", "new_password2": "12345678"})
    assert "This password is too common." in weak.content.decode()
    assert Client().login(username="builder", password=PASSWORDS["builder"])
    assert not AuditEntry.objects.filter(action="password").exists()


def test_the_admin_sites_form_sends_people_to_this_page(client, db):
    client.force_login(make_user("builder", "builder"))
    response = client.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == reverse("account-password")


def test_the_api_changes_it_only_with_the_old_password(db):
    from tests.apiclient import bearer

    viewer = make_user("viewer", "viewer")
    api = bearer(viewer)
    refused = api.post("/api/account/password", {"old_password": "guessed", "new_password": NEW},
                       content_type="application/json")
    assert refused.status_code == 400 and "old_password" in refused.json()["fields"]
    changed = api.post("/api/account/password", {"old_password": PASSWORDS["viewer"], "new_password": NEW},
                       content_type="application/json")
    assert changed.status_code == 204
    assert Client().login(username="viewer", password=NEW)
    assert api.get("/api/tokens").status_code == 200  # the token goes on working
