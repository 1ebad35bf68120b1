"""Dockyard settings. Every deployment-specific value is read from the environment;
README.md lists them."""

import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote

import dj_database_url

from django.core.exceptions import ImproperlyConfigured

from dashboard.env import envbool, envint, envlist, envnetworks, envstr, parse_networks
from dashboard.private import make_private
from images import engines
from images.accounts.role_claims import parse_mapping

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("DOCKYARD_DATA_DIR", str(BASE_DIR / "var")))
# Every Dockyard process loads these settings: from here on what it writes
# (database, keys, logs, uploads, the beat schedule) is its own user's only.
make_private(DATA_DIR)
# prometheus-client keeps every process's counters in files here (images/monitoring/metrics.py);
# it reads the variable when first imported, which is after the settings in every process.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(DATA_DIR / "metrics"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(mode=0o700, exist_ok=True)
DEBUG = envbool("DOCKYARD_DEBUG", False)


def _secret_key():
    """The configured key, or one generated once and kept under DATA_DIR, so that a
    checkout runs without a key anyone could read in the source."""
    configured = envstr("DOCKYARD_SECRET_KEY")
    if configured:
        if not DEBUG and (len(configured) < 50 or len(set(configured)) < 5 or configured.startswith("django-insecure")
                          or configured.lower() in ("changeme", "secret", "dockyard")):
            # Sessions, CSRF tokens and password resets are only as safe as this key.
            raise ImproperlyConfigured("DOCKYARD_SECRET_KEY looks like a default or a placeholder: use 50 or more "
                                       "random characters, or unset it to have one generated under DOCKYARD_DATA_DIR.")
        return configured
    path = DATA_DIR / "secret-key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("DOCKYARD_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
if not DEBUG and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    # A wildcard would also switch off the websocket origin check, which
    # compares the Origin header against this list.
    raise ImproperlyConfigured("DOCKYARD_ALLOWED_HOSTS must name the hosts Dockyard answers to; '*' and an "
                               "empty list are refused unless DOCKYARD_DEBUG is on.")
