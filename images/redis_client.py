"""The one synchronous Redis client a process shares for Dockyard's own keys
(image locks, metrics), with the timeouts every Redis client of Dockyard's gets."""

import redis
from django.conf import settings

_client = None


def shared_redis():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)
    return _client
