"""Bench scenario 12: stored output at a million lines. How many bytes the
chunks take per byte of log, how long the worker's writer takes, and how long
a search of the whole log takes on the server (target < 500 ms, on SQLite and
on PostgreSQL). Each row names the database it ran on.

The log is real text: this machine's `ls -lR /usr` (file modes, owners, sizes,
dates and names, as build output of listing steps looks), cycled to a million
lines, each with its line number, as a build's `RUN` would print it. It is
written through the worker's writer (JobLog), as a running job's output is.

The searches: the marker on the first line, the one on the last, and "root",
on about 80% of the lines (twice on most), whose first page is what a reader
of a dense search waits for. Each is timed in wall time and in the processor
time of this process, which the web process would spend: on a shared machine
the wall time is the processor time stretched by the load.

`make bench` runs it as scenario 12 (BENCH_ONLY=12 alone) on the bench's own
database (SQLite), then on PostgreSQL in a process of its own
(scenario_log_store_postgres; BENCH_POSTGRES=0 skips that). Runnable on its own
against a database of its own, SQLite or whichever DATABASE_URL names:
    DOCKYARD_DATA_DIR=/tmp/bench-logstore BENCH_FEWER_RUNS=1 .venv/bin/python -m bench.logstore
"""

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import fmt, record

ROOT = Path(__file__).resolve().parent.parent
LINES = int(os.environ.get("BENCH_LOGSTORE_LINES", 1_000_000))
POSTGRES = os.environ.get("BENCH_POSTGRES", "1") != "0"
# A database of the bench's own in the suite's cluster: not `dockyard`, the
# URL's database in scripts/test-postgres.sh, beside which pytest makes and
# drops its test_dockyard.
POSTGRES_DATABASE = "dockyard_bench"
WRITER_LINES = 200_000  # bench 4's size
WRITE_BATCH = 500  # lines the worker's reading thread hands over at once
SEARCHES = (("first-line-marker", 1), ("LAST-LINE-MARKER", 1), ("root", None))


def real_log(count):
    """`count` lines of real listing text, the first and the last marked."""
    listing = subprocess.run(["ls", "-lR", "/usr"], capture_output=True, text=True).stdout.splitlines()
    listing = [line for line in listing if line.strip()]
    lines = [f"{n} {listing[n % len(listing)]}" for n in range(count)]
    lines[0] = "FIRST-LINE-MARKER " + lines[0]
    lines[-1] = "LAST-LINE-MARKER " + lines[-1]
    return lines


def _write(user, lines, target):
    """A job whose output is `lines`, written by the worker's JobLog: (job, wall s, processor s)."""
    from images.jobs.log import JobLog
    from images.models import Job

    job = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.RUNNING, target=target,
                             created_by=user, output_limit=1 << 40)
    output = JobLog(job, publish=lambda *_: None)
    wall, cpu = time.perf_counter(), time.process_time()
    for first in range(0, len(lines), WRITE_BATCH):
        output.write_lines(lines[first:first + WRITE_BATCH])
    output.close()
    return job, time.perf_counter() - wall, time.process_time() - cpu


