"""Dockyard settings. Every deployment-specific value is read from the environment;
README.md lists them."""

import secrets
from pathlib import Path

import dj_database_url

from django.core.exceptions import ImproperlyConfigured

from dashboard.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("DOCKYARD_DATA_DIR", str(BASE_DIR / "var")))
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

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "images",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dashboard.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "images.middleware.BearerTokenMiddleware",
    "images.audit.AuditContextMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "images.middleware.EngineErrorMiddleware",
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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'dockyard.sqlite3'}",
        conn_max_age=envint("DOCKYARD_DB_CONN_MAX_AGE", 0, minimum=0),
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

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")

# Engines by name. One today; the engine module keeps one client per entry.
DOCKYARD_ENGINES = {
    "default": envstr("DOCKER_HOST", "unix:///var/run/docker.sock"),
}
DOCKYARD_ENGINE_TIMEOUT = envint("DOCKYARD_ENGINE_TIMEOUT", 30, minimum=1)
DOCKYARD_IMAGES_PER_PAGE = envint("DOCKYARD_IMAGES_PER_PAGE", 100, minimum=1)

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("DOCKYARD_JOB_TIME_LIMIT", 4 * 3600, minimum=60)
# Redis redelivers a message not acknowledged within this window; it must
# outlast the longest job or a running build would be started again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
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
DOCKYARD_BUILD_ROOTS = envlist("DOCKYARD_BUILD_ROOTS", [])
# The engine fetches git contexts itself: only from these schemes and hosts.
DOCKYARD_GIT_SCHEMES = [scheme.lower() for scheme in envlist("DOCKYARD_GIT_SCHEMES", ["https", "ssh"])]
DOCKYARD_GIT_HOSTS = [host.lower() for host in envlist("DOCKYARD_GIT_HOSTS", ["github.com", "gitlab.com", "bitbucket.org"])]
DOCKYARD_CONTEXT_DIR = DATA_DIR / "contexts"
DOCKYARD_UPLOAD_LIMIT = envint("DOCKYARD_UPLOAD_LIMIT", 512 * 1024 * 1024, minimum=1024)
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
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DOCKYARD_ENCRYPTION_KEY = envstr("DOCKYARD_ENCRYPTION_KEY")

# Security headers. Behind a TLS-terminating proxy, DOCKYARD_BEHIND_TLS=1 turns
# on HSTS, secure cookies and trusts the proxy's X-Forwarded-Proto.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if envbool("DOCKYARD_BEHIND_TLS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = envint("DOCKYARD_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("DOCKYARD_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                      "KEY_PREFIX": envstr("DOCKYARD_CACHE_PREFIX", "dockyard")}}
DOCKYARD_LOGIN_FAILURES = envint("DOCKYARD_LOGIN_FAILURES", 5, minimum=1)
DOCKYARD_LOGIN_LOCKOUT = envint("DOCKYARD_LOGIN_LOCKOUT", 900, minimum=60)
