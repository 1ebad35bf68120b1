"""Who opens a websocket by its session cookie: Channels' AuthMiddleware, with
the sockets that open together answered in one turn on the database thread.

A thousand viewers opening a running build each had their session and their
user read on their own, one at a time on a web process's one database thread,
before the page's own reads (bench 11). Here the sockets that open while one
round runs are served by the next: their sessions in one query (with Django's
database sessions), each user once however many of its sockets open, and each
session checked against its user as Channels' get_user checks it.
"""

import copy

from channels.auth import AuthMiddleware, _get_user_session_key
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, load_backend
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends import db as db_sessions
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from images.rounds import together


class SocketUsers(AuthMiddleware):
    """scope["user"] from the session, the sockets opening together read together."""

    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await together("socket users", _users_of).ask(scope["session"])


async def _users_of(sessions):
    return await database_sync_to_async(_read_users)(sessions)


def _read_users(sessions):
    """Each session's user (or AnonymousUser), one per socket."""
    _load_sessions(sessions)
    found = {}
    return [_user_of(session, found) for session in sessions]


def _load_sessions(sessions):
    """What each database session's load would read, in one query for all."""
    stores = [session._wrapped for session in sessions]
    stores = [store for store in stores if type(store) is db_sessions.SessionStore
              and not hasattr(store, "_session_cache") and store.session_key]
    if not stores:
        return
    model = db_sessions.SessionStore.get_model_class()
    rows = dict(model.objects.filter(session_key__in={store.session_key for store in stores},
                                     expire_date__gt=timezone.now()).values_list("session_key", "session_data"))
    for store in stores:
        data = rows.get(store.session_key)
        if data is None:
            store._session_key = None  # as load() leaves a session that is gone or expired
            store._session_cache = {}
        else:
            store._session_cache = store.decode(data)


def _user_of(session, found):
    """channels.auth.get_user for one session; `found` keeps the users read
    this round, by backend and id. Each socket gets its own copy: a user
    object caches its permissions for as long as the socket is open."""
    try:
        user_id = _get_user_session_key(session)
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    key = (backend_path, user_id)
    if key not in found:
        found[key] = load_backend(backend_path).get_user(user_id)
    user = found[key]
    if user is None:
        return AnonymousUser()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        if not (session_hash and constant_time_compare(session_hash, user.get_session_auth_hash())):
            session.flush()
            return AnonymousUser()
    return copy.copy(user)