CSRF_TRUSTED_ORIGINS = envlist("DOCKYARD_CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "images.views.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # the API's reference page and its assets (images/api)
    "images",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The engine from the URL's /e/<name>/ before anything resolves or reverses a URL.
    "images.middleware.EngineMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "images.middleware.BearerTokenMiddleware",
    # Before anything reads a body: CsrfViewMiddleware's view hook parses it.
    "images.middleware.RequestBodyLimitMiddleware",
    "images.accounts.audit.AuditContextMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
ASGI_APPLICATION = "dashboard.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # After auth's: its `perms` become those of the page's engine.
                "images.views.pages.engine_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'dockyard.sqlite3'}",
        # Kept open: each websocket's queries run one after another on its web
        # process's database thread, and opening SQLite again for each was a
        # sixth of that thread's time when a thousand viewers connected.
        conn_max_age=envint("DOCKYARD_DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and the tests write at the same time: wait for
    # the lock instead of failing, and let readers run beside the writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: the test suite's worker and server processes share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-dockyard.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "images-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("DOCKYARD_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
# Serve straight from static/ so a checkout runs without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG


def _redis_url():
    """REDIS_URL as the operator set it; unset, the Redis on 127.0.0.1 that
    scripts/services.sh uses, with the password it generated when it started
    that Redis itself."""
    configured = envstr("REDIS_URL")
    if configured:
        return configured
    port = envint("DOCKYARD_REDIS_PORT", 6379, minimum=1)
    password_file = DATA_DIR / "redis-password"
    if password_file.exists():
        return f"redis://:{quote(password_file.read_text().strip(), safe='')}@127.0.0.1:{port}/0"
    return f"redis://127.0.0.1:{port}/0"


REDIS_URL = _redis_url()
# For every Redis client Dockyard makes. redis-py 8 gives each connection a 5 s
# read timeout, no longer than the core channel layer's blocking read (BZPOPMIN,
# 5 s), which closed quiet streams' sockets with 1011 (redis-py#4091). Reads may
# wait longer than any blocking read Dockyard makes, and still fail against a
# Redis gone silent.
REDIS_CLIENT_OPTIONS = {"socket_timeout": 30, "socket_connect_timeout": 5}

# Engines by name (images/engines.py reads DOCKYARD_ENGINES); the engine module
# keeps one client per entry. TLS files of tcp:// engines, by engine name.
DOCKYARD_ENGINES = engines.parse(envstr("DOCKYARD_ENGINES"), envstr("DOCKER_HOST"))
DOCKYARD_ENGINE_TLS = engines.parse_tls(DOCKYARD_ENGINES, os.environ)
DOCKYARD_ENGINE_TIMEOUT = envint("DOCKYARD_ENGINE_TIMEOUT", 30, minimum=1)
DOCKYARD_IMAGES_PER_PAGE = envint("DOCKYARD_IMAGES_PER_PAGE", 100, minimum=1)

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("DOCKYARD_JOB_TIME_LIMIT", 4 * 3600, minimum=60)
# Redis redelivers a message not acknowledged within this window; it must
# outlast the longest job or a running build would be started again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600, **REDIS_CLIENT_OPTIONS}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
DOCKYARD_SWEEP_INTERVAL = envint("DOCKYARD_SWEEP_INTERVAL", 10, minimum=1)
DOCKYARD_REQUEUE_AFTER = envint("DOCKYARD_REQUEUE_AFTER", 300, minimum=1)
# The Disk page's samples of each engine's `system df`: how often, and how long they are kept.
DOCKYARD_DISK_SAMPLE_MINUTES = envint("DOCKYARD_DISK_SAMPLE_MINUTES", 15, minimum=1)
DOCKYARD_DISK_SAMPLE_DAYS = envint("DOCKYARD_DISK_SAMPLE_DAYS", 90, minimum=1)
# Images a retention rule removes are first saved here, to be loaded back within the undo window;
# the oldest archives go first when the directory would pass its cap (bytes).
DOCKYARD_QUARANTINE_DIR = Path(envstr("DOCKYARD_QUARANTINE_DIR", str(DATA_DIR / "quarantine")))
DOCKYARD_QUARANTINE_MAX = envint("DOCKYARD_QUARANTINE_MAX", 10 * 1000**3, minimum=0)
DOCKYARD_UNDO_HOURS = envint("DOCKYARD_UNDO_HOURS", 24, minimum=1)
# Every how many hours celery beat applies each engine's retention rules, as a job (0: only on demand).
DOCKYARD_RETENTION_SCHEDULE_HOURS = envint("DOCKYARD_RETENTION_SCHEDULE_HOURS", 0, minimum=0)
# The check of the bases recent builds used (images/bases/checks.py): on or off, every how many hours,
# and the builds of how many days back whose bases it asks the registries about.
DOCKYARD_BASE_CHECK_ENABLED = envbool("DOCKYARD_BASE_CHECK_ENABLED", True)
DOCKYARD_BASE_CHECK_INTERVAL = envint("DOCKYARD_BASE_CHECK_INTERVAL", 6, minimum=1)
DOCKYARD_BASE_CHECK_DAYS = envint("DOCKYARD_BASE_CHECK_DAYS", 30, minimum=1)
# Periodic work, one line a task: seconds between runs. `celery beat` (started by
# scripts/run.sh) sends each, a worker runs it. A run a busy worker has not
# started within its period is dropped: the next one does the same work.
DOCKYARD_SCHEDULE = {
    "images.tasks.reap_interrupted_jobs": DOCKYARD_SWEEP_INTERVAL,
    "images.tasks.requeue_unclaimed_jobs": DOCKYARD_SWEEP_INTERVAL,
    "images.tasks.purge_expired_jobs": 3600,
    "images.tasks.remove_unused_file_indexes": 3600,
    "images.tasks.remove_finished_run_containers": DOCKYARD_SWEEP_INTERVAL,
    "images.tasks.sample_disk_usage": DOCKYARD_DISK_SAMPLE_MINUTES * 60,
    "images.tasks.empty_quarantine": 3600,
    # A rebuild batch moves on as its jobs end; this catches jobs that ended without a worker (cancelled, interrupted).
    "images.tasks.advance_rebuild_batches": DOCKYARD_SWEEP_INTERVAL,
    **({"images.tasks.check_bases": DOCKYARD_BASE_CHECK_INTERVAL * 3600} if DOCKYARD_BASE_CHECK_ENABLED else {}),
    **({"images.tasks.apply_retention_rules": DOCKYARD_RETENTION_SCHEDULE_HOURS * 3600}
       if DOCKYARD_RETENTION_SCHEDULE_HOURS else {}),
}
CELERY_BEAT_SCHEDULE = {task: {"task": task, "schedule": seconds, "options": {"expires": seconds}}
                        for task, seconds in DOCKYARD_SCHEDULE.items()}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# The pub/sub layer: a group message is published once and each web process,
# subscribed once per group, hands it to its own viewers, where the core
# layer wrote and read one Redis message per viewer (bench 10: 100 viewers over
# two processes, p99 748 -> 185 ms). Nothing is kept for a process that misses
# one: viewers number their lines and read gaps back from the database.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "images.jobs.channel_layer.SharedDecodeChannelLayer",
        # The address keeps whatever the URL carries (a password, a database).
        "CONFIG": {"hosts": [{"address": REDIS_URL, **REDIS_CLIENT_OPTIONS}]},
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("DOCKYARD_LOG_LEVEL", "INFO")},
}

