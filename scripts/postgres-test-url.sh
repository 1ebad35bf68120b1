#!/usr/bin/env bash
# Prints the URL of the PostgreSQL the suite's second run (scripts/test-postgres.sh)
# and the bench (bench/logstore.py, scenario 12) use: user dockyard on 127.0.0.1,
# port DOCKYARD_TEST_POSTGRES_PORT (5433), database $1 (dockyard), with the
# password kept in var/postgres-test-password (made the first time).
# `scripts/services.sh postgres` with DATABASE_URL set to it starts that cluster
# and makes the user and the database if missing. The URL carries the password:
# put it in the environment (DATABASE_URL=$(scripts/postgres-test-url.sh)), never
# on a command line.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
VAR=${DOCKYARD_DATA_DIR:-var}
password_file=$VAR/postgres-test-password
[ -s "$password_file" ] || .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' >"$password_file"
port=${DOCKYARD_TEST_POSTGRES_PORT:-5433}
printf 'postgres://dockyard:%s@127.0.0.1:%s/%s\n' "$(<"$password_file")" "$port" "${1:-dockyard}"
