"""The real moving parts for integration tests: a Celery worker and an ASGI
server (uvicorn) in their own processes, sharing the test database file, a
queue and a channel-layer prefix of their own so that nothing else on the same
Redis takes their work."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
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
# So are their registries: 127.0.0.1:5000 and one on a free loopback port per Registry.
LOOPBACK_REGISTRIES = {"DOCKYARD_REGISTRY_HOSTS": "docker.io,127.0.0.1"}
# Webhook receivers the tests start themselves, on loopback (tests/test_webhooks.py).
LOOPBACK_WEBHOOKS = {"DOCKYARD_WEBHOOK_HOSTS": "127.0.0.1"}


def database_url():
    """The database the tests run on (the test database, once it is made), as a URL
    for the processes they start."""
    from urllib.parse import quote

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    return (f"postgres://{quote(database['USER'], safe='')}:{quote(database['PASSWORD'], safe='')}@"
            f"{database['HOST']}:{database['PORT']}/{quote(database['NAME'], safe='')}")


HEARTBEAT_TIMEOUT = 3


# The test process's own, never its children's: Django's guard against database
# calls from async code stays on in the processes that serve websockets.
NOT_FOR_CHILDREN = ("DJANGO_ALLOW_ASYNC_UNSAFE",)
RUN_INSTANCE = f"tests-{os.getpid()}"


def process_env(queue, prefix, **extra):
    from tests import dockerlib

    return {
        **{key: value for key, value in os.environ.items() if key not in NOT_FOR_CHILDREN},
        "DOCKYARD_TEST_RUN": dockerlib.RUN,
        "DATABASE_URL": database_url(),
        "DOCKYARD_QUEUE": queue,
        "DOCKYARD_CHANNEL_PREFIX": prefix,
        "DOCKYARD_HEARTBEAT_INTERVAL": "1",
        # Read by the worker that runs the scheduler's sweep (only the tests that start one run it):
        # a killed worker's job is found in seconds, not the production half-minute.
        "DOCKYARD_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "DOCKYARD_BUILD_ROOTS": str(build_root()),
        **LOOPBACK_GIT,
        **LOOPBACK_REGISTRIES,
        **LOOPBACK_WEBHOOKS,
        "DOCKYARD_MAX_STREAMS": "5",  # tests/test_roles.py opens one more than this
        # Tests count the jobs they start; tests/test_file_index.py turns this on for its own worker.
        "DOCKYARD_INDEX_AFTER_JOBS": "0",
        # The run containers of this test run only: never a developer's own, started from the same checkout.
        "DOCKYARD_INSTANCE": RUN_INSTANCE,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class Worker:
    """A Celery worker on the queue in `env` (the default engine's), or on `queues`."""

    def __init__(self, env, log_name, concurrency=2, queues=None):
        self.log_path = Path(settings.DATA_DIR) / "log" / log_name
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "dashboard", "worker", "--queues", queues or env["DOCKYARD_QUEUE"],
             "--hostname", f"{env['DOCKYARD_QUEUE']}-{os.getpid()}-{id(self)}@%h", "--concurrency", str(concurrency),
             "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
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


class Beat:
    """`celery beat`, as `make run` starts it, with a schedule file of its own.
    Its periodic tasks go to the queue in `env`, for a worker there to run; a
    short DOCKYARD_SWEEP_INTERVAL in `env` makes them come often."""

    def __init__(self, env, log_name="test-beat.log"):
        self.log_path = Path(settings.DATA_DIR) / "log" / log_name
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.schedule = Path(settings.DATA_DIR) / f"test-beat-schedule-{free_port()}"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "celery"), "-A", "dashboard", "beat", "--schedule", str(self.schedule), "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while b"Sending due task" not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery beat did not start sending; see {self.log_path}")
            time.sleep(0.2)

    def stop(self):
        stop_process(self.process)
        self.log.close()
        for path in self.schedule.parent.glob(self.schedule.name + "*"):
            path.unlink()


# As scripts/run.sh starts it. uvicorn applies flow control both ways (daphne held
# whole request bodies, and responses to a slow client, in memory); h11 caps a
# request's headers at 16 KB, where httptools keeps reading them; Django sees the
# socket's peer address, as with daphne, not an X-Forwarded-For from loopback.
# No per-message deflate: it compresses each frame again for each socket, the
# one cost of a batch the process cannot share among its viewers.
UVICORN_OPTIONS = ["--http", "h11", "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--loop",
                   "asyncio", "--lifespan", "off", "--no-proxy-headers", "--no-server-header",
                   "--timeout-graceful-shutdown", "10"]


