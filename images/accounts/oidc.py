"""Sign-in through the team's OpenID Connect provider, with Authlib.

Authlib does the protocol: discovery from the issuer's
/.well-known/openid-configuration, the authorization code flow with PKCE (S256),
`state` kept in the session and used once, and the ID token's checks: its
signature against the provider's JWKS (fetched again when a token names a key
it has not seen, so keys the provider rotates are picked up), `iss`, `aud`,
`exp` and `iat` with DOCKYARD_OIDC_CLOCK_SKEW, and `nonce`.

What is Dockyard's is here: an account per issuer and subject (never found by
e-mail or name), and its roles from the provider's groups at every sign-in
(DOCKYARD_OIDC_ROLES), each change audited as "role from claims".
"""

import functools
import hashlib

from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from images import engines
from images.accounts import audit, roles
from images.accounts.role_claims import GLOBAL, groups_in, roles_for
from images.models import EngineRole, OidcIdentity

CLIENT_NAME = "dockyard"


class SignInRefused(Exception):
    """A sign-in Dockyard will not complete, with what the person is told."""


def enabled():
    return bool(settings.DOCKYARD_OIDC_ISSUER)


def client():
    """The provider's client, one per process and configuration: its discovery
    document and keys are fetched once, and the keys again when they rotate."""
    return _client(settings.DOCKYARD_OIDC_ISSUER, settings.DOCKYARD_OIDC_CLIENT_ID,
                   settings.DOCKYARD_OIDC_CLIENT_SECRET, tuple(settings.DOCKYARD_OIDC_SCOPES))


@functools.lru_cache(maxsize=4)
def _client(issuer, client_id, client_secret, scopes):
    oauth = OAuth()
    return oauth.register(
        CLIENT_NAME, client_id=client_id, client_secret=client_secret or None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": " ".join(scopes), "code_challenge_method": "S256", "default_timeout": 10,
                       # No secret: a public client, which PKCE alone protects.
                       **({} if client_secret else {"token_endpoint_auth_method": "none"})},
    )


def metadata(provider):
    """The provider's discovery document, refused unless it names the configured
    issuer (OpenID Connect Discovery 1.0, 4.3): `iss` is checked against it."""
    found = provider.load_server_metadata()
    if found.get("issuer", "").rstrip("/") != settings.DOCKYARD_OIDC_ISSUER:
        raise SignInRefused(f"The provider's discovery document names the issuer {found.get('issuer')!r}, not "
                            f"DOCKYARD_OIDC_ISSUER ({settings.DOCKYARD_OIDC_ISSUER}).")
    return found


def sign_in(claims, issuer):
    """The account for verified ID token `claims` (with the user info's, if any),
    made at the first sign-in, with its roles from the groups the claims name."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused("The provider's ID token names no subject.")
    groups = groups_in(claims, settings.DOCKYARD_OIDC_GROUPS_CLAIM)
    with transaction.atomic():
        identity = (OidcIdentity.objects.select_for_update().select_related("user")
                    .filter(issuer=issuer, subject=subject).first())
        if identity is None:
            user = get_user_model().objects.create_user(_free_username(claims, issuer, subject))
            user.set_unusable_password()
            user.email = claims.get("email", "") if isinstance(claims.get("email"), str) else ""
            user.save()
            identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
            audit.record(user, "user-create", user.get_username(), detail=f"at first sign-in through {issuer}")
        user = identity.user
        if not user.is_active:
            audit.record(user, "login", user.get_username(), audit.REFUSED, detail="the account is deactivated")
            raise SignInRefused("Your Dockyard account is deactivated; ask a Dockyard admin.")
        _apply_claimed_roles(user, identity, roles_for(groups, settings.DOCKYARD_OIDC_ROLES))
        identity.groups = sorted(groups)
        identity.save(update_fields=["claimed_roles", "groups"])
    return user


def _free_username(claims, issuer, subject):
    """The provider's name for the person if no account has it (an existing
    account of that name is someone else's until an admin says otherwise), else
    one made from it and the subject."""
    wanted = claims.get(settings.DOCKYARD_OIDC_USERNAME_CLAIM) or claims.get("email") or ""
    if not isinstance(wanted, str):
        wanted = ""
    wanted = "".join(ch for ch in wanted if ch.isalnum() or ch in "@.+-_")[:120]
    users = get_user_model().objects
    if wanted and not users.filter(username=wanted).exists():
        return wanted
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:12]
    return f"{wanted or 'oidc'}-{digest}"


def _apply_claimed_roles(user, identity, earned):
    """Set each role the groups decide, globally and per engine. A role the
    groups gave at the last sign-in (or none) follows the groups; one an admin
    gave by hand stays, unless DOCKYARD_OIDC_OWNS_ROLES."""
    before = identity.claimed_roles or {}
    owns = settings.DOCKYARD_OIDC_OWNS_ROLES
    changes = []
    current = None if user.is_superuser else roles.role_of(user)
    wanted = earned.get(GLOBAL)
    if not user.is_superuser and current != wanted and (owns or current is None or current == before.get(GLOBAL)):
        roles.assign(user, wanted)
        changes.append(f"{current or 'none'} -> {wanted or 'none'}")
    held = dict(EngineRole.objects.filter(user=user).values_list("engine", "role"))
    for engine in sorted(set(held) | set(earned) | set(before)):
        if engine == GLOBAL or engine not in engines.names():
            continue
        current, wanted = held.get(engine), earned.get(engine)
        if current == wanted or not (owns or current is None or current == before.get(engine)):
            continue
        if wanted:
            EngineRole.objects.update_or_create(user=user, engine=engine, defaults={"role": wanted})
        else:
            EngineRole.objects.filter(user=user, engine=engine).delete()
        changes.append(f"on {engine}: {current or 'none'} -> {wanted or 'none'}")
    identity.claimed_roles = earned
    if changes:
        user._dockyard_engine_roles = None  # roles.engine_role's cache
        audit.record(user, "user-role", user.get_username(), detail="role from claims: " + "; ".join(changes))
