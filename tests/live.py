"""The real moving parts for integration tests: a Celery worker and an ASGI
server (uvicorn) in their own processes, sharing the test database file, a
queue and a channel-layer prefix of their own so that nothing else on the same
Redis takes their work."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process, failure, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(failure) from None
            time.sleep(0.1)


def stop_process(process):
    """SIGTERM a process started in its own session, and wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def build_root():
    """The one server directory the test worker may build from."""
    return Path(settings.DATA_DIR) / "test-build-roots"


# The tests' git server is plain http on loopback, which production settings refuse.
LOOPBACK_GIT = {"DOCKYARD_GIT_SCHEMES": "http,https", "DOCKYARD_GIT_HOSTS": "127.0.0.1"}


def process_env(queue, prefix, **extra):
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
        "DOCKYARD_QUEUE": queue,
        "DOCKYARD_CHANNEL_PREFIX": prefix,
        "DOCKYARD_HEARTBEAT_INTERVAL": "1",
        "DOCKYARD_BUILD_ROOTS": str(build_root()),
        **LOOPBACK_GIT,
        "DOCKYARD_MAX_STREAMS": "5",  # tests/test_roles.py opens one more than this
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Worker:
    def __init__(self, env, log_name, concurrency=2):
        self.log_path = Path(settings.DATA_DIR) / "log" / log_name
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "dashboard", "worker", "--queues", env["DOCKYARD_QUEUE"],
             "--concurrency", str(concurrency), "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while b" ready." not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Celery worker did not start; see {self.log_path}")
            time.sleep(0.2)

    def kill(self):
        """SIGKILL the worker and its pool processes, as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


# As scripts/run.sh starts it. uvicorn applies flow control both ways (daphne held
# whole request bodies, and responses to a slow client, in memory); h11 caps a
# request's headers at 16 KB, where httptools keeps reading them; Django sees the
# socket's peer address, as with daphne, not an X-Forwarded-For from loopback.
UVICORN_OPTIONS = ["--http", "h11", "--ws", "websockets-sansio", "--loop", "asyncio", "--lifespan", "off",
                   "--no-proxy-headers", "--no-server-header", "--timeout-graceful-shutdown", "10"]


class Server:
    def __init__(self, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = Path(settings.DATA_DIR) / "log" / "test-server.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "uvicorn"), *UVICORN_OPTIONS, "--host", "127.0.0.1", "--port", str(self.port),
             "dashboard.asgi:application"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, self.process, f"uvicorn did not start; see {self.log_path}")

    def stop(self):
        stop_process(self.process)
        self.log.close()


def wait_for_job(job, states=("succeeded", "failed", "cancelled", "interrupted"), timeout=90, reap=False):
    from images import jobs as job_functions

    deadline = time.monotonic() + timeout
    while True:
        if reap:
            job_functions.reap_interrupted()
        job.refresh_from_db()
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job.pk} is {job.state}, not {states}, after {timeout} s")
        time.sleep(0.1)


def wait_for_lines(job, count, timeout=60):
    deadline = time.monotonic() + timeout
    while job.lines.count() < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job.pk} has {job.lines.count()} lines, not {count}")
        time.sleep(0.1)


class JobSocket:
    """A websocket client on a job's stream, as the browser opens it."""

    def __init__(self, server, session_cookie, job_id, after=0, origin=None):
        self._connection = connect(
            f"{server.ws_url}/ws/jobs/{job_id}/?after={after}",
            additional_headers={"Cookie": f"sessionid={session_cookie}", "Origin": origin or server.url},
            open_timeout=10,
        )
        self.conn = self._connection.__enter__()

    def events(self, timeout=60):
        """Yield events until the job's final state arrives."""
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.conn.recv(timeout=max(0.1, deadline - time.monotonic())))
            yield event
            if event["type"] == "state" and event["state"] in ("succeeded", "failed", "cancelled", "interrupted"):
                return

    def close(self):
        self._connection.__exit__(None, None, None)


class EventListener:
    """`manage.py listen_events` in its own process, as `make run` starts it."""

    def __init__(self, env):
        self.log_path = Path(settings.DATA_DIR) / "log" / "test-events.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "listen_events"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while b"Listening" not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The event listener did not start; see {self.log_path}")
            time.sleep(0.1)
        time.sleep(0.5)  # its events request reaches the engine just after the banner

    def stop(self):
        stop_process(self.process)
        self.log.close()


class Registry:
    """A docker-registry on a free loopback port, with htpasswd auth if a user is given."""

    def __init__(self, user=None, password=None):
        import bcrypt

        port = free_port()
        self.address = f"127.0.0.1:{port}"
        folder = Path(settings.DATA_DIR) / f"test-registry-{port}"
        (folder / "data").mkdir(parents=True, exist_ok=True)
        config = [
            "version: 0.1", "log: {level: warn}",
            f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}",
            f"http: {{addr: '{self.address}'}}",
        ]
        if user:
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            (folder / "htpasswd").write_text(f"{user}:{hashed}\n")
            config.append(f"auth: {{htpasswd: {{realm: dockyard-test, path: {folder / 'htpasswd'}}}}}")
        (folder / "config.yml").write_text("\n".join(config) + "\n")
        self.folder = folder
        self.log = open(folder / "registry.log", "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(folder / "config.yml")],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(port, self.process, f"docker-registry did not start; see {folder / 'registry.log'}")

    def stop(self):
        stop_process(self.process)
        self.log.close()
        import shutil
        shutil.rmtree(self.folder, ignore_errors=True)
