"""Stored output at a million lines: how many bytes the chunks take per byte of
log, and how long a search of the whole log takes on the server.

The log is real text: this machine's `ls -lR /usr` (file modes, owners, sizes,
dates and names, as build output of listing steps looks), cycled to a million
lines, each with its line number, as a build's `RUN` would print it. It is
written through the worker's writer (JobLog), as a running job's output is.

Runnable alone against its own database:
    DOCKYARD_DATA_DIR=/tmp/bench-logstore .venv/bin/python -m bench.logstore
"""

import os
import statistics
import subprocess
import sys
import time

LINES = int(os.environ.get("BENCH_LOGSTORE_LINES", 1_000_000))
WRITE_BATCH = 500  # lines the worker's reading thread hands over at once
SEARCHES = 5


def real_log(count):
    """`count` lines of real listing text, the first and the last marked."""
    listing = subprocess.run(["ls", "-lR", "/usr"], capture_output=True, text=True).stdout.splitlines()
    listing = [line for line in listing if line.strip()]
    lines = [f"{n} {listing[n % len(listing)]}" for n in range(count)]
    lines[0] = "FIRST-LINE-MARKER " + lines[0]
    lines[-1] = "LAST-LINE-MARKER " + lines[-1]
    return lines


def stored_job(user, lines):
    """A job whose output is `lines`, written by the worker's JobLog; (job, seconds to write)."""
    from images.jobs.log import JobLog
    from images.models import Job

    job = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.RUNNING, target="dockyard-bench/logstore:1",
                             created_by=user, output_limit=1 << 40)
    output = JobLog(job, publish=lambda *_: None)
    start = time.perf_counter()
    for first in range(0, len(lines), WRITE_BATCH):
        output.write_lines(lines[first:first + WRITE_BATCH])
    output.close()
    return job, time.perf_counter() - start


def scenario_storage(record, user, lines=None):
    """Stored bytes per raw byte of a million-line log (target ≤ 0.5)."""
    from django.db.models import Sum

    from images.models import LogChunk

    lines = lines or real_log(LINES)
    job, seconds = stored_job(user, lines)
    raw = sum(len(line.encode()) + 1 for line in lines)
    chunks = LogChunk.objects.filter(job=job)
    data = chunks.aggregate(total=Sum("line_count"))["total"], chunks.count()
    stored = sum(len(bytes(blob)) for blob in chunks.values_list("data", flat=True).iterator(chunk_size=100))
    rows = data[1] * 5 * 8  # the row's numbers: id, job, first and last line, count, first time
    ratio = (stored + rows) / raw
    record("Log storage (1M lines)", ratio, None, "≤0.5× the raw log", ratio <= 0.5 and data[0] == len(lines),
           f"{len(lines):,} lines, {raw / 1e6:.1f} MB raw, {(stored + rows) / 1e6:.1f} MB in {data[1]:,} chunks, "
           f"written in {seconds:.1f} s")
    return job


def scenario_writer(record, user, count=200_000):
    """The worker's writer alone at bench 4's pace: `count` lines handed over
    500 at a time, stored and (to nowhere) published; the processor time the
    worker spends on storing output, which bench 4 pays inside a build."""
    from images.jobs.log import JobLog
    from images.models import Job

    lines = [f"line {n} padding padding padding" for n in range(count)]
    runs = []
    for _ in range(SEARCHES):
        job = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.RUNNING, target="dockyard-bench/writer:1",
                                 created_by=user, output_limit=1 << 40)
        output = JobLog(job, publish=lambda *_: None)
        wall, cpu = time.perf_counter(), time.process_time()
        for first in range(0, count, WRITE_BATCH):
            output.write_lines(lines[first:first + WRITE_BATCH])
        output.close()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
        job.delete()
    wall, cpu = sorted(runs)[len(runs) // 2]
    record(f"Log writer ({count:,} lines)", wall, None, "as fast as it goes", True,
           f"{cpu:.2f} s of processor time; median of {SEARCHES}")


def scenario_search(record, job):
    """A search of the whole million-line log, server side (target < 500 ms):
    the marker on the first line, the one on the last, and a word on every line."""
    from images.jobs import logsearch

    for query, expect in (("first-line-marker", 1), ("LAST-LINE-MARKER", 1), ("root", None)):
        times = []
        for _ in range(SEARCHES):
            start = time.perf_counter()
            found = logsearch.search(job.pk, query)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        ok = median < 0.5 and (expect is None or found["count"] == expect)
        record(f"Log search '{query}'", median, None, "<500 ms server side", ok,
               f"{found['count']:,} matching lines, first at {found['lines'][0][0] if found['lines'] else '-'}; "
               f"median of {SEARCHES}")


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-logstore")

    def record(name, value, baseline, target, ok, note):
        shown = f"{value:.3f}×" if "storage" in name else f"{value * 1000:.0f} ms"
        print(f"{name}: {shown} (target {target}) {'ok' if ok else 'MISS'} - {note}", flush=True)

    scenario_writer(record, user)
    job = scenario_storage(record, user)
    scenario_search(record, job)
    job.delete()


if __name__ == "__main__":
    sys.exit(main())
