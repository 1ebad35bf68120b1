"""A Content Security Policy that lets pages load only Dockyard's own files.

Django 5.2 has no CSP support of its own; the policy is one fixed header, since
no page uses inline scripts or styles.
"""

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


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
