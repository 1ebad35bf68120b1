"""Dockyard's data directory (database, keys, logs, Redis) is its own user's only.

These run `make prepare`, `scripts/services.sh redis` and `manage.py` as an
operator would, with a data directory and Redis port of their own, under the
umask of a login shell (022), so that every mode checked is one Dockyard set.
"""

import os
import stat
import subprocess
import sys

import pytest
import redis

from tests import live


def mode(path):
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def run(args, env):
    result = subprocess.run(args, env=env, cwd=live.ROOT, capture_output=True, text=True, timeout=120,
                            preexec_fn=live.login_shell_umask)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


# Makes the encryption key (made on first use), and reaches Redis and the cache
# with the URL settings builds, without printing it.
USE_EVERYTHING = """
import django, redis
django.setup()
from django.conf import settings
from django.core.cache import cache
from images.accounts import secrets_box
secrets_box.encrypt("x")
redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5).ping()
cache.set("private-data-test", 1)
print("reached Redis")
"""


@pytest.fixture
def started(tmp_path):
    """`make prepare`, then Redis started by services.sh, in a fresh data directory."""
    dockyard_redis = live.DockyardRedis(tmp_path / "var")
    # -o: the shared virtualenv is installed already; never reinstall it from a test.
    output = run(["make", "-s", "-o", ".venv/installed", "prepare"], dockyard_redis.env)
    try:
        output += dockyard_redis.start()
        output += run([sys.executable, "-c", USE_EVERYTHING], dockyard_redis.env)
        yield dockyard_redis.data_dir, dockyard_redis.port, dockyard_redis, output
    finally:
        if dockyard_redis.running:
            dockyard_redis.stop()


def test_it_makes_the_data_directory_and_everything_in_it_private(started):
    data_dir, port, dockyard_redis, output = started
    assert "reached Redis" in output
    assert mode(data_dir) == "0o700"
    for name in ("dockyard.sqlite3", "secret-key", "encryption-key", "redis-password"):
        assert mode(data_dir / name) == "0o600", name
    for folder in ("log", "redis", "static", "redis/appendonlydir"):
        assert mode(data_dir / folder) == "0o700", folder
    kept = [*(data_dir / "redis" / "appendonlydir").iterdir(), data_dir / "log" / "redis.log"]
    assert len(kept) >= 3
    for path in kept:
        assert mode(path) == "0o600", path


def test_it_starts_redis_with_a_password_and_an_append_only_file(started):
    data_dir, port, dockyard_redis, output = started
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, socket_timeout=5).ping()
    client = dockyard_redis.client()
    assert client.ping()
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    password = dockyard_redis.password
    assert len(password) >= 32
    # Not on a command line any local user can read in ps, nor in anything printed or logged.
    pid = (data_dir / "redis" / "redis.pid").read_text().strip()
    assert password not in (open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
    assert password not in output
    assert password not in (data_dir / "log" / "redis.log").read_text()


def test_it_reuses_its_redis_and_password_on_the_next_start(started):
    data_dir, port, dockyard_redis, output = started
    password = dockyard_redis.password
    again = dockyard_redis.start()
    assert "Starting redis-server" not in again
    assert dockyard_redis.password == password
    # After a restart the same password holds, and what was stored is still there.
    dockyard_redis.client().set("kept", "1")
    dockyard_redis.restart()
    assert dockyard_redis.password == password and dockyard_redis.client().get("kept") == b"1"


def test_it_tightens_a_data_directory_made_before(tmp_path):
    data_dir = tmp_path / "var"
    (data_dir / "log").mkdir(parents=True)
    (data_dir / "contexts").mkdir()
    for name in ("dockyard.sqlite3", "secret-key", "log/worker.log", "contexts/upload.tar"):
        (data_dir / name).write_text("x" * 60)
    for path in (data_dir, data_dir / "log", data_dir / "contexts"):
        path.chmod(0o755)
    for name in ("dockyard.sqlite3", "secret-key", "log/worker.log", "contexts/upload.tar"):
        (data_dir / name).chmod(0o644)
    env = live.script_env(data_dir, DATABASE_URL=f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}")
    run([sys.executable, "manage.py", "check"], env)
    assert [mode(data_dir / name) for name in ("", "log", "contexts")] == ["0o700"] * 3
    assert [mode(data_dir / name) for name in ("dockyard.sqlite3", "secret-key", "log/worker.log",
                                               "contexts/upload.tar")] == ["0o600"] * 4


def test_a_redis_url_set_by_the_operator_is_used_as_it_is(tmp_path):
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "redis-password").write_text("not-this-one\n")
    url = "redis://127.0.0.1:6379/3"
    env = live.script_env(data_dir, REDIS_URL=url)
    shown = run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                 f"print(settings.REDIS_URL == settings.CELERY_BROKER_URL == settings.CACHES['default']['LOCATION'] "
                 f"== {url!r} and {url!r} in str(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]))"],
                {**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"})
    assert shown.strip().endswith("True")
