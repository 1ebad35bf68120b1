"""Signing in through a real OpenID provider: npm's oidc-provider (OpenID
Certified) under Node on loopback (tests/oidc), its own login form in Chromium,
a Dockyard server configured for it, and roles from the groups it names."""

import pytest
from playwright.sync_api import expect

from images.accounts import roles
from images.models import AuditEntry, OidcIdentity
from tests import live
from tests.oidc_provider import RealProvider
from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report

pytestmark = pytest.mark.browser

# The provider's users (its passwords, not Dockyard's: Dockyard never sees them).
USERS = {
    "alice": {"password": "alice-at-the-idp-1", "groups": ["dockyard-builders", "dockyard-viewers"],
              "email": "alice@example.com", "name": "Alice"},
    "bob": {"password": "bob-at-the-idp-1", "groups": ["dockyard-viewers"], "email": "bob@example.com", "name": "Bob"},
}


@pytest.fixture(scope="module")
def provider():
    provider = RealProvider(USERS)
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def oidc_server(live_settings, provider):
    with live.own_server(live_settings, "oidc", **provider.dockyard_env()) as server:
        provider.start(server.url)
        yield server


@pytest.fixture
def provider_users(provider):
    provider.set_users(USERS)
    yield provider
    provider.set_users(USERS)


def sign_in(browser, server, login):
    """A new browser (no session at Dockyard or the provider) signed in through the provider's form."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.locator("h1")).to_have_text("Test provider sign-in")
    page.get_by_label("User name").fill(login)
    page.get_by_label("Password").fill(USERS[login]["password"])
    page.get_by_role("button", name="Sign in to the test provider").click()
    # Between the click and the list: the provider's redirects, then Dockyard asking it for the token, its keys
    # and the user's groups, then the engine for the list; on a loaded machine that outlasts expect's 5 s.
    expect(page.locator("h1")).to_have_text("Images", timeout=30_000)
    expect(page.locator("form.user a")).to_have_text(login)
    return context, page


def build_link(page):
    return page.get_by_role("navigation", name="Sections").get_by_role("link", name="Build", exact=True)


def test_people_sign_in_with_the_role_their_groups_give(browser, oidc_server, provider_users, transactional_db):
    context, page = sign_in(browser, oidc_server, "alice")
    expect(build_link(page)).to_be_visible()  # a builder's menu
    context.close()
    context, page = sign_in(browser, oidc_server, "bob")
    expect(build_link(page)).to_have_count(0)  # a viewer's
    context.close()
    alice, bob = (OidcIdentity.objects.get(subject=name).user for name in ("alice", "bob"))
    assert (roles.role_of(alice), roles.role_of(bob)) == (roles.BUILDER, roles.VIEWER)
    assert not alice.has_usable_password()


def test_leaving_a_group_drops_its_role_at_the_next_sign_in(browser, oidc_server, provider_users,
                                                            transactional_db):
    context, page = sign_in(browser, oidc_server, "alice")
    expect(build_link(page)).to_be_visible()
    context.close()
    provider_users.set_users({**USERS, "alice": {**USERS["alice"], "groups": ["dockyard-viewers"]}})
    context, page = sign_in(browser, oidc_server, "alice")
    expect(build_link(page)).to_have_count(0)
    page.goto("/build/")
    expect(page.locator("body")).to_contain_text("needs the builder role")
    context.close()
    entry = AuditEntry.objects.filter(action="user-role", target="alice").first()
    assert entry.detail == "role from claims: builder -> viewer"


def test_logging_out_ends_the_providers_session_too(browser, oidc_server, provider_users, transactional_db):
    context, page = sign_in(browser, oidc_server, "bob")
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page.locator("h1")).to_have_text("Log in to Dockyard")
    # Signing in again asks for the password again: the provider forgot the browser too.
    page.get_by_role("link", name="Sign in with Test IdP").click()
    expect(page.locator("h1")).to_have_text("Test provider sign-in")
    context.close()


def test_the_login_page_and_its_provider_button_are_accessible(browser, oidc_server, transactional_db):
    context = browser.new_context(base_url=oidc_server.url, viewport={"width": 1280, "height": 900},
                                  bypass_csp=True)
    page = context.new_page()
    found = []
    for where, url in (("login page", "/login/"), ("refused sign-in", "/login/oidc/callback?code=x")):
        page.goto(url)
        expect(page.get_by_role("link", name="Sign in with Test IdP")).to_be_visible()
        found += [(where, violation) for violation in axe_violations(page) if violation["impact"] in FAILING_IMPACTS]
    context.close()
    assert not found, report(found)
