"""A person's own API tokens: issued (the secret shown once), revoked."""

from django.http import Http404

from images.accounts import audit
from images.models import ApiToken


def token_for(user, pk):
    """One of the person's own tokens; anyone else's is not found."""
    token = ApiToken.objects.filter(pk=pk, user=user).first()
    if token is None:
        raise Http404("No such token.")
    return token


def issue_token(user, name):
    """The new token and its secret, which is stored only as a hash."""
    token, secret = ApiToken.issue(user, name)
    audit.record(user, "token-create", f"{token.name} ({token.prefix}…)")
    return token, secret


def revoke_token(token, user):
    token.delete()
    audit.record(user, "token-revoke", f"{token.name} ({token.prefix}…)")
