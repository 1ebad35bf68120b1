#!/usr/bin/env bash
# Make sure the services Dockyard needs answer: `scripts/services.sh docker redis [registry] [chromium] [busybox] [oidc]`.
# What already answers (DOCKER_HOST or the default socket, REDIS_URL) is used as it is.
# What does not is started here, on Debian as root, installing Debian's package
# if needed, with data and logs under var/ (git ignores it). Elsewhere it stops
# with one sentence saying what to install. Running it again reuses what is up.
set -euo pipefail
# What these services write under var/ is Dockyard's user's only.
umask 077

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${DOCKYARD_DATA_DIR:-$ROOT/var}
PY=$ROOT/.venv/bin/python
LOG=$VAR/log
mkdir -p "$LOG"

say() { printf '%s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

can_install() { [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

apt_updated=
apt_install() {
  can_install || return 1
  if [ -z "$apt_updated" ]; then
    apt-get update -qq >"$LOG/apt.log" 2>&1 || true
    apt_updated=1
  fi
  say "Installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$LOG/apt.log" 2>&1
}

wait_for() {  # wait_for SECONDS CHECK...
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- Docker engine -----------------------------------------------------------
docker_answers() {
  "$PY" - <<'PY' 2>/dev/null
import docker
docker.from_env(timeout=5).ping()
PY
}

ensure_docker() {
  docker_answers && return
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "The Docker engine at DOCKER_HOST=$DOCKER_HOST does not answer: start it, or unset DOCKER_HOST to let Dockyard start one."
  fi
  command -v dockerd >/dev/null || apt_install docker.io ||
    die "Dockyard needs a Docker engine: install Docker (Debian: apt-get install docker.io) and start dockerd, or set DOCKER_HOST."
  [ "$(id -u)" = 0 ] || die "The Docker engine is not running and only root can start dockerd: start it, or set DOCKER_HOST."
  local pidfile=$VAR/docker/dockerd.pid
  if alive "$pidfile"; then
    say "Waiting for the dockerd started earlier (pid $(cat "$pidfile"))..."
  else
    # A dockerd killed with its session leaves its pid files behind; a stale
    # one makes the next dockerd (or its containerd) refuse to start.
    for stale in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
      if [ -e "$stale" ] && ! alive "$stale"; then rm -f "$stale"; fi
    done
    mkdir -p "$VAR/docker/data"
    say "Starting dockerd (data in $VAR/docker, log in $LOG/dockerd.log)..."
    setsid dockerd --data-root "$VAR/docker/data" --pidfile "$pidfile" \
      >>"$LOG/dockerd.log" 2>&1 </dev/null &
  fi
  wait_for 60 docker_answers || die "dockerd did not come up within 60 s; see $LOG/dockerd.log."
}

# --- Redis -------------------------------------------------------------------
# REDIS_URL, when set, is used as it is. Unset, Dockyard's Redis is the one on
# 127.0.0.1:DOCKYARD_REDIS_PORT: one answering there without a password (started
# earlier, outside Dockyard) is used as it is; otherwise one is started here with
# a generated password, kept in var/redis-password (settings reads it too), and
# an append-only file, so that queued jobs outlive a restart of Redis.
REDIS_PORT=${DOCKYARD_REDIS_PORT:-6379}
REDIS_PASSWORD_FILE=$VAR/redis-password

redis_state() {  # redis_state URL [PASSWORD_FILE]: ok, locked (answers but refuses), or down
  # The URL goes in the environment, not on a command line anyone can read.
  CHECK_URL=$1 CHECK_PASSWORD_FILE=${2:-} "$PY" - <<'PY' 2>/dev/null || echo down
import os, redis
password_file = os.environ["CHECK_PASSWORD_FILE"]
password = open(password_file).read().strip() if password_file else None
try:
    redis.Redis.from_url(os.environ["CHECK_URL"], password=password, socket_timeout=2).ping()
    print("ok")
except (redis.AuthenticationError, redis.ResponseError):
    print("locked")
except redis.RedisError:
    print("down")
PY
}

own_redis_answers() { [ "$(redis_state "redis://127.0.0.1:$REDIS_PORT/0" "$REDIS_PASSWORD_FILE")" = ok ]; }

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    # Never printed: the URL may carry a password.
    [ "$(redis_state "$REDIS_URL")" = ok ] ||
      die "The Redis in REDIS_URL does not answer: start it, or unset REDIS_URL to let Dockyard start one."
    return
  fi
  if [ -s "$REDIS_PASSWORD_FILE" ]; then
    case $(redis_state "redis://127.0.0.1:$REDIS_PORT/0" "$REDIS_PASSWORD_FILE") in
      ok) return ;;
      locked) die "The Redis on 127.0.0.1:$REDIS_PORT is not the one Dockyard started (it refuses the password in $REDIS_PASSWORD_FILE): stop it, or set REDIS_URL to use it." ;;
    esac
  else
    case $(redis_state "redis://127.0.0.1:$REDIS_PORT/0") in
      ok) return ;;
      locked) die "The Redis on 127.0.0.1:$REDIS_PORT wants a password: set REDIS_URL with it, or stop that Redis to let Dockyard start one." ;;
    esac
  fi
  command -v redis-server >/dev/null || apt_install redis-server ||
    die "Dockyard needs Redis: install it (Debian: apt-get install redis-server) and start it, or set REDIS_URL."
  mkdir -p "$VAR/redis"
  if [ ! -s "$REDIS_PASSWORD_FILE" ]; then
    "$PY" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$REDIS_PASSWORD_FILE"
  fi
  say "Starting redis-server on 127.0.0.1:$REDIS_PORT (data in $VAR/redis, password in $REDIS_PASSWORD_FILE)..."
  # The password goes in on stdin: every local user can read a command line.
  printf 'requirepass %s\n' "$(<"$REDIS_PASSWORD_FILE")" |
    redis-server - --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$VAR/redis" \
      --pidfile "$VAR/redis/redis.pid" --logfile "$LOG/redis.log" --save "" --appendonly yes >/dev/null
  wait_for 20 own_redis_answers || die "redis-server did not come up within 20 s; see $LOG/redis.log."
}

# --- PostgreSQL (when DATABASE_URL names one on this host) ---------------------
# A postgres:// DATABASE_URL on 127.0.0.1 or localhost that does not answer gets
# a cluster of Debian's PostgreSQL of its own, named for the port, with the
# URL's user, password and database. PostgreSQL will not run as root and its
# user cannot enter var/ (0700, Dockyard's only), so the cluster lives where
# Debian keeps clusters, /var/lib/postgresql/<version>/dockyard-<port>.
postgres_answers() {
  "$PY" - <<'PY' 2>/dev/null
import os, psycopg
psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
PY
}

ensure_postgres() {
  case ${DATABASE_URL:-} in postgres://*|postgresql://*) ;; *) return ;; esac
  postgres_answers && return
  local parts; parts=$("$PY" - <<'PY'
import os
from urllib.parse import urlsplit, unquote
url = urlsplit(os.environ["DATABASE_URL"])
print(url.hostname or "", url.port or 5432, unquote(url.username or ""), url.path.lstrip("/"))
PY
)
  read -r host port user database <<<"$parts"
  case $host in 127.0.0.1|localhost) ;; *) die "The PostgreSQL in DATABASE_URL (on $host) does not answer: start it, or point DATABASE_URL at a running one." ;; esac
  command -v pg_createcluster >/dev/null || apt_install postgresql ||
    die "Dockyard needs PostgreSQL for this DATABASE_URL: install it (Debian: apt-get install postgresql), or use SQLite (unset DATABASE_URL)."
  local version; version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  local cluster=dockyard-$port
  if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$cluster"; then
    say "Creating PostgreSQL $version cluster $cluster on 127.0.0.1:$port..."
    pg_createcluster "$version" "$cluster" -p "$port" -- --auth-local=peer --auth-host=scram-sha-256 >>"$LOG/postgres.log" 2>&1
  fi
  pg_ctlcluster "$version" "$cluster" start >>"$LOG/postgres.log" 2>&1 || true
  wait_for 30 runuser -u postgres -- psql -p "$port" -Atqc "select 1" >/dev/null 2>&1 ||
    die "PostgreSQL cluster $cluster did not come up within 30 s; see /var/log/postgresql/."
  # The password goes in on stdin, never on a command line.
  "$PY" - <<'PY' | runuser -u postgres -- psql -p "$port" -q -v ON_ERROR_STOP=1 >>"$LOG/postgres.log" 2>&1
