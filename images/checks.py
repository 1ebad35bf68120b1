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
