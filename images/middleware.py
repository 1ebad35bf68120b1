from django.shortcuts import render

from images.engine import EngineUnavailable, ImageNotFound


class EngineErrorMiddleware:
    """Engine failures raised anywhere in a view become pages that say what was
    tried, with the right status, instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, EngineUnavailable):
            return render(request, "errors/engine_unavailable.html", {"error": exception}, status=503)
        if isinstance(exception, ImageNotFound):
            return render(request, "errors/image_not_found.html", {"reference": exception.reference, "reason": exception.reason}, status=404)
        return None
