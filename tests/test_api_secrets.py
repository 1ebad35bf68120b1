"""Build secrets through the API: a value goes in, never out; builders keep
their own, admins the shared ones; a build chooses them by name."""

import pytest

from images.models import AuditEntry, BuildSecret, Job
from tests import dockerlib
from tests.apiclient import bearer, entry
from tests.conftest import BUILD_SECRET


def add(api, name, value=BUILD_SECRET, **extra):
    return api.post("/api/secrets", {"name": name, "value": value, **extra}, content_type="application/json")


@pytest.fixture
def api(builder):
    return bearer(builder)


def test_a_builder_adds_lists_replaces_and_deletes_a_secret_whose_value_is_never_answered(api, builder):
    answers = [add(api, "npm_token")]
    assert answers[0].status_code == 201, answers[0].content
    secret = BuildSecret.objects.get()
    assert (secret.owner, secret.value()) == (builder, BUILD_SECRET.encode())
    answers.append(api.get("/api/secrets"))
    assert [(row["name"], row["shared"]) for row in answers[-1].json()["own"]] == [("npm_token", False)]
    answers.append(api.put(f"/api/secrets/{secret.pk}", {"value": "new"}, content_type="application/json"))
    assert answers[-1].status_code == 200
    secret.refresh_from_db()
    assert secret.value() == b"new"
    answers.append(api.delete(f"/api/secrets/{secret.pk}"))
    assert answers[-1].status_code == 204 and not BuildSecret.objects.exists()
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == ["secret-add", "secret-change", "secret-delete"]
    assert entry("secret-add").detail == "own, of builder"
    assert not any(BUILD_SECRET in answer.content.decode() or "value" in answer.content.decode()
                   for answer in answers)


def test_only_admins_keep_shared_secrets(api, owner):
    refused = add(api, "deploy_key", shared=True)
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["error"]
    assert not BuildSecret.objects.exists()
    assert AuditEntry.objects.get(action="secret-add").outcome == "denied"
    assert add(bearer(owner), "deploy_key", shared=True).status_code == 201
    shared = BuildSecret.objects.get()
    assert shared.shared
    assert [row["name"] for row in api.get("/api/secrets").json()["shared"]] == ["deploy_key"]
    assert api.delete(f"/api/secrets/{shared.pk}").status_code == 404
    assert api.put(f"/api/secrets/{shared.pk}", {"value": "x"}, content_type="application/json").status_code == 404


def test_a_bad_name_or_a_duplicate_is_refused_with_the_fields_reason(api):
    response = add(api, "has space")
    assert response.status_code == 400 and "Up to 64 letters" in response.json()["fields"]["name"][0]["message"]
    add(api, "npm_token")
    response = add(api, "npm_token")
    assert response.status_code == 400 and "already have a secret" in response.json()["fields"]["name"][0]["message"]


def test_a_build_chooses_secrets_by_name(api, base_image, live_settings):
    # live_settings: the job is queued on this run's own queue.
    add(api, "npm_token")
    add(api, "pip_conf")
    fields = {"source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}
    refused = api.post("/api/builds", {**fields, "secrets": ["someone_elses"]})
    assert refused.status_code == 400 and "secrets" in refused.json()["fields"]
    response = api.post("/api/builds", {**fields, "secrets": ["npm_token", "pip_conf"]})
    assert response.status_code == 201, response.content
    assert Job.objects.get().params["secrets"] == ["npm_token", "pip_conf"]
