"""Is every part Dockyard needs answering: the database, Redis, each engine, and
a worker serving each engine's queue. For /healthz, which anyone may ask, so
the answers name the parts and never a password."""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from images import engines

WORKERS_CACHE_SECONDS = 5
INSPECT_TIMEOUT = 1.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


def _safe(exc):
    """An exception as a sentence without the Redis password."""
    text = f"{type(exc).__name__}: {exc}"
    password = _redis_password()
    return text.replace(password, "***") if password else text


def _redis_password():
    from urllib.parse import urlsplit

    return urlsplit(settings.REDIS_URL).password or ""


def check_database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return Check("database", False, _safe(exc))


def check_redis():
    import redis

    try:
        # A client of its own each time: a health check must not lean on a pooled
        # connection that was open before Redis went away.
        with redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS) as client:
            client.ping()
        return Check("redis", True)
    except Exception as exc:  # noqa: BLE001
        return Check("redis", False, _safe(exc))


def check_engine(engine):
    from images.engine import EngineError

    try:
        engine.ping()
        return Check(f"engine {engine.name}", True, engine.address)
    except EngineError as exc:
        return Check(f"engine {engine.name}", False, str(exc))


def queues_with_workers():
    """The queues some live worker consumes, asked of the workers themselves
    (a broadcast with a short timeout), remembered a few seconds so a busy
    /healthz does not flood them."""
    queues = cache.get("health:worker-queues")
    if queues is None:
        from dashboard.celery import app

        # broadcast, not inspect(): inspect merges replies by node name, and two
        # workers started without --hostname share one.
        replies = app.control.broadcast("active_queues", reply=True, timeout=INSPECT_TIMEOUT)
        queues = sorted({queue["name"] for reply in replies for consumed in reply.values() for queue in consumed})
        cache.set("health:worker-queues", queues, WORKERS_CACHE_SECONDS)
    return queues


def engine_has_worker(engine_name):
    """Whether some live worker consumes the engine's queue; None when the
    workers cannot be asked (Redis is down)."""
    try:
        return engines.queue_for(engine_name) in queues_with_workers()
    except Exception:  # noqa: BLE001 - unknown, not "none"
        return None


def check_workers(queue, engine_name=engines.DEFAULT):
    try:
        served = queue in queues_with_workers()
    except Exception as exc:  # noqa: BLE001
        return Check(f"workers for {queue}", False, _safe(exc))
    return Check(f"workers for {queue}", served,
                 f"engine {engine_name}" if served else f"no worker for engine {engine_name} (queue {queue})")


def check_all():
    """Every part, each engine and each engine's workers among them, checked in turn
    (the engines at once: one that does not answer costs its timeout, not the sum)."""
    from concurrent.futures import ThreadPoolExecutor

    from images.engine import get_engine

    names = engines.names()
    checks = [check_database(), check_redis()]
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        checks += list(pool.map(lambda name: check_engine(get_engine(name)), names))
    for name in names:
        queue = engines.queue_for(name)
        if checks[1].ok:
            checks.append(check_workers(queue, name))
        else:
            checks.append(Check(f"workers for {queue}", False, "unknown: Redis does not answer"))
    return checks
