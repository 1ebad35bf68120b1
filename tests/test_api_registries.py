"""Registry logins through the API (admins): the password goes in, never out."""

import pytest

from images.models import AuditEntry, Registry
from tests.apiclient import bearer, entry
from tests.conftest import REGISTRY_PASSWORD


@pytest.fixture
def api(owner):
    return bearer(owner)


def add(api, address, password=REGISTRY_PASSWORD, username="pusher"):
    return api.post("/api/registries", {"address": address, "username": username, "password": password},
                    content_type="application/json")


def test_it_adds_lists_changes_and_deletes_a_login_and_never_answers_the_password(api, auth_registry):
    answers = [add(api, f"http://{auth_registry.address.upper()}/")]
    assert answers[0].status_code == 201, answers[0].content
    registry = Registry.objects.get()
    assert answers[0].json()["address"] == auth_registry.address == registry.address  # the form's spelling
    assert registry.auth_config()["password"] == REGISTRY_PASSWORD
    answers.append(api.get("/api/registries"))
    assert [(row["id"], row["username"]) for row in answers[-1].json()] == [(registry.pk, "pusher")]

    answers.append(api.put(f"/api/registries/{registry.pk}", {"address": auth_registry.address, "username": "other"},
                           content_type="application/json"))
    assert answers[-1].status_code == 200 and answers[-1].json()["username"] == "other"
    registry.refresh_from_db()
    assert registry.auth_config()["password"] == REGISTRY_PASSWORD  # none given: kept
    assert entry("registry-change").detail == "user other; changed username"

    answers.append(api.delete(f"/api/registries/{registry.pk}"))
    assert answers[-1].status_code == 204 and not Registry.objects.exists()
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == ["registry-add", "registry-change",
                                                                    "registry-delete"]
    assert not any(REGISTRY_PASSWORD in answer.content.decode() for answer in answers)
    assert all("password" not in row for row in answers[1].json())


def test_a_new_login_needs_a_password(api):
    response = add(api, "127.0.0.1:5999", password="")
    assert response.status_code == 400 and "password" in response.json()["fields"]
    assert not Registry.objects.exists()


def test_it_tests_a_login_against_the_registry(api, auth_registry):
    registry_id = add(api, auth_registry.address).json()["id"]
    response = api.post(f"/api/registries/{registry_id}/test")
    assert response.status_code == 200, response.content
    assert response.json() == {"address": auth_registry.address, "username": "pusher", "logged_in": True}
    assert entry("registry-login").outcome == "ok"

    api.put(f"/api/registries/{registry_id}", {"address": auth_registry.address, "username": "pusher",
                                               "password": "wrong-password-9931"}, content_type="application/json")
    refused = api.post(f"/api/registries/{registry_id}/test")
    assert refused.status_code == 502 and "wrong-password-9931" not in refused.content.decode()
    assert AuditEntry.objects.filter(action="registry-login", outcome="failed").count() == 1