import os
from urllib.parse import urlsplit, unquote
url = urlsplit(os.environ["DATABASE_URL"])
user, password, database = unquote(url.username or ""), unquote(url.password or ""), url.path.lstrip("/")
quote = lambda text: "'" + text.replace("'", "''") + "'"
ident = lambda text: '"' + text.replace('"', '""') + '"'
print(f"SELECT 'CREATE ROLE {ident(user)} LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote(user)})\\gexec")
print(f"ALTER ROLE {ident(user)} LOGIN CREATEDB PASSWORD {quote(password)};")
print(f"SELECT 'CREATE DATABASE {ident(database)} OWNER {ident(user)}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {quote(database)})\\gexec")
PY
  wait_for 10 postgres_answers || die "PostgreSQL is up but refuses DATABASE_URL's login; see $LOG/postgres.log."
}

# --- Local registry (tests push and pull through it) -------------------------
REGISTRY=127.0.0.1:5000
registry_answers() { "$PY" -c "import urllib.request; urllib.request.urlopen('http://$REGISTRY/v2/', timeout=2)" 2>/dev/null; }

ensure_registry() {
  registry_answers && return
  command -v docker-registry >/dev/null || apt_install docker-registry ||
    die "Dockyard's tests need a local registry on $REGISTRY: install docker-registry (Debian) or run one there."
  mkdir -p "$VAR/registry/data"
  cat >"$VAR/registry/config.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $VAR/registry/data}
  delete: {enabled: true}
http:
  addr: $REGISTRY
YML
  say "Starting docker-registry on $REGISTRY (data in $VAR/registry)..."
  setsid docker-registry serve "$VAR/registry/config.yml" >>"$LOG/registry.log" 2>&1 </dev/null &
  wait_for 20 registry_answers || die "docker-registry did not come up within 20 s; see $LOG/registry.log."
}

