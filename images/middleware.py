import re
from importlib import import_module

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.cookie import parse_cookie
from django.shortcuts import render
from django.urls import get_script_prefix, reverse, set_script_prefix

from django.utils.functional import SimpleLazyObject

from images import engines
from images.accounts.socket_users import SocketUsers
from images.engine import EngineUnavailable, ImageNotFound, get_engine
from images.models import ApiToken


class EngineMiddleware:
    """The engine a request works on, named by its URL (`/e/<name>/...`; the
    default engine's URLs have no prefix), as `request.engine` and
    `request.engine_name` (so views and the API hand it to the service functions
    and never import the engine themselves), and as the active engine that role
    checks and audit entries read; an engine Dockyard does not manage is a 404;
    and engine failures raised anywhere in a view become pages that say what was
    tried, with the right status, instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name, rest = _engine_in_path(request.path_info)
        if name is not None and not engines.exists(name):
            raise Http404(f"Dockyard manages no engine named {name[:40]!r}.")
        name = name or engines.DEFAULT
        request.engine_name = name
        request.engine = SimpleLazyObject(lambda: get_engine(name))
        prefix = get_script_prefix()
        if rest is not None:
            # The rest of the URL resolves as the default engine's would, and every
            # URL reversed while answering keeps the engine's prefix.
            request.path_info = rest
            set_script_prefix(prefix + engines.url_prefix(name))
        try:
            with engines.activated(name):
                return self.get_response(request)
        finally:
            set_script_prefix(prefix)

    def process_exception(self, request, exception):
        if request.path_info.startswith("/api/"):
            return None  # the API answers in JSON itself
        if isinstance(exception, EngineUnavailable):
            return render(request, "errors/engine_unavailable.html", {"error": exception}, status=503)
        if isinstance(exception, ImageNotFound):
            return render(request, "errors/image_not_found.html", {"reference": exception.reference, "reason": exception.reason}, status=404)
        return None


def _engine_in_path(path):
    """("b", "/images/") for "/e/b/images/"; (None, None) for a path without an engine."""
    if not path.startswith("/e/"):
        return None, None
    name, _, rest = path[len("/e/"):].partition("/")
    return name, "/" + rest


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


# Request bodies ------------------------------------------------------------------
#
# Nothing may read a body that is over DOCKYARD_UPLOAD_MAX, or that comes from
# someone not logged in (but a login form, which is small): CsrfViewMiddleware
# parses a multipart body before any view's permission check runs.

LOGIN_BODY_MAX = 32 * 1024
# A repository's push hook is not logged in either: it proves itself by its signature
# (images.hooks.inbound), which is read from a body of at most this size.
HOOK_BODY_MAX = 10 * 1024 * 1024
# Any id, so that a wrong one is answered 404 by the API, not 401: a hook needs no login.
_HOOK_PATH = re.compile(r"/api/hooks/git/[^/]+")


def body_refusal(path, length, authenticated):
    """Why a request body is refused before it is read, as (status, message), or
    None. `length` is the Content-Length, None when the body has none (chunked)."""
    if length == 0:
        return None
    if not authenticated and _HOOK_PATH.fullmatch(_engine_in_path(path)[1] or path):
        if length is None or length > HOOK_BODY_MAX:
            return 413, f"A hook delivery is at most {HOOK_BODY_MAX:,} bytes, with a Content-Length."
        return None
    if not authenticated:
        # The path as sent, and without its engine: the ASGI guard reverses without the engine's prefix.
        if not {path, _engine_in_path(path)[1]} & {reverse("login"), reverse("admin:login")}:
            return 401, "Log in, or send Authorization: Bearer <token>."
        if length is None or length > LOGIN_BODY_MAX:
            return 413, f"A login is at most {LOGIN_BODY_MAX:,} bytes."
    limit = settings.DOCKYARD_UPLOAD_MAX
    if length is not None and length > limit:
        return 413, f"The request is {length:,} bytes; Dockyard takes at most {limit:,} (DOCKYARD_UPLOAD_MAX)."
    return None


def refusal_response(path, status, message):
    """The answer to a refused body: the API's JSON error, a page's login redirect,
    or the reason as text."""
    if (_engine_in_path(path)[1] or path).startswith("/api/"):
        return JsonResponse({"error": message}, status=status)
    if status == 401:
        return redirect_to_login(path)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _content_length(value):
    """A Content-Length as a number; a missing or malformed one reads as no
    body, as Django reads it."""
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


class RequestBodyLimitMiddleware:
    """body_refusal, before anything reads the body. It comes after the
    middleware that say who is asking, and before CsrfViewMiddleware's view hook."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        length = None if chunked else _content_length(request.META.get("CONTENT_LENGTH"))
        if length != 0:
            refusal = body_refusal(request.path, length, request.user.is_authenticated)
            if refusal is not None:
                return refusal_response(request.path, *refusal)
        return self.get_response(request)