def _database():
    """The database, as a row names it: "SQLite 3.40.1", "PostgreSQL 15.10"."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000}"
    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    return connection.vendor


def scenario_writer(user, repeat):
    """The worker's writer alone at bench 4's size: 200,000 lines handed over
    500 at a time, stored and (to nowhere) published; the processor time the
    worker spends on storing output, which bench 4 pays inside a build."""
    lines = [f"line {n} padding padding padding" for n in range(WRITER_LINES)]
    walls, cpus = [], []
    for _ in range(repeat):
        job, wall, cpu = _write(user, lines, "dockyard-bench/writer:1")
        walls.append(wall)
        cpus.append(cpu)
        job.delete()
    record(f"12. Log writer alone, {WRITER_LINES:,} lines in batches of {WRITE_BATCH} ({_database()})", walls,
           "— (reported)", None, detail=f"processor time {fmt(statistics.median(cpus))}")


def scenario_storage(user, lines=None):
    """Stored bytes per raw byte of a million-line log (target ≤ 0.5); returns the job."""
    from django.db.models import Sum

    from images.models import LogChunk

    lines = lines or real_log(LINES)
    job, wall, cpu = _write(user, lines, "dockyard-bench/logstore:1")
    raw = sum(len(line.encode()) + 1 for line in lines)
    chunks = LogChunk.objects.filter(job=job)
    stored_lines, chunk_count = chunks.aggregate(total=Sum("line_count"))["total"], chunks.count()
    stored = sum(len(bytes(blob)) for blob in chunks.values_list("data", flat=True).iterator(chunk_size=100))
    stored += chunk_count * 5 * 8  # the row's numbers: id, job, first and last line, count, first time
    ratio = stored / raw
    record(f"12. Log storage, {len(lines):,} lines of real text, written through the worker's writer "
           f"({_database()})", [wall], "≤0.5× the raw log, every line stored",
           ratio <= 0.5 and stored_lines == len(lines), value="written in",
           detail=f"{ratio:.3f}× the raw log: {raw / 1e6:.1f} MB raw, {stored / 1e6:.1f} MB in {chunk_count:,} "
                  f"chunks; {stored_lines:,} lines stored; processor time {fmt(cpu)}")
    return job


def scenario_search(job, repeat, lines=LINES):
    """A search of the whole million-line log, server side (target < 500 ms)."""
    from images.jobs import logsearch

    for query, expect in SEARCHES:
        walls, cpus = [], []
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            found = logsearch.search(job.pk, query)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        right = found["lines"] and (expect is None or found["count"] == expect)
        record(f"12. Log search over {lines:,} stored lines, '{query}', first page and count ({_database()})",
               walls, "<500 ms server side", statistics.median(walls) < 0.5 and right,
               detail=f"{found['count']:,} matching lines, {len(found['lines'])} on the first page, the first "
                      f"line {found['lines'][0][0] if found['lines'] else '-'}; processor time "
                      f"{fmt(statistics.median(cpus))} ({fmt(min(cpus))}–{fmt(max(cpus))})")


def scenario_log_store(user, repeat):
    """Scenario 12 whole: the writer, then storage and search of one
    million-line job, removed at the end."""
    scenario_writer(user, repeat)
    job = scenario_storage(user)
    try:
        scenario_search(job, repeat)
    finally:
        job.delete()


def scenario_log_store_postgres():
    """Scenario 12 again on PostgreSQL, in a process of its own (Django takes
    its database once, at start): on the cluster of Debian's PostgreSQL that
    scripts/test-postgres.sh uses, in POSTGRES_DATABASE, which
    scripts/services.sh makes if missing and that process migrates. Its rows
    join this run's table."""
    from django.db import connection

    from bench import report

    if not POSTGRES:
        print("  12. On PostgreSQL: not run (BENCH_POSTGRES=0)", flush=True)
        return
    if connection.vendor == "postgresql":
        print("  12. On PostgreSQL: this run's own database is PostgreSQL; its rows are above", flush=True)
        return
    # The cluster's password is the suite's, kept in var/, not in the bench's data directory.
    suites = {key: value for key, value in os.environ.items() if key != "DOCKYARD_DATA_DIR"}
    url = subprocess.run([ROOT / "scripts" / "postgres-test-url.sh", POSTGRES_DATABASE], env=suites,
                         capture_output=True, text=True, check=True).stdout.strip()
    # The URL (it carries the password) goes in the environment, never on a command line.
    subprocess.run([ROOT / "scripts" / "services.sh", "postgres"], env={**suites, "DATABASE_URL": url}, check=True)
    with tempfile.TemporaryDirectory() as folder:
        rows = Path(folder) / "rows.json"
        subprocess.run([sys.executable, "-m", "bench.logstore", "--rows", str(rows)], cwd=ROOT,
                       env={**os.environ, "DATABASE_URL": url}, check=True)
        report.rows.extend(json.loads(rows.read_text()))


def main():
    parser = argparse.ArgumentParser(description="Bench scenario 12 alone, on the database DATABASE_URL names.")
    parser.add_argument("--rows", type=Path, help="also write the rows here, as JSON (for the bench that ran this)")
    arguments = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench import report

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-logstore")
    scenario_log_store(user, report.REPEAT)
    if arguments.rows:
        arguments.rows.write_text(json.dumps(report.rows, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
