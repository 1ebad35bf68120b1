"""Login with a throttle: after repeated failures for one user name from one
address, further attempts are refused for a while, right or wrong. Both doors
in, Dockyard's login page and Django's admin login, share the one counter, and
both refuse passwords altogether with DOCKYARD_LOCAL_LOGIN off, but for
break-glass accounts."""

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

from images.accounts import audit
from images.accounts.addresses import client_address


class _Throttled:
    def clean(self):
        # Fields are cleaned before clean(): this is the name Django authenticates
        # (stripped, NFKC), so 'ｃarl' and 'carl' are one name here as they are there.
        name = self.cleaned_data.get("username")
        if name is None:
            name = str(self.data.get("username", ""))
        key = _key(self.request, name)
        if cache.get(key, 0) >= settings.DOCKYARD_LOGIN_FAILURES:
            minutes = settings.DOCKYARD_LOGIN_LOCKOUT // 60
            audit.record(None, "login", name[:150], audit.REFUSED,
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

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # Imported here: these read the models, which are not ready when the URLs import this form.
        from images.accounts import oidc, roles

        if not roles.may_use_password(user):
            audit.record(None, "login", user.get_username(), audit.REFUSED,
                         detail="password login is off (DOCKYARD_LOCAL_LOGIN=0) and the account is not break-glass")
            provider = f"sign in with {settings.DOCKYARD_OIDC_NAME}" if oidc.enabled() else "ask a Dockyard admin"
            raise forms.ValidationError(f"Password login is turned off here: {provider}.", code="password_login_off")


class ThrottledAuthenticationForm(_Throttled, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(_Throttled, AdminAuthenticationForm):
    pass


def _key(request, name):
    """One counter per client address and user name, the name normalised as the
    user model does, then case-folded: Django's names are case-sensitive, but a
    database with a case-insensitive collation would let 'Carl' log in as
    'carl', and folding only ever joins counters, never splits one."""
    address = (client_address(request) or "") if request else ""
    normalised = get_user_model().normalize_username(name.strip()).casefold()
    return f"login-failures:{address}:{normalised[:150]}"