# --- Chromium (browser tests) ------------------------------------------------
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  apt_install chromium || die "Dockyard's browser tests need Chromium at /usr/bin/chromium: install it (Debian: apt-get install chromium)."
}

# --- busybox (the tests' tiny base image is made from Debian's static busybox) -
ensure_busybox() {
  [ -x /bin/busybox ] && return
  apt_install busybox-static || die "Dockyard's tests build their base image from a static busybox at /bin/busybox: install it (Debian: apt-get install busybox-static)."
}

# --- The tests' OpenID Connect provider (npm oidc-provider, under Node) --------------
# Installed from tests/oidc/package-lock.json into tests/oidc/node_modules (git ignores it), again only when
# the lock changes; npm's cache under var/.
OIDC_DIR=$ROOT/tests/oidc
node_is_recent() { command -v node >/dev/null && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; }

ensure_oidc() {
  node_is_recent || apt_install nodejs npm
  node_is_recent || die "Dockyard's sign-in tests run an OpenID provider under Node 20.19 or newer: install it (Debian: apt-get install nodejs npm)."
  command -v npm >/dev/null || apt_install npm || die "Dockyard's sign-in tests install their OpenID provider with npm: install it (Debian: apt-get install npm)."
  local stamp=$OIDC_DIR/node_modules/.installed-lock
  if [ -f "$stamp" ] && cmp -s "$stamp" "$OIDC_DIR/package-lock.json"; then return; fi
  say "Installing the tests' OpenID provider (tests/oidc, npm ci)..."
  npm ci --prefix "$OIDC_DIR" --cache "$VAR/npm-cache" --no-audit --no-fund --loglevel=error >>"$LOG/npm.log" 2>&1 ||
    die "npm ci in tests/oidc failed; see $LOG/npm.log."
  cp "$OIDC_DIR/package-lock.json" "$stamp"
}

for service in "$@"; do
  "ensure_$service"
done
