#!/usr/bin/env bash
# Make sure the services Dockyard needs answer: `scripts/services.sh docker redis [registry] [chromium] [busybox]`.
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

for service in "$@"; do
  "ensure_$service"
done
