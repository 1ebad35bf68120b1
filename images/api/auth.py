"""Who may call an operation: logged in (by session, or by a bearer token that
images.middleware.BearerTokenMiddleware has already resolved), then allowed by
their role, as every page asks images.accounts.roles.

Each operation names its permission: `@router.post(..., auth=allowed("build"))`.
The check runs before the request's body is parsed, so a role that may not act
gets 403 whatever it sent, as a page's `@requires` does.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from images.accounts.roles import check

LOGIN_NEEDED = "Log in, or send Authorization: Bearer <token>."


class _Permission:
    def __init__(self, permission, action=None):
        self.permission = permission
        self.action = action
        super().__init__()

    def _allowed(self, request):
        user = request.user
        if not user.is_authenticated:
            return None
        if self.permission is None:
            raise PermissionDenied("This call declares no permission, so it is refused to everyone.")
        check(user, self.permission, self.action, target=request.path)
        return user


class BearerToken(_Permission, HttpBearer):
    """`Authorization: Bearer <token>`, a token made on the account page."""

    def authenticate(self, request, token):
        if not getattr(request, "token_auth", False):
            return None
        return self._allowed(request)


class Session(_Permission, APIKeyCookie):
    """The browser's session; a change then needs the CSRF token (the csrftoken
    cookie's value in an X-CSRFToken header), as a form does."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        if check_csrf(request) is not None:
            raise HttpError(403, "The CSRF token is missing or wrong: send the csrftoken cookie's value as "
                                 "X-CSRFToken, or use a bearer token.")
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        return self._allowed(request)


def allowed(permission, action=None):
    """The auth of an operation that needs images.<permission>; a refusal names
    `action` where the permission's own description would name something else."""
    return [BearerToken(permission, action), Session(permission, action)]


# What permission_of names for an operation anyone may call, because what it
# takes proves itself (a hook's delivery, signed with the hook's secret).
SIGNED = "signed"


class _Signed:
    """The auth of an operation that needs no login: the operation checks the
    request's signature itself, before anything is done."""

    permission = SIGNED

    def __call__(self, request):
        return True


def signed():
    return [_Signed()]


def undeclared():
    """The API's default auth, for an operation that forgot to name its
    permission: it refuses everyone who is logged in."""
    return allowed(None)


def permission_of(operation):
    """The permission an operation declared with `allowed`, or None."""
    permissions = {getattr(callback, "permission", None) for callback in operation.auth_callbacks}
    return permissions.pop() if len(permissions) == 1 else None