class Server:
    def __init__(self, env, log_name="test-server.log", processes=1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log_path = Path(settings.DATA_DIR) / "log" / log_name
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(BIN / "uvicorn"), *UVICORN_OPTIONS, "--host", "127.0.0.1", "--port", str(self.port),
             *(["--workers", str(processes)] if processes > 1 else []), "dashboard.asgi:application"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, self.process, f"uvicorn did not start; see {self.log_path}")
        if processes > 1:
            # The parent listens at once; each child takes connections only once it
            # has loaded the application (seconds on a busy machine), and until then
            # the others take them all.
            deadline = time.monotonic() + 60
            while self.log_path.read_bytes().count(b"Started server process") < processes:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn's {processes} processes did not start; see {self.log_path}")
                time.sleep(0.1)

    def stop(self):
        stop_process(self.process)
        self.log.close()


@contextmanager
def own_server(live_settings, name, processes=1, **extra):
    """A server of a test's own, on the session's queue and channel prefix, with
    `extra` settings in its environment."""
    server = Server(process_env(live_settings["queue"], live_settings["prefix"], **extra),
                    log_name=f"test-server-{name}.log", processes=processes)
    try:
        yield server
    finally:
        server.stop()


def job_from(response):
    """The job a start (a page's 302 to /jobs/<id>/) made."""
    from images.models import Job

    assert response.status_code == 302, response.content.decode()[:2000]
    return Job.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def start_build(client, dockerfile, tags="", **fields):
    """A build from Dockerfile text through the build page, as a builder submits it."""
    from django.urls import reverse

    return job_from(client.post(reverse("jobs-build"), {
        "source": "dockerfile", "dockerfile_text": dockerfile, "tags": tags, "dockerfile": "Dockerfile", **fields,
    }))


def wait_for_job(job, states=("succeeded", "failed", "cancelled", "interrupted"), timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db()
        if job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job.pk} is {job.state}, not {states}, after {timeout} s")
        time.sleep(0.1)


_BUILDKIT_LOG = re.compile(r"#\d+ \d+\.\d+ (.*)", re.DOTALL)
_BUILDKIT_OTHER = re.compile(r"#\d+ ")


def printed_lines(texts):
    """What a build's steps printed, from its stored lines, as either builder
    stores them: the classic builder's as they are, BuildKit's plain log lines
    without their "#6 0.104 " prefix, and its headers and DONE lines left out."""
    printed = []
    for text in texts:
        match = _BUILDKIT_LOG.fullmatch(text)
        if match:
            printed.append(match[1])
        elif not _BUILDKIT_OTHER.match(text):
            printed.append(text)
    return printed


def wait_for_lines(job, count, timeout=60):
    from images.jobs import logstore  # after Django is set up

    deadline = time.monotonic() + timeout
    while logstore.count(job) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job.pk} has {logstore.count(job)} lines, not {count}")
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
        try:
            self.local_port = self.conn.local_address[1]
        except OSError:
            # A socket the server refused may be closed (and its descriptor gone) before this line.
            self.local_port = None

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
    """`manage.py listen_events` in its own process, as `make run` starts it (one per engine)."""

    def __init__(self, env, log_name="test-events.log", engine="default"):
        self.log_path = Path(settings.DATA_DIR) / "log" / log_name
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "listen_events", "--engine", engine],
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


