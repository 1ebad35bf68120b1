"""Sign-ins through the identity provider that must fail: each is refused with a
clear message, and nobody is signed in. A real provider does not misbehave on
request, so tests/oidc_provider.MisbehavingProvider stands in for one here: its
discovery, key set and token endpoint are real HTTP on loopback, and its ID
tokens are the ones each test crafts. Authlib checks them as it checks the real
provider's (tests/test_oidc_login.py)."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from joserfc.jwk import RSAKey

from images.models import AuditEntry, OidcIdentity
from tests.oidc_provider import CLIENT_ID, MisbehavingProvider


@pytest.fixture(scope="module")
def provider():
    provider = MisbehavingProvider()
    yield provider
    provider.stop()


@pytest.fixture
def oidc(provider, settings, db):
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    return provider


def start(client):
    """Press the login page's button: the state and nonce the provider is sent."""
    response = client.get(reverse("oidc-start"))
    assert response.status_code == 302, response.content.decode()[:500]
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    return query["state"][0], query["nonce"][0]


def finish(client, state):
    return client.get(reverse("oidc-callback"), {"code": "a-code", "state": state})


def assert_refused(response, client, message):
    page = response.content.decode()
    assert response.status_code == 400, page[:500]
    assert message in page
    assert "_auth_user_id" not in client.session
    assert not OidcIdentity.objects.exists()
    assert AuditEntry.objects.filter(action="login", outcome="refused").exists()


def test_a_good_token_signs_in(client, oidc):
    # The harness itself: the same provider and flow with a good token do sign in.
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce))
    response = finish(client, state)
    assert response.status_code == 302 and response["Location"] == reverse("images-list")
    assert client.get(reverse("images-list")).status_code == 200
    assert OidcIdentity.objects.get().user.get_username() == "mallory"
    # The code went back with the PKCE verifier and the exact redirect URI.
    sent = oidc.token_requests[-1]
    assert sent["code_verifier"] and sent["redirect_uri"] == ["http://testserver/login/oidc/callback"]


def test_a_second_sign_in_asks_the_provider_only_for_its_token(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce))
    assert finish(client, state).status_code == 302
    client.post(reverse("logout"))
    before = len(oidc.paths)
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce))
    assert finish(client, state).status_code == 302
    # Discovery and the keys were fetched once per process; the groups came in the ID token.
    assert oidc.paths[before:] == ["/token"]


def test_a_tampered_token_is_refused(client, oidc):
    state, nonce = start(client)
    header, payload, signature = oidc.sign(oidc.claims(nonce)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["groups"] = ["dockyard-admins"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    oidc.id_token = f"{header}.{forged}.{signature}"
    assert_refused(finish(client, state), client, "signature does not check out")


def test_a_token_for_another_client_is_refused(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce, aud="another-client"))
    assert_refused(finish(client, state), client, "issued to another client")


def test_a_replayed_state_is_refused(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce))
    assert finish(client, state).status_code == 302
    # The same answer again, in the same browser: its state was used up the first time.
    response = finish(client, state)
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert "_auth_user_id" not in client.session  # the refusal ended the session too
    assert AuditEntry.objects.filter(action="login", outcome="refused", detail__contains="state").exists()


def test_a_token_without_the_nonce_is_refused(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce, nonce=None))
    assert_refused(finish(client, state), client, "does not carry the nonce")


def test_a_token_with_another_nonce_is_refused(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims("a-nonce-of-another-sign-in"))
    assert_refused(finish(client, state), client, "does not carry the nonce")


def test_an_expired_token_is_refused(client, oidc, settings):
    state, nonce = start(client)
    now = oidc.claims(nonce)["iat"]
    # Expired longer ago than the clock skew allowed.
    oidc.id_token = oidc.sign(oidc.claims(nonce, iat=now - 900, exp=now - settings.DOCKYARD_OIDC_CLOCK_SKEW - 30))
    assert_refused(finish(client, state), client, "has expired")


@pytest.mark.parametrize("kid", ["provider-key", "a-key-it-never-published"])
def test_a_token_signed_by_another_key_is_refused(client, oidc, kid):
    state, nonce = start(client)
    other = RSAKey.generate_key(2048, parameters={"kid": kid})
    oidc.id_token = oidc.sign(oidc.claims(nonce), key=other)
    assert_refused(finish(client, state), client, "signature does not check out")


def test_a_token_from_another_issuer_is_refused(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce, iss="https://elsewhere.example"))
    assert_refused(finish(client, state), client, "another provider")


def test_no_state_at_all_is_refused(client, oidc):
    response = client.get(reverse("oidc-callback"), {"code": "a-code"})
    assert response.status_code == 400 and "Sign in again" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_refusal_from_the_provider_is_shown(client, oidc):
    state, _ = start(client)
    response = client.get(reverse("oidc-callback"), {"state": state, "error": "access_denied",
                                                     "error_description": "not in this tenant"})
    assert_refused(response, client, "refused the sign-in (access_denied: not in this tenant)")


def test_a_key_the_provider_rotated_to_is_fetched_and_trusted(client, oidc):
    state, nonce = start(client)
    oidc.id_token = oidc.sign(oidc.claims(nonce))
    assert finish(client, state).status_code == 302
    client.post(reverse("logout"))
    old = oidc.key
    oidc.key = RSAKey.generate_key(2048, parameters={"kid": "rotated-key"})
    try:
        before = len(oidc.paths)
        state, nonce = start(client)
        oidc.id_token = oidc.sign(oidc.claims(nonce))
        assert finish(client, state).status_code == 302
        assert "_auth_user_id" in client.session
        assert oidc.paths[before:] == ["/token", "/jwks"]
    finally:
        oidc.key = old
