"""Login with a throttle: after repeated failures for one user name from one
address, further attempts are refused for a while, right or wrong. Both doors
in, Dockyard's login page and Django's admin login, share the one counter."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

from images import audit


class _Throttled:
    def clean(self):
        key = _key(self.request, self.data.get("username", ""))
        if cache.get(key, 0) >= settings.DOCKYARD_LOGIN_FAILURES:
            minutes = settings.DOCKYARD_LOGIN_LOCKOUT // 60
            audit.record(None, "login", self.data.get("username", "")[:150], audit.REFUSED,
                         detail=f"throttled: {settings.DOCKYARD_LOGIN_FAILURES} failures from this address")
            raise forms.ValidationError(
                f"Too many failed logins for this user from your address; try again in {minutes} minutes.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            cache.add(key, 0, settings.DOCKYARD_LOGIN_LOCKOUT)
            cache.incr(key)
            raise


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    pass


def _key(request, username):
    address = request.META.get("REMOTE_ADDR", "") if request else ""
    return f"login-failures:{address}:{username.strip().lower()[:150]}"