class SecondEngine:
    """A dockerd of the tests' own, beside the shared one, for tests that must
    stop or restart an engine (and, later, for more than one engine).

    Everything it keeps is under var/test-engine-<run>/: data root, exec root
    (its own containerd), pid file, socket, log. Its default bridge is made here
    beforehand, in the benchmark range 198.18.0.0/15 where no address of this
    host is, because `--bridge none` would delete the host's `docker0` and break
    the first engine; with iptables, masquerading and forwarding off it leaves
    the host's firewall and sysctls as they were."""

    def __init__(self, run=None):
        from tests import dockerlib

        run = re.sub(r"[^A-Za-z0-9_-]", "", run or dockerlib.RUN)
        self.folder = Path(settings.DATA_DIR) / f"test-engine-{run}"
        self.socket_path = self.folder / "docker.sock"
        self.address = f"unix://{self.socket_path}"
        self.pidfile = self.folder / "dockerd.pid"
        self.bridge = f"dkyt-{run}"[:15]  # the kernel's limit on interface names
        self.subnet = None
        self.process = None
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "daemon.json").write_text("{}\n")  # not the host's /etc/docker/daemon.json
        self._stop_stale()
        try:
            self._make_bridge(run)
            self.start()
        except BaseException:
            self.stop()
            raise

    def docker(self, *args, input=None, check=True):
        """The docker CLI against this engine."""
        from tests import dockerlib

        return dockerlib.docker("-H", self.address, *args, input=input, check=check)

    def import_base_image(self):
        """Debian's static busybox as the base image, as on the shared engine."""
        from tests import dockerlib

        self.docker("import", "-c", f"LABEL {dockerlib.TEST_LABEL}=base", "-c", 'CMD ["sh"]', "-",
                    dockerlib.BASE_IMAGE, input=dockerlib.busybox_rootfs())
        return self.docker("image", "inspect", "--format", "{{.Id}}", dockerlib.BASE_IMAGE).strip()

    def start(self, timeout=60):
        self.log = open(self.folder / "dockerd.log", "ab")
        self.process = subprocess.Popen(
            ["dockerd", "--config-file", str(self.folder / "daemon.json"),
             "--data-root", str(self.folder / "data"), "--exec-root", str(self.folder / "exec"),
             "--pidfile", str(self.pidfile), "--host", self.address,
             "--bridge", self.bridge, "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--log-level", "warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The second dockerd did not start; see {self.folder / 'dockerd.log'}")
            time.sleep(0.2)

    def answers(self):
        """Whether the engine answers its ping."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.socket_path))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return b" 200 " in sock.recv(1024).split(b"\r\n", 1)[0]
        except OSError:
            return False

    def restart(self):
        """SIGTERM the engine, as an upgrade or a service restart does, and start it again."""
        self._terminate()
        self.start()

    def stop(self):
        self._terminate()
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        mounted = Path("/proc/mounts").read_text()
        if str(self.folder) not in mounted:  # never delete through a mount the engine left behind
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)

    def _terminate(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # dockerd stops its containerd itself
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.log.close()

    def _stop_stale(self):
        """A session killed with its engine running leaves the engine, or its pid
        files, behind: stop an engine of this folder's, remove the pid files of
        one that is gone (dockerd and its containerd refuse to start past them)."""
        for pidfile in (self.pidfile, self.folder / "exec" / "containerd" / "containerd.pid"):
            try:
                pid = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                pidfile.unlink(missing_ok=True)
                continue
            try:
                ours = str(self.folder).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                ours = False  # gone
            if ours:
                os.kill(pid, signal.SIGTERM)
                for _ in range(150):
                    if not Path(f"/proc/{pid}").exists():
                        break
                    time.sleep(0.2)
            pidfile.unlink(missing_ok=True)

    def _make_bridge(self, run):
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        taken = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
        routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
        start = sum(run.encode()) % 256
        for step in range(256):
            third = (start + step) % 256
            network = f"198.18.{third}."
            if network not in taken and network not in routes:
                break
        else:
            raise RuntimeError("No free /24 in 198.18.0.0/16 for the second engine's bridge")
        self.subnet = f"{network}0/24"
        for command in (["ip", "link", "add", "name", self.bridge, "type", "bridge"],
                        ["ip", "addr", "add", f"{network}1/24", "dev", self.bridge],
                        ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(command, capture_output=True, check=True)


def script_env(data_dir, **extra):
    """The environment of a Dockyard script run by hand with its own data directory:
    no REDIS_URL or database from the test run, and the umask of a login shell,
    so that what the script makes private it makes so itself."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "DATABASE_URL", "DOCKYARD_SECRET_KEY", "DOCKYARD_ENCRYPTION_KEY", *NOT_FOR_CHILDREN)}
    return {**env, "DOCKYARD_DATA_DIR": str(data_dir), **extra}


def login_shell_umask():
    os.umask(0o022)


class DockyardRedis:
    """Redis as `scripts/services.sh redis` starts it when none answers (append-only
    file, a generated password), on a free port with a data directory of its own,
    so that a test may restart it without touching the shared one."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.env = script_env(self.data_dir, DOCKYARD_REDIS_PORT=str(self.port),
                              DJANGO_SETTINGS_MODULE="dashboard.settings")
        self.output = ""

    def start(self):
        """Run services.sh; return what it printed."""
        result = subprocess.run([str(ROOT / "scripts" / "services.sh"), "redis"], env=self.env, cwd=ROOT,
                                capture_output=True, text=True, timeout=60, preexec_fn=login_shell_umask)
        assert result.returncode == 0, result.stdout + result.stderr
        self.output += result.stdout + result.stderr
        return result.stdout + result.stderr

    @property
    def running(self):
        pidfile = self.data_dir / "redis" / "redis.pid"
        return pidfile.exists() and Path(f"/proc/{pidfile.read_text().strip()}").exists()

    @property
    def password(self):
        return (self.data_dir / "redis-password").read_text().strip()

    @property
    def url(self):
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5)

    def stop(self):
        """SHUTDOWN, as `systemctl restart` or a reboot ends Redis: the append-only
        file is written out first. Wait until the process is gone."""
        import redis

        pid = int((self.data_dir / "redis" / "redis.pid").read_text())
        try:
            self.client().shutdown()
        except redis.ConnectionError:
            pass  # the server closes the connection as it goes
        deadline = time.monotonic() + 20
        while Path(f"/proc/{pid}").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server {pid} did not stop")
            time.sleep(0.1)

    def restart(self, lose_data=False):
        """Stop and start again in the same data directory; with `lose_data`, as a
        Redis without persistence comes back: empty."""
        self.stop()
        if lose_data:
            import shutil

            shutil.rmtree(self.data_dir / "redis" / "appendonlydir")
        self.start()
