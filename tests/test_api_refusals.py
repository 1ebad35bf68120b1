"""What a token may do is exactly its owner's role: every API action refused to
the role below the one it needs, with nothing changed and the refusal audited."""

import json

from images.accounts import roles
from images.models import AuditEntry
from tests import dockerlib
from tests.apiclient import bearer
from tests.conftest import make_user
from tests.test_roles import context_upload, dockyard_state, scene  # noqa: F401 - the fixture


def builder_actions(s):
    """(method, path, JSON body or form) for everything a builder may do and a viewer may not."""
    hex_id = s["hex"]
    return [
        ("post", "/api/builds", {"source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}),
        ("post", "/api/pulls", json.dumps({"reference": "127.0.0.1:5000/nothing/here:1"})),
        ("post", "/api/import", {"archive": context_upload()}),
        ("post", f"/api/images/{hex_id}/rebuild", None),
        ("post", f"/api/images/{hex_id}/tags", json.dumps({"repository": "viewer-made", "tag": "x"})),
        ("post", f"/api/images/{hex_id}/untag", json.dumps({"tag": s["tag"]})),
        ("post", f"/api/images/{hex_id}/push", json.dumps({"tag": s["tag"]})),
        ("get", f"/api/images/{hex_id}/export", None),
        ("post", f"/api/tag-moves/{s['move'].pk + 1}/rollback", None),
        ("post", f"/api/jobs/{s['job'].pk}/retry", None),
        ("post", f"/api/jobs/{s['job'].pk}/cancel", None),
    ]


def admin_actions(s):
    """(method, path, body) for what only an admin may do."""
    registry = s["registry"].pk
    return [
        ("post", "/api/remove", json.dumps({"images": [s["image_id"]], "force": True})),
        ("get", "/api/prune", None),
        ("post", "/api/prune", json.dumps({"all": True})),
        ("get", "/api/registries", None),
        ("post", "/api/registries", json.dumps({"address": "127.0.0.1:5998", "username": "u", "password": "p"})),
        ("put", f"/api/registries/{registry}", json.dumps({"address": "10.0.0.1", "username": "x"})),
        ("delete", f"/api/registries/{registry}", None),
        ("post", f"/api/registries/{registry}/test", None),
        ("get", "/api/users", None),
        ("post", "/api/users", json.dumps({"username": "intruder", "password": "Zx9-long-pass", "role": "admin"})),
        ("put", f"/api/users/{s['builder'].pk}/role", json.dumps({"role": "admin", "active": True})),
        ("get", "/api/audit", None),
        ("get", "/api/audit/export.csv", None),
        ("get", "/api/audit/export.jsonl", None),
    ]


def call(api, method, path, body):
    if isinstance(body, str):
        return getattr(api, method)(path, body, content_type="application/json")
    return getattr(api, method)(path, body) if body is not None else getattr(api, method)(path)


def this_runs_images():
    """This test run's images with their tags (other checkouts share the engine)."""
    return sorted(dockerlib.docker("images", "--no-trunc", "--filter", f"label={dockerlib.TEST_LABEL}",
                                   "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").splitlines())


def assert_refused(api, actions, role_name, needed):
    for method, path, body in actions:
        response = call(api, method, path, body)
        assert response.status_code == 403, (method, path, response.status_code, response.content[:300])
        error = response.json()["error"]
        assert f"Your role ({role_name}) does not allow this" in error and f"needs the {needed} role" in error, path


def test_a_viewers_token_does_none_of_a_builders_actions(scene):
    viewer = make_user("viewer", roles.VIEWER)
    api = bearer(viewer)
    images_before, rows_before = this_runs_images(), dockyard_state()
    assert_refused(api, builder_actions(scene), "viewer", "builder")
    assert_refused(api, admin_actions(scene), "viewer", "admin")
    assert this_runs_images() == images_before and dockyard_state() == rows_before
    denied = AuditEntry.objects.filter(actor=viewer, outcome="denied")
    assert denied.count() == len(builder_actions(scene)) + len(admin_actions(scene))
    assert set(denied.values_list("via", flat=True)) == {"token"}


def test_a_builders_token_does_none_of_an_admins_actions(scene):
    api = bearer(scene["builder"])
    images_before, rows_before = this_runs_images(), dockyard_state()
    assert_refused(api, admin_actions(scene), "builder", "admin")
    theirs = ("post", f"/api/jobs/{scene['job'].pk}/cancel", None)
    scene["job"].created_by = scene["owner"]
    scene["job"].save(update_fields=["created_by"])
    assert_refused(api, [theirs], "builder", "admin")  # another's job
    assert this_runs_images() == images_before and dockyard_state() == rows_before


def test_a_token_of_an_account_without_a_role_reads_nothing(scene):
    api = bearer(make_user("nobody", None))
    for path in ("/api/images", f"/api/jobs/{scene['job'].pk}", "/api/jobs", "/api/tokens", "/api/schema"):
        response = api.get(path)
        assert response.status_code == 403 and "Your account has no role yet" in response.json()["error"], path
