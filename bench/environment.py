"""The environment a bench process sets up before Django starts: its own data
directory under var/bench, the Redis that scripts/services.sh started (whose
password is kept in the default data directory), its own queue and channel
prefix, and a test-run label of its own (tests/dockerlib.py), so that a test
run or another bench on the same engine removes only what it made."""

import os
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent


def prepare(name):
    """Set the variables for a bench process called `name` (it names its queue and label)."""
    os.environ.setdefault("DOCKYARD_DATA_DIR", str(ROOT / "var" / "bench"))
    password = ROOT / "var" / "redis-password"
    if "REDIS_URL" not in os.environ and password.exists():
        os.environ["REDIS_URL"] = (f"redis://:{quote(password.read_text().strip(), safe='')}@127.0.0.1:"
                                   f"{os.environ.get('DOCKYARD_REDIS_PORT', '6379')}/0")
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    os.environ["DOCKYARD_QUEUE"] = os.environ["DOCKYARD_CHANNEL_PREFIX"] = f"dockyard-{name}-{os.getpid()}"
    os.environ.setdefault("DOCKYARD_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    os.environ.setdefault("DOCKYARD_TEST_RUN", f"{name}-{os.getpid()}")


def bench_user(token_name):
    """(user, session id, token) of the bench's builder, logged in; after django.setup()."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from images.accounts import roles
    from images.models import ApiToken

    users = get_user_model()
    user = users.objects.filter(username="bench").first() or users.objects.create_user("bench", password="bench")
    roles.assign(user, roles.BUILDER)
    client = Client()
    client.force_login(user)
    _, token = ApiToken.issue(user, token_name)
    return user, client.cookies["sessionid"].value, token
