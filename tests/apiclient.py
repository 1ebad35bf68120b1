"""A script's view of Dockyard: a test client with a bearer token."""

from django.test import Client

from images.models import ApiToken, AuditEntry


def bearer(user, name="ci"):
    _, token = ApiToken.issue(user, name)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def entry(action, **lookups):
    """The one audit entry of `action` (and `lookups`), which a token wrote."""
    found = AuditEntry.objects.get(action=action, **lookups)
    assert found.via == "token", found
    return found
