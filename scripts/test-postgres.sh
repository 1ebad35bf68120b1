#!/usr/bin/env bash
# The suite's database-sensitive tests again on PostgreSQL (`make test` runs this
# after the whole suite on SQLite): the atomic claim, the job limit under 30
# requests at once, the sweeps, retention, roles (per engine too), the audit log,
# the API, the live stream (resume after a drop, exactly once, from the stored
# chunks), log search and the stored-secret scan. The whole suite passes on PostgreSQL
# too (`scripts/test-postgres.sh tests/`), but twice the suite is over CI's time.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
# In the environment, never on a command line.
DATABASE_URL=$(scripts/postgres-test-url.sh dockyard)
export DATABASE_URL
scripts/services.sh postgres
# Options alone (-q, -x, ...) still run the default files; a path runs what it names.
paths=0
for argument in "$@"; do [[ $argument == -* ]] || paths=1; done
if [ $paths -eq 0 ]; then
  set -- "$@" tests/test_job_limit_race.py tests/test_roles.py tests/test_retry_own_jobs.py tests/test_redis_restart.py \
    tests/test_interrupted_jobs.py tests/test_retention.py tests/test_audit.py tests/test_api.py \
    tests/test_tags.py tests/test_untag_normalised.py tests/test_monitoring.py \
    tests/test_job_stream.py tests/test_log_search.py tests/test_build_jobs.py tests/test_private_data.py tests/test_engines.py
fi
# A named run gets "pg" after its name; an unnamed one a fresh run id (tests/dockerlib.py).
DOCKYARD_TEST_RUN=${DOCKYARD_TEST_RUN:+${DOCKYARD_TEST_RUN}pg} exec .venv/bin/python -m pytest "$@"
