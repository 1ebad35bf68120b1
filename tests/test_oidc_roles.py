"""What a sign-in through the identity provider does to accounts and roles
(images.accounts.oidc.sign_in, given claims Authlib has already checked), the
password login with DOCKYARD_LOCAL_LOGIN off, and the settings' own checks."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from images.accounts import oidc, roles
from images.accounts.role_claims import parse_mapping
from images.checks import check_identity_provider
from images.models import ApiToken, AuditEntry, EngineRole, OidcIdentity
from tests.conftest import PASSWORDS, make_user
from tests.test_security_headers import ROOT, documented_production_settings

ISSUER = "https://id.example.com/realms/team"
MAPPING = "dockyard-admins=admin, team-a=builder, team-a=builder@staging, auditors=viewer@staging"


@pytest.fixture
def mapping(settings):
    settings.DOCKYARD_ENGINES = {**settings.DOCKYARD_ENGINES, "staging": "tcp://127.0.0.1:1"}
    settings.DOCKYARD_OIDC_ISSUER = ISSUER
    settings.DOCKYARD_OIDC_ROLES = parse_mapping(MAPPING, list(settings.DOCKYARD_ENGINES))
    return settings


def claims(groups, sub="s-1", name="dana"):
    return {"sub": sub, "preferred_username": name, "groups": groups}


def staging_role(user):
    return EngineRole.objects.filter(user=user, engine="staging").values_list("role", flat=True).first()


def test_groups_give_global_and_engine_roles_and_take_them_back(db, mapping):
    user = oidc.sign_in(claims(["team-a", "unmapped"]), ISSUER)
    assert (roles.role_of(user), staging_role(user)) == (roles.BUILDER, roles.BUILDER)
    user = oidc.sign_in(claims(["auditors"]), ISSUER)
    assert (roles.role_of(user), staging_role(user)) == (None, roles.VIEWER)
    assert OidcIdentity.objects.get().groups == ["auditors"]
    details = list(AuditEntry.objects.filter(action="user-role").order_by("pk").values_list("detail", flat=True))
    assert details == ["role from claims: none -> builder; on staging: none -> builder",
                       "role from claims: builder -> none; on staging: builder -> viewer"]


def test_the_highest_role_the_groups_earn_wins(db, mapping):
    assert roles.role_of(oidc.sign_in(claims(["team-a", "dockyard-admins"]), ISSUER)) == roles.ADMIN


def test_roles_given_by_hand_stay_unless_the_mapping_owns_roles(db, mapping):
    user = oidc.sign_in(claims(["team-a"]), ISSUER)
    roles.assign(user, roles.ADMIN)  # an admin's doing
    EngineRole.objects.filter(user=user).update(role=roles.VIEWER)
    user = oidc.sign_in(claims([]), ISSUER)
    assert (roles.role_of(user), staging_role(user)) == (roles.ADMIN, roles.VIEWER)
    mapping.DOCKYARD_OIDC_OWNS_ROLES = True
    user = oidc.sign_in(claims([]), ISSUER)
    assert (roles.role_of(user), staging_role(user)) == (None, None)


def test_accounts_are_keyed_by_issuer_and_subject_never_by_name(db, mapping):
    local = make_user("owner", roles.ADMIN)
    # The provider names someone "owner": they get an account of their own, not the local admin's.
    user = oidc.sign_in(claims(["team-a"], sub="s-9", name="owner"), ISSUER)
    assert user != local and user.get_username().startswith("owner-")
    assert not user.has_usable_password()
    # Renamed at the provider, same subject: the same account.
    assert oidc.sign_in(claims(["team-a"], sub="s-9", name="someone-else"), ISSUER) == user
    # The same subject at another issuer is another person.
    assert oidc.sign_in(claims([], sub="s-9", name="x"), "https://other.example") != user


def test_api_tokens_work_until_the_account_is_deactivated_and_then_it_cannot_sign_in(db, mapping):
    user = oidc.sign_in(claims(["team-a"]), ISSUER)
    _, secret = ApiToken.issue(user, "ci")
    assert ApiToken.user_for(secret) == user
    user.is_active = False
    user.save()
    with pytest.raises(oidc.SignInRefused, match="deactivated"):
        oidc.sign_in(claims(["team-a"]), ISSUER)
    assert ApiToken.user_for(secret) is None


def test_with_local_login_off_only_break_glass_accounts_use_a_password(client, db, settings):
    settings.DOCKYARD_LOCAL_LOGIN = False
    settings.DOCKYARD_OIDC_ISSUER, settings.DOCKYARD_OIDC_NAME = ISSUER, "Team SSO"
    make_user("builder", roles.BUILDER)
    response = client.post(reverse("login"), {"username": "builder", "password": PASSWORDS["builder"]})
    assert "Password login is turned off here: sign in with Team SSO." in response.content.decode()
    assert "_auth_user_id" not in client.session
    owner = make_user("owner", roles.ADMIN)
    owner.groups.add(Group.objects.get(name=roles.BREAK_GLASS))
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORDS["owner"]})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(owner.pk)


def test_the_login_page_offers_the_provider(client, db, settings):
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
    settings.DOCKYARD_OIDC_ISSUER, settings.DOCKYARD_OIDC_NAME = ISSUER, "Team SSO"
    page = client.get(reverse("login") + "?next=/jobs/").content.decode()
    assert 'href="/login/oidc/?next=/jobs/"' in page and "Sign in with Team SSO" in page


@pytest.mark.parametrize("raw, error", [
    ("team-a=owner", "names the role 'owner'"),
    ("team-a=builder@nowhere", "names the engine 'nowhere'"),
    ("team-a", "is not group=role"),
])
def test_a_mapping_that_cannot_be_meant_is_refused(raw, error):
    with pytest.raises(ImproperlyConfigured, match=error):
        parse_mapping(raw, ["default"])


def test_the_documented_production_settings_sign_in_through_a_provider():
    # tests/test_security_headers.py runs `check --deploy` with these settings, so with a provider.
    production = documented_production_settings()
    assert production["DOCKYARD_OIDC_ISSUER"].startswith("https://") and production["DOCKYARD_OIDC_ROLES"]
    assert parse_mapping(production["DOCKYARD_OIDC_ROLES"], ["default"])


def test_the_production_check_warns_of_an_issuer_without_https():
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            capture_output=True, text=True, env={**env, **documented_production_settings(),
                                                                 "DOCKYARD_OIDC_ISSUER": "http://id.example.com/t"})
    assert result.returncode != 0 and "dockyard.W003" in result.stderr and "not https" in result.stderr


@pytest.mark.parametrize("issuer, warned", [
    ("http://id.example.com/realms/team", True),
    ("https://id.example.com/realms/team", False),
    # A provider on this host's loopback is reached without crossing the network.
    ("http://127.0.0.1:8080/realms/team", False),
    ("http://[::1]:8080/", False),
])
def test_which_issuers_the_production_check_warns_of(settings, issuer, warned):
    settings.DOCKYARD_OIDC_ISSUER, settings.DOCKYARD_OIDC_CLIENT_SECRET = issuer, "a-secret"
    settings.DOCKYARD_OIDC_ROLES = [("g", "viewer", "")]
    assert [w.id for w in check_identity_provider(None)] == (["dockyard.W003"] if warned else [])