# Jobs
DOCKYARD_JOB_OUTPUT_LIMIT = envint("DOCKYARD_JOB_OUTPUT_LIMIT", 50 * 1024 * 1024, minimum=4096)
DOCKYARD_HEARTBEAT_INTERVAL = envint("DOCKYARD_HEARTBEAT_INTERVAL", 2, minimum=1)
DOCKYARD_HEARTBEAT_TIMEOUT = envint("DOCKYARD_HEARTBEAT_TIMEOUT", 30, minimum=2)
# Days after a job ends that its output lines and uploaded archive are kept.
DOCKYARD_JOB_RETENTION_DAYS = envint("DOCKYARD_JOB_RETENTION_DAYS", 90, minimum=1)
# Runs (images.lifecycle.runs): each limit is the run form's default and the most a run may ask for.
DOCKYARD_RUN_MEMORY = envint("DOCKYARD_RUN_MEMORY", 512, minimum=6)  # MB; the engine's own floor is 6 MB
DOCKYARD_RUN_CPUS = envint("DOCKYARD_RUN_CPUS", 1, minimum=1)
DOCKYARD_RUN_PIDS = envint("DOCKYARD_RUN_PIDS", 256, minimum=8)
DOCKYARD_RUN_TIMEOUT = envint("DOCKYARD_RUN_TIMEOUT", 600, minimum=5)  # seconds of wall time
# Networks a run may join besides "none" (its default); never "host" unless named here.
DOCKYARD_RUN_NETWORKS = envlist("DOCKYARD_RUN_NETWORKS", [])
# Names this Dockyard on the containers it starts (a label): two Dockyards on one engine need
# different ones. Unset, it is derived from the secret key.
DOCKYARD_INSTANCE = envstr("DOCKYARD_INSTANCE", "")
# Hours an ended run's stopped container is kept, for its changes and a commit, before the sweep removes it.
DOCKYARD_RUN_KEEP_HOURS = envint("DOCKYARD_RUN_KEEP_HOURS", 24, minimum=0)
DOCKYARD_BUILD_ROOTS = envlist("DOCKYARD_BUILD_ROOTS", [])
# The engine fetches git contexts itself: only from these schemes and hosts.
DOCKYARD_GIT_SCHEMES = [scheme.lower() for scheme in envlist("DOCKYARD_GIT_SCHEMES", ["https", "ssh"])]
DOCKYARD_GIT_HOSTS = [host.lower() for host in envlist("DOCKYARD_GIT_HOSTS", ["github.com", "gitlab.com", "bitbucket.org"])]
DOCKYARD_CONTEXT_DIR = DATA_DIR / "contexts"
DOCKYARD_UPLOAD_LIMIT = envint("DOCKYARD_UPLOAD_LIMIT", 512 * 1024 * 1024, minimum=1024)
# A whole request body (an upload and the form's other fields), refused by its
# Content-Length before it is read.
DOCKYARD_UPLOAD_MAX = envint("DOCKYARD_UPLOAD_MAX", DOCKYARD_UPLOAD_LIMIT + 2 * 1024 * 1024, minimum=64 * 1024)
# An uploaded archive may not unpack to more members or bytes than this (zip and gzip bombs).
DOCKYARD_ARCHIVE_MAX_MEMBERS = envint("DOCKYARD_ARCHIVE_MAX_MEMBERS", 200_000, minimum=1)
DOCKYARD_ARCHIVE_MAX_UNPACKED = envint("DOCKYARD_ARCHIVE_MAX_UNPACKED", 8 * 1024**3, minimum=1024)
# Per person: jobs queued or running at once, and job or image streams open at once.
DOCKYARD_MAX_ACTIVE_JOBS = envint("DOCKYARD_MAX_ACTIVE_JOBS", 10, minimum=1)
DOCKYARD_MAX_STREAMS = envint("DOCKYARD_MAX_STREAMS", 30, minimum=1)
DOCKYARD_QUEUE = envstr("DOCKYARD_QUEUE", "dockyard")
CELERY_TASK_DEFAULT_QUEUE = DOCKYARD_QUEUE
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = envstr("DOCKYARD_CHANNEL_PREFIX", "dockyard")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploads over that go to disk here, on the filesystem of DOCKYARD_CONTEXT_DIR:
# a context is then kept by a hard link, not copied (contexts.save_upload).
FILE_UPLOAD_TEMP_DIR = DATA_DIR / "tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(mode=0o700, exist_ok=True)
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler",
                        "dashboard.request_body.DiskUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DOCKYARD_ENCRYPTION_KEY = envstr("DOCKYARD_ENCRYPTION_KEY")

