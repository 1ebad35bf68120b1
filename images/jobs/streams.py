"""How many job and image streams each person has open, across every server process.

Each open websocket holds a slot: a member of a Redis sorted set per user,
scored with the time it last said it was alive. A consumer refreshes its slot
every REFRESH seconds; slots not refreshed for STALE seconds (a server process
that died with its sockets) stop counting, so a crash never locks anyone out
for longer than that.
"""

import asyncio
import time
import weakref

import redis.asyncio as redis
from django.conf import settings

from images.rounds import together

REFRESH = 30
STALE = 3 * REFRESH

# One check-and-add, so two sockets opening at once cannot both take the last slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_clients = weakref.WeakKeyDictionary()  # an asyncio client belongs to one event loop


def _redis():
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        # A thousand viewers opening at once wait their turn for a connection
        # rather than fail (redis-py's plain pool refuses past 100).
        pool = redis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=50, timeout=20,
                                                     **settings.REDIS_CLIENT_OPTIONS)
        _clients[loop] = redis.Redis(connection_pool=pool)
    return _clients[loop]


def _key(user_id):
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"].get("prefix", "dockyard")
    return f"{prefix}:streams:{user_id}"


async def acquire(user_id, channel_name, clock=time.time):
    """Take a slot for this socket; False when the user has DOCKYARD_MAX_STREAMS open.
    `clock` gives the time in seconds since the epoch (a test's own clock). The
    sockets that open together send their checks in one pipeline: a thousand
    opening at once each waited for a connection and a round trip of its own."""
    return await together("stream slots", _acquire_all).ask((user_id, channel_name, clock()))


async def _acquire_all(asked):
    async with _redis().pipeline(transaction=False) as pipe:
        for user_id, channel_name, now in asked:
            # Each check-and-add runs whole, in the order asked.
            pipe.eval(_ACQUIRE, 1, _key(user_id), now - STALE, settings.DOCKYARD_MAX_STREAMS, now, channel_name,
                      STALE * 2)
        return [bool(taken) for taken in await pipe.execute()]


async def refresh(user_id, channel_name, clock=time.time):
    async with _redis().pipeline(transaction=False) as pipe:
        pipe.zadd(_key(user_id), {channel_name: clock()}, xx=True)
        pipe.expire(_key(user_id), STALE * 2)  # the set outlives its longest-open socket
        await pipe.execute()


async def release(user_id, channel_name):
    await _redis().zrem(_key(user_id), channel_name)


def count_open(client):
    """Sockets open now across every process (for /metrics), with a sync Redis client."""
    fresh_since = time.time() - STALE
    return sum(client.zcount(key, fresh_since, "+inf") for key in client.scan_iter(match=_key("*"), count=1000))
