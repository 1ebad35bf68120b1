"""Warnings `manage.py check --deploy` gives about Dockyard's own settings."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

TRUST_THE_PROXY = ("Set DOCKYARD_TRUSTED_PROXIES to the proxy's address (127.0.0.1 for a proxy on this host): "
                   "the client's address is then read from its X-Forwarded-For.")


@register(Tags.security, deploy=True)
def check_proxy_settings(app_configs, **kwargs):
    """Behind a TLS proxy that is not trusted, every request comes from the
    proxy's address: the login throttle and the audit log see only it; and if
    it may read /metrics without the token (loopback may, by default, and the
    README puts the proxy on the same host), so may everyone it serves."""
    if not settings.DOCKYARD_BEHIND_TLS or settings.DOCKYARD_TRUSTED_PROXIES:
        return []
    warnings = [Warning(
        "DOCKYARD_BEHIND_TLS is on but DOCKYARD_TRUSTED_PROXIES is empty: every request seems to come from the "
        "proxy, so failed logins for a user name from anyone lock that name out for everyone, and the audit log "
        "records the proxy's address for all.",
        hint=TRUST_THE_PROXY, id="dockyard.W001")]
    if settings.DOCKYARD_METRICS_ALLOW:
        allowed = ", ".join(str(network) for network in settings.DOCKYARD_METRICS_ALLOW)
        warnings.append(Warning(
            f"/metrics is readable without DOCKYARD_METRICS_TOKEN from {allowed} (DOCKYARD_METRICS_ALLOW); "
            "behind a proxy that is not trusted, a request the proxy forwards comes from the proxy's address, so "
            "if that is one of these (a proxy on this host), everyone the proxy serves can read /metrics.",
            hint=f"{TRUST_THE_PROXY} Or set DOCKYARD_METRICS_ALLOW= (empty) and scrape with the token.",
            id="dockyard.W002"))
    return warnings


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register(Tags.security, deploy=True)
def check_identity_provider(app_configs, **kwargs):
    """The provider's discovery document, keys and tokens come from the issuer's
    URL: over plain http anyone on the way could hand Dockyard keys of their own
    and sign in as anyone. Loopback (a provider on this host) is the exception."""
    from urllib.parse import urlsplit

    warnings = []
    for name in ("DOCKYARD_OIDC_ISSUER", "DOCKYARD_OIDC_REDIRECT_URI"):
        url = getattr(settings, name)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme != "https" and (parts.hostname or "") not in LOOPBACK_HOSTS:
            warnings.append(Warning(
                f"{name} is {url}, not https: the sign-in through the identity provider (its keys, its tokens, "
                "the code sent back) would cross the network unencrypted.",
                hint=f"Use the https:// URL of {'the issuer' if name.endswith('ISSUER') else 'Dockyard'}.",
                id="dockyard.W003"))
    if settings.DOCKYARD_OIDC_ISSUER and not settings.DOCKYARD_OIDC_CLIENT_SECRET:
        warnings.append(Warning(
            "DOCKYARD_OIDC_CLIENT_SECRET is empty: Dockyard signs in as a public client, which only PKCE protects.",
            hint="Register Dockyard at the provider as a confidential client and set its secret.", id="dockyard.W004"))
    if settings.DOCKYARD_OIDC_ISSUER and not settings.DOCKYARD_OIDC_ROLES:
        warnings.append(Warning(
            "DOCKYARD_OIDC_ROLES is empty: accounts made at sign-in get no role until an admin gives them one.",
            hint="Map the provider's groups to roles, e.g. DOCKYARD_OIDC_ROLES=dockyard-admins=admin,team-a=builder.",
            id="dockyard.W005"))
    return warnings