# File indexes (images/files): each layer's entries, read from `docker save`.
# Index an image after a Dockyard build, pull or import of it.
DOCKYARD_INDEX_AFTER_JOBS = envbool("DOCKYARD_INDEX_AFTER_JOBS", True)
# Entries indexed a layer, and browsed an image: past it the rest of a layer is
# left out (the page says so). The explorer holds ~400 bytes an entry in memory.
# Read a local engine's own record of each layer's tar headers (its tar-split)
# instead of the whole save stream, where the engine and its data root are here.
DOCKYARD_INDEX_LAYER_RECORDS = envbool("DOCKYARD_INDEX_LAYER_RECORDS", True)
DOCKYARD_INDEX_MAX_FILES = envint("DOCKYARD_INDEX_MAX_FILES", 300_000, minimum=1)
# Longest path (or link target) indexed, in bytes; longer ones are counted, not kept.
DOCKYARD_INDEX_MAX_PATH = envint("DOCKYARD_INDEX_MAX_PATH", 1024, minimum=64)

# Security headers. Behind a TLS-terminating proxy, DOCKYARD_BEHIND_TLS=1 turns
# on HSTS, secure cookies and trusts the proxy's X-Forwarded-Proto.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
DOCKYARD_BEHIND_TLS = envbool("DOCKYARD_BEHIND_TLS", False)
if DOCKYARD_BEHIND_TLS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = envint("DOCKYARD_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("DOCKYARD_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": envstr("DOCKYARD_CACHE_PREFIX", "dockyard"), "OPTIONS": {**REDIS_CLIENT_OPTIONS}}}
# Proxies whose X-Forwarded-For is believed (addresses or networks); nobody's by default.
DOCKYARD_TRUSTED_PROXIES = envnetworks("DOCKYARD_TRUSTED_PROXIES")
# Who may read /metrics: a bearer token, or these addresses (loopback by default).
DOCKYARD_METRICS_TOKEN = envstr("DOCKYARD_METRICS_TOKEN", "")
DOCKYARD_METRICS_ALLOW = parse_networks("DOCKYARD_METRICS_ALLOW", os.environ.get("DOCKYARD_METRICS_ALLOW",
                                                                                 "127.0.0.1/32, ::1/128"))
DOCKYARD_LOGIN_FAILURES = envint("DOCKYARD_LOGIN_FAILURES", 5, minimum=1)
DOCKYARD_LOGIN_LOCKOUT = envint("DOCKYARD_LOGIN_LOCKOUT", 900, minimum=60)

# What the engine may fetch for a job (images/builds/fetches.py). Registries pulls, pushes and
# FROM / COPY --from may name, besides those on the Registries page: `host` on any port,
# or `host:port`.
DOCKYARD_REGISTRY_HOSTS = [host.lower() for host in envlist("DOCKYARD_REGISTRY_HOSTS", ["docker.io"])]
# Hosts `ADD <url>` may fetch from even though they are loopback, link-local or private.
DOCKYARD_BUILD_FETCH_HOSTS = [host.lower() for host in envlist("DOCKYARD_BUILD_FETCH_HOSTS", [])]
# Where outbound webhooks may go (images.hooks.destinations): host names or addresses, each
# matched after the name is resolved; none by default, so no event leaves until an admin says where.
DOCKYARD_WEBHOOK_HOSTS = [host.lower() for host in envlist("DOCKYARD_WEBHOOK_HOSTS", [])]
# A delivery answered with a 5xx, 429 or nothing is tried again this many times, waiting 2^n seconds (at most
# DOCKYARD_WEBHOOK_BACKOFF_MAX) before the n-th.
DOCKYARD_WEBHOOK_RETRIES = envint("DOCKYARD_WEBHOOK_RETRIES", 8, minimum=0)
DOCKYARD_WEBHOOK_BACKOFF_MAX = envint("DOCKYARD_WEBHOOK_BACKOFF_MAX", 600, minimum=1)
DOCKYARD_WEBHOOK_TIMEOUT = envint("DOCKYARD_WEBHOOK_TIMEOUT", 10, minimum=1)
# The network RUN steps get: `default` (the engine's bridge), `none`, or a network's name.
DOCKYARD_BUILD_NETWORK = envstr("DOCKYARD_BUILD_NETWORK", "default")
if DOCKYARD_BUILD_NETWORK in ("host",) or DOCKYARD_BUILD_NETWORK.startswith("container:") or not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9_.-]*", DOCKYARD_BUILD_NETWORK):
    # The host's network would give every RUN step this host's loopback services,
    # which is what the setting exists to keep builds away from.
    raise ImproperlyConfigured("DOCKYARD_BUILD_NETWORK must be default, none or the name of a Docker network; "
                               f"{DOCKYARD_BUILD_NETWORK!r} is refused (host would give builds this host's "
                               "loopback services).")

