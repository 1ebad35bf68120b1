#!/usr/bin/env bash
# Start the Celery worker and scheduler, the event listener and the ASGI server in
# the foreground; Ctrl-C stops them all.
set -uo pipefail
umask 077  # logs, uploads, the beat schedule: Dockyard's user's only
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${DOCKYARD_HOST:-127.0.0.1}
PORT=${DOCKYARD_PORT:-8000}

# Counters of processes from an earlier run would be added to this run's.
rm -rf "${PROMETHEUS_MULTIPROC_DIR:-var/metrics}"

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  wait
}
trap stop INT TERM EXIT

# One worker for every local engine's queue (or those DOCKYARD_WORKER_ENGINES names).
queues=$("$BIN/python" manage.py engines --worker-queues) || exit 1
"$BIN/celery" -A dashboard worker --queues "$queues" --hostname "${DOCKYARD_QUEUE:-dockyard}@%h" --loglevel INFO --concurrency "${DOCKYARD_WORKERS:-2}" &
pids+=($!)
# The scheduler of periodic work (settings.DOCKYARD_SCHEDULE); its schedule file is under var/.
"$BIN/celery" -A dashboard beat --loglevel INFO &
pids+=($!)
# One event listener per engine, remote ones too: events come through the engine's API.
engine_names=$("$BIN/python" manage.py engines --names) || exit 1
for engine in $engine_names; do
  "$BIN/python" manage.py listen_events --engine "$engine" &
  pids+=($!)
done
"$BIN/uvicorn" --http h11 --ws websockets-sansio --ws-per-message-deflate false --loop asyncio --lifespan off --no-proxy-headers --no-server-header --timeout-graceful-shutdown 10 --workers "${DOCKYARD_WEB_PROCESSES:-$(nproc)}" --host "$HOST" --port "$PORT" dashboard.asgi:application &
pids+=($!)
echo "Dockyard is serving http://$HOST:$PORT/ (Ctrl-C stops it)"
# Whichever process ends first ends the rest.
wait -n
