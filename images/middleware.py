from django.contrib.auth.models import AnonymousUser
from django.shortcuts import render

from images.engine import EngineUnavailable, ImageNotFound
from images.models import ApiToken


class EngineErrorMiddleware:
    """Engine failures raised anywhere in a view become pages that say what was
    tried, with the right status, instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path.startswith("/api/"):
            return None  # the API answers in JSON itself
        if isinstance(exception, EngineUnavailable):
            return render(request, "errors/engine_unavailable.html", {"error": exception}, status=503)
        if isinstance(exception, ImageNotFound):
            return render(request, "errors/image_not_found.html", {"reference": exception.reference, "reason": exception.reason}, status=404)
        return None


class BearerTokenMiddleware:
    """`Authorization: Bearer <token>` logs a script in as the token's owner for
    that one request. CSRF protects cookies, which such a request does not use."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user = ApiToken.user_for(header[len("Bearer "):].strip())
            request.user = user if user is not None else AnonymousUser()
            request.token_auth = True
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)