# Sign-in through the team's OpenID Connect provider (images/accounts/oidc.py); off while no issuer is set.
DOCKYARD_OIDC_ISSUER = envstr("DOCKYARD_OIDC_ISSUER").rstrip("/")
# What the login page's button names: "Sign in with <name>".
DOCKYARD_OIDC_NAME = envstr("DOCKYARD_OIDC_NAME", "your identity provider")
DOCKYARD_OIDC_CLIENT_ID = envstr("DOCKYARD_OIDC_CLIENT_ID")
DOCKYARD_OIDC_CLIENT_SECRET = envstr("DOCKYARD_OIDC_CLIENT_SECRET")
DOCKYARD_OIDC_SCOPES = envlist("DOCKYARD_OIDC_SCOPES", ["openid", "profile", "email"])
# The claim holding the user's groups, and which groups give which role (group=role or group=role@engine).
DOCKYARD_OIDC_GROUPS_CLAIM = envstr("DOCKYARD_OIDC_GROUPS_CLAIM", "groups")
DOCKYARD_OIDC_USERNAME_CLAIM = envstr("DOCKYARD_OIDC_USERNAME_CLAIM", "preferred_username")
# On: the mapping decides every role at each login, hand-given ones too. Off: roles an admin gave stay.
DOCKYARD_OIDC_OWNS_ROLES = envbool("DOCKYARD_OIDC_OWNS_ROLES", False)
# The callback URL registered at the provider; unset, the one this request's host makes.
DOCKYARD_OIDC_REDIRECT_URI = envstr("DOCKYARD_OIDC_REDIRECT_URI")
# Seconds a token's times may be off by (the two clocks differ a little).
DOCKYARD_OIDC_CLOCK_SKEW = envint("DOCKYARD_OIDC_CLOCK_SKEW", 60, minimum=0)
# Off: only accounts in the break-glass group may log in with a password.
DOCKYARD_LOCAL_LOGIN = envbool("DOCKYARD_LOCAL_LOGIN", True)
if DOCKYARD_OIDC_ISSUER:
    if not DOCKYARD_OIDC_CLIENT_ID:
        raise ImproperlyConfigured("DOCKYARD_OIDC_ISSUER is set but DOCKYARD_OIDC_CLIENT_ID is not: give the client "
                                   "id registered at the provider.")
    if "openid" not in DOCKYARD_OIDC_SCOPES:
        raise ImproperlyConfigured("DOCKYARD_OIDC_SCOPES must include openid: without it there is no ID token.")
DOCKYARD_OIDC_ROLES = parse_mapping(envstr("DOCKYARD_OIDC_ROLES"), list(DOCKYARD_ENGINES))
