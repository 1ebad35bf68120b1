"""API tokens (one's own) and users and roles (admins) through the API."""

from django.contrib.auth import get_user_model
from django.test import Client

from images.accounts import roles
from images.models import ApiToken, AuditEntry
from tests.apiclient import bearer, entry
from tests.conftest import PASSWORDS, make_user


def test_a_person_makes_lists_and_revokes_their_own_tokens(db):
    viewer = make_user("viewer", roles.VIEWER)
    api = bearer(viewer, "laptop")
    made = api.post("/api/tokens", {"name": "ci on build-01"}, content_type="application/json")
    assert made.status_code == 201, made.content
    token = made.json()["token"]
    stored = ApiToken.objects.get(name="ci on build-01")
    assert token.startswith("dky_") and made.json()["prefix"] == token[:8] == stored.prefix
    assert stored.digest == ApiToken.hash(token)  # only its hash is kept
    assert entry("token-create").target == f"ci on build-01 ({stored.prefix}…)"
    listed = api.get("/api/tokens")
    assert sorted(row["name"] for row in listed.json()) == ["ci on build-01", "laptop"]
    assert token not in listed.content.decode()  # shown once, then only its start

    other = make_user("builder", roles.BUILDER)
    theirs, their_token = ApiToken.issue(other, "theirs")
    assert api.delete(f"/api/tokens/{theirs.pk}").status_code == 404  # not one's own
    assert api.delete(f"/api/tokens/{stored.pk}").status_code == 204
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/images").status_code == 401
    assert Client(HTTP_AUTHORIZATION=f"Bearer {their_token}").get("/api/tokens").status_code == 200
    assert entry("token-revoke").target == f"ci on build-01 ({stored.prefix}…)"


def test_an_admin_adds_a_user_with_a_role_and_changes_it(owner):
    api = bearer(owner)
    made = api.post("/api/users", {"username": "newcomer", "password": PASSWORDS["newcomer"], "role": "builder"},
                    content_type="application/json")
    assert made.status_code == 201, made.content
    newcomer = get_user_model().objects.get(username="newcomer")
    assert made.json() == {"id": newcomer.pk, "username": "newcomer", "role": "builder", "active": True}
    assert newcomer.check_password(PASSWORDS["newcomer"]) and roles.role_of(newcomer) == roles.BUILDER
    assert entry("user-create").detail == "role builder"
    assert {(row["username"], row["role"]) for row in api.get("/api/users").json()} == {
        ("owner", "admin"), ("newcomer", "builder")}

    changed = api.put(f"/api/users/{newcomer.pk}/role", {"role": "viewer", "active": False},
                      content_type="application/json")
    assert changed.status_code == 200 and changed.json()["role"] == "viewer" and changed.json()["active"] is False
    newcomer.refresh_from_db()
    assert roles.role_of(newcomer) == roles.VIEWER and not newcomer.is_active
    assert entry("user-role").detail == "builder -> viewer, inactive"


def test_a_weak_password_or_a_change_of_ones_own_role_is_refused(owner):
    api = bearer(owner)
    weak = api.post("/api/users", {"username": "newcomer", "password": "newcomer", "role": "viewer"},
                    content_type="application/json")
    assert weak.status_code == 400 and "password2" in weak.json()["fields"]
    mine = api.put(f"/api/users/{owner.pk}/role", {"role": "viewer", "active": True},
                   content_type="application/json")
    assert mine.status_code == 409 and "your own role" in mine.json()["error"]
    assert roles.role_of(owner) == roles.ADMIN
    assert not AuditEntry.objects.filter(action__startswith="user").exists()


def test_the_user_list_costs_the_same_queries_for_any_number_of_accounts(owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = bearer(owner)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/users").status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for number in range(8):
        roles.assign(get_user_model().objects.create_user(f"someone-{number}"), roles.VIEWER)
    assert queries() == few
