"""Refusals Django makes itself, on a page of Dockyard's saying why."""

from django.shortcuts import render


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form sent without its token, or with an old one
    (a page left open past a login elsewhere), told what to do, not Django's
    developer page."""
    return render(request, "403.html", {
        "exception": "This form's security token is missing or out of date: reload the page and send it again.",
    }, status=403)
