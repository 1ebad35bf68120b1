"""The ways in and out: the login page (a password, and a button for the team's
identity provider), the provider's sign-in and its callback, and logout, which
also ends the provider's session where it offers RP-initiated logout."""

import logging

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from joserfc import errors as jose

from images.accounts import audit, oidc
from images.accounts.login import ThrottledAuthenticationForm

log = logging.getLogger(__name__)

# Session keys: where to go after the provider's sign-in, and that this session came through it.
NEXT_KEY = "dockyard_oidc_next"
SIGNED_IN_KEY = "dockyard_oidc"


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **_provider_context()}


def _provider_context(error=""):
    return {"oidc_enabled": oidc.enabled(), "oidc_name": settings.DOCKYARD_OIDC_NAME,
            "local_login": settings.DOCKYARD_LOCAL_LOGIN, "oidc_error": error}


class LogoutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        through_provider = bool(request.session.get(SIGNED_IN_KEY))
        response = super().post(request, *args, **kwargs)
        if not (through_provider and oidc.enabled()):
            return response
        try:
            provider = oidc.client()
            if not oidc.metadata(provider).get("end_session_endpoint"):
                return response
            return redirect(provider.create_logout_url(
                post_logout_redirect_uri=request.build_absolute_uri(reverse("login")),
                client_id=settings.DOCKYARD_OIDC_CLIENT_ID)["url"])
        except (requests.RequestException, oidc.SignInRefused, ValueError):
            return response  # Dockyard's session has ended; the provider's is the provider's to end


@login_not_required
@require_GET
@never_cache
def oidc_start(request):
    """Send the browser to the provider; Authlib keeps a fresh state, nonce and PKCE verifier in the session."""
    if not oidc.enabled():
        raise Http404("Sign-in through an identity provider is not configured.")
    wanted = request.GET.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure()):
        request.session[NEXT_KEY] = wanted
    try:
        provider = oidc.client()
        oidc.metadata(provider)
        return provider.authorize_redirect(request, _redirect_uri(request))
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        return _refused(request, f"{settings.DOCKYARD_OIDC_NAME} does not answer ({type(exc).__name__}); try again "
                                 "later, or ask a Dockyard admin.", detail=str(exc)[:300], status=502)
    except oidc.SignInRefused as exc:
        return _refused(request, str(exc), status=502)


@login_not_required
@require_GET
@never_cache
def oidc_callback(request):
    """Where the provider sends the browser back: the code is exchanged, the ID
    token checked, and the account signed in, or nobody is."""
    if not oidc.enabled():
        raise Http404("Sign-in through an identity provider is not configured.")
    try:
        provider = oidc.client()
        oidc.metadata(provider)
        token = provider.authorize_access_token(request, leeway=settings.DOCKYARD_OIDC_CLOCK_SKEW)
        claims = token.get("userinfo")
        if claims is None:
            raise oidc.SignInRefused(f"{settings.DOCKYARD_OIDC_NAME} sent no ID token; nobody was signed in.")
        claims = dict(claims)
        if settings.DOCKYARD_OIDC_GROUPS_CLAIM not in claims and provider.server_metadata.get("userinfo_endpoint"):
            # Providers that keep the ID token small give groups at the userinfo endpoint.
            more = provider.userinfo(token=token)
            if more.get("sub") != claims.get("sub"):
                raise oidc.SignInRefused("The provider's user info names another subject than its ID token; "
                                         "nobody was signed in.")
            claims = {**more, **claims}
        user = oidc.sign_in(claims, settings.DOCKYARD_OIDC_ISSUER)
    except MismatchingStateError:
        return _refused(request, "This sign-in was already used, has expired, or was started in another browser: "
                                 "nobody was signed in. Sign in again.", detail="state unknown or already used")
    except OAuthError as exc:
        return _refused(request, f"{settings.DOCKYARD_OIDC_NAME} refused the sign-in "
                                 f"({exc.error}: {exc.description or 'no reason given'}).",
                        detail=f"{exc.error}: {exc.description}"[:300])
    except jose.JoseError as exc:
        return _refused(request, _token_problem(exc), detail=str(exc)[:300])
    except oidc.SignInRefused as exc:
        return _refused(request, str(exc))
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        # RuntimeError: Authlib's word for a discovery document without an endpoint it needs.
        return _refused(request, f"{settings.DOCKYARD_OIDC_NAME} did not answer as expected ({type(exc).__name__}); "
                                 "nobody was signed in.", detail=str(exc)[:300], status=502)
    wanted = request.session.pop(NEXT_KEY, "")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SIGNED_IN_KEY] = True
    audit.record(user, "login", user.get_username(), detail=f"through {settings.DOCKYARD_OIDC_ISSUER}")
    return redirect(wanted or settings.LOGIN_REDIRECT_URL)


def _token_problem(exc):
    """What a refused ID token is told as, by what was wrong with it."""
    claim = getattr(exc, "claim", "")
    if isinstance(exc, jose.ExpiredTokenError):
        return "The provider's ID token has expired (or this server's clock is wrong): nobody was signed in."
    if isinstance(exc, (jose.BadSignatureError, jose.InvalidKeyIdError, jose.MissingKeyError)):
        return ("The ID token's signature does not check out against the keys the provider publishes (it was "
                "changed on the way, or signed by another key): nobody was signed in.")
    if claim == "aud" or claim == "azp":
        return "The ID token was issued to another client, not to this Dockyard: nobody was signed in."
    if claim == "iss":
        return "The ID token was issued by another provider than DOCKYARD_OIDC_ISSUER: nobody was signed in."
    if claim == "nonce":
        return ("The ID token does not carry the nonce this sign-in sent, so it may be a replayed one: nobody was "
                "signed in.")
    return f"The provider's ID token was refused ({exc.description}): nobody was signed in."


def _refused(request, message, detail="", status=400):
    # Whatever session this browser had ends too: a failed sign-in leaves no one signed in.
    logout(request)
    audit.record(None, "login", settings.DOCKYARD_OIDC_ISSUER, audit.REFUSED, detail=detail or message)
    return render(request, "registration/login.html",
                  {"form": ThrottledAuthenticationForm(request), **_provider_context(message)}, status=status)


def _redirect_uri(request):
    return settings.DOCKYARD_OIDC_REDIRECT_URI or request.build_absolute_uri(reverse("oidc-callback"))
