"""DOCKYARD_MAX_ACTIVE_JOBS holds when one person's requests arrive all at once,
spread over several server processes as behind a balancer."""

import threading
import uuid

import pytest
import redis
import requests
from django.conf import settings

from images.accounts import roles
from images.models import ApiToken, AuditEntry, Job
from tests import live
from tests.conftest import make_user

LIMIT = 3
SERVERS = 6
REQUESTS = 30


@pytest.fixture
def servers(live_settings):
    """Six server processes with a small limit, on a queue no worker reads: every
    job they make stays queued, so each one counts against the limit."""
    queue = f"{live_settings['queue']}-limit-{uuid.uuid4().hex[:6]}"
    env = live.process_env(queue, live_settings["prefix"], DOCKYARD_MAX_ACTIVE_JOBS=str(LIMIT))
    started = []
    try:
        for number in range(SERVERS):
            started.append(live.Server(env, log_name=f"test-server-limit-{number}.log"))
        yield started
    finally:
        for server in started:
            server.stop()
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)  # the messages no worker will take


def test_thirty_requests_at_once_start_no_more_than_the_limit(transactional_db, servers):
    builder = make_user("builder", roles.BUILDER)
    _, token = ApiToken.issue(builder, "race")
    start = threading.Barrier(REQUESTS)
    statuses = []

    def pull(number):
        server = servers[number % len(servers)]
        start.wait(30)
        response = requests.post(f"{server.url}/api/pulls", json={"reference": f"127.0.0.1:5000/never/sent:{number}"},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=120)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=pull, args=(number,)) for number in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert sorted(statuses) == [201] * LIMIT + [429] * (REQUESTS - LIMIT)
    assert Job.objects.filter(created_by=builder).count() == LIMIT
    assert AuditEntry.objects.filter(actor=builder, action="pull", outcome="refused").count() == REQUESTS - LIMIT