class RequestBodyGuard:
    """ASGI: body_refusal on the headers alone. Django's ASGI handler reads the
    whole body before any middleware runs, so under an ASGI server that passes
    the headers on first (uvicorn; daphne does not) this is what answers before
    the body is sent. A body without a length is cut off at DOCKYARD_UPLOAD_MAX."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {}
        for name, value in scope.get("headers", ()):
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        chunked = "chunked" in ",".join(headers.get("transfer-encoding", [])).lower()
        length = None if chunked else _content_length((headers.get("content-length") or [None])[0])
        path = scope["path"]
        if length != 0:
            refusal = body_refusal(path, length, await _authenticated(headers))
            if refusal is not None:
                return await _send(send, refusal_response(path, *refusal))
        if chunked:
            receive = _metered(receive, send, path)
        return await self.app(scope, receive, send)


def _metered(receive, send, path):
    limit, received = settings.DOCKYARD_UPLOAD_MAX, 0

    async def metered_receive():
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                await _send(send, refusal_response(path, 413, f"The request is over {limit:,} bytes, the most "
                                                              "Dockyard takes (DOCKYARD_UPLOAD_MAX)."))
                return {"type": "http.disconnect"}  # Django's handler then stops without answering
        return message

    return metered_receive


async def _send(send, response):
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    # The body is not going to be read: the connection cannot carry another request.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})


@database_sync_to_async
def _authenticated(headers):
    """Whether the request's session or bearer token is a login, as the Django
    middleware will decide (without counting the token as used)."""
    authorization = (headers.get("authorization") or [""])[0]
    if authorization.startswith("Bearer "):
        digest = ApiToken.hash(authorization[len("Bearer "):].strip())
        return ApiToken.objects.filter(digest=digest, user__is_active=True).exists()
    request = HttpRequest()
    request.COOKIES = _cookies(headers.get("cookie", []))
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return False
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(request).is_authenticated


def _cookies(values):
    cookies = {}
    for value in values:
        cookies.update(parse_cookie(value))
    return cookies


SERVER_SEND = "dockyard.server_send"


class ServerSend:
    """Keeps the server's own `send` in a websocket's scope, for live frames.

    Channels' session middleware wraps `send` to save the session when an HTTP
    response starts; for every frame of a websocket it still reads the session
    to decide that it has nothing to do, which was a quarter of a web process's
    time with 500 viewers of one build (bench 10). Job streams send their live
    lines through this one; everything else goes through Channels as before."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        return await self.app({**scope, SERVER_SEND: send}, receive, send)


class WebsocketAuth:
    """Who opens a websocket: the owner of an `Authorization: Bearer <token>`
    header (a script), else the session cookie's user, and the cookie only from
    a page of this site's own hosts.

    A token is taken from that header only: a browser cannot set it on a
    websocket, so no page of another site can send one it does not hold, and no
    origin need be checked; a token in the address would be written to every
    access log on the way. Browsers use their session."""

    def __init__(self, app):
        self.by_token = app
        self.by_session = AllowedHostsOriginValidator(CookieMiddleware(SessionMiddleware(SocketUsers(app))))

    async def __call__(self, scope, receive, send):
        token = _bearer_token(scope)
        if token is None:
            return await self.by_session(scope, receive, send)
        user = await database_sync_to_async(ApiToken.user_for)(token)
        return await self.by_token({**scope, "user": user or AnonymousUser(), "token_auth": True}, receive, send)


def _bearer_token(scope):
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text = value.decode("latin-1")
            return text[len("Bearer "):].strip() if text.startswith("Bearer ") else ""
    return None
