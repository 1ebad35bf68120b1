"""A Content Security Policy that lets pages load only Dockyard's own files.

Django 5.2 has no CSP support of its own; the policy is one fixed header, since
no page uses inline scripts or styles.
"""

from urllib.parse import urlsplit

from django.conf import settings

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",  # includes ws:/wss: to the same host
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
])
# A page with a terminal: xterm.js sizes and colours its screen with <style>
# elements it writes (and cannot give a nonce). Scripts stay the site's own.
TERMINAL_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")




def with_identity_provider(policy, issuer):
    """The policy, letting forms lead to the identity provider's origin: logging
    out posts to Dockyard, which redirects to the provider's logout, and a
    browser holds a form's redirects to form-action too."""
    if not issuer:
        return policy
    parts = urlsplit(issuer)
    return policy.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = with_identity_provider(POLICY, settings.DOCKYARD_OIDC_ISSUER)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
