"""Dockyard's metrics, in the Prometheus text format (prometheus-client).

Counters and histograms are kept by the process that sees the event (the
worker times jobs, the web process counts the lines it delivers, both time
engine calls). With PROMETHEUS_MULTIPROC_DIR set (settings sets it under var/),
prometheus-client keeps them in files there, and a scrape of any one web process
adds up every process's. What the database and Redis know (jobs by state,
queue depth, open streams) is read at scrape time instead.
"""

import asyncio
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from images import engines

ENGINE_CALL_SECONDS = Histogram("dockyard_engine_call_seconds", "Engine API calls, to the engine's answer",
                                ["engine", "call"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
JOB_SECONDS = Histogram("dockyard_job_duration_seconds", "Jobs from start to end", ["kind", "state"],
                        buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600))
LINES_DELIVERED = Counter("dockyard_lines_delivered", "Job output lines sent to viewers' sockets")


class _LoopTally:
    """A counter added to once per turn of the event loop: its write to the shared
    file, under a lock, cost as much as the send it counted when a batch went to
    500 viewers of a process (bench 10)."""

    def __init__(self, counter):
        self.counter, self.pending, self.loop = counter, 0, None

    def add(self, amount):
        loop = asyncio.get_running_loop()
        if not self.pending or loop is not self.loop:  # a loop closed before its flush must not stop the count
            self.loop = loop
            loop.call_soon(self._flush)
        self.pending += amount

    def _flush(self):
        amount, self.pending = self.pending, 0
        self.counter.inc(amount)


lines_delivered = _LoopTally(LINES_DELIVERED).add

# kombu's Redis transport keeps a queue's messages in a list of the queue's name,
# and those of priorities 3, 6 and 9 in lists named with its separator.
_PRIORITY_SEPARATOR = "\x06\x16"


class _StateCollector:
    """Jobs by state and kind, queue depth and open streams, read when scraped."""

    def collect(self):
        from django.db.models import Count

        from images.models import Job
        from images.redis_client import shared_redis

        names = engines.names()
        jobs = GaugeMetricFamily("dockyard_jobs", "Jobs by engine, state and kind", labels=["engine", "state", "kind"])
        counts = {(row["engine"], row["state"], row["kind"]): row["count"]
                  for row in Job.objects.values("engine", "state", "kind").annotate(count=Count("pk")).order_by()}
        for engine in names:
            for state in Job.State.values:  # zeros too, so a graph of a state that empties falls to 0
                for kind in Job.Kind.values:
                    jobs.add_metric([engine, state, kind], counts.get((engine, state, kind), 0))
        yield jobs

        client = shared_redis()
        queued = GaugeMetricFamily("dockyard_queue_depth", "Tasks waiting in the broker for a worker, by engine",
                                   labels=["engine", "queue"])
        for engine in names:
            queue = engines.queue_for(engine)
            depth = sum(client.llen(name) for name in
                        [queue] + [f"{queue}{_PRIORITY_SEPARATOR}{priority}" for priority in (3, 6, 9)])
            queued.add_metric([engine, queue], depth)
        yield queued

        from images.jobs import streams

        streams_open = GaugeMetricFamily("dockyard_open_streams", "Websockets open, across every web process")
        streams_open.add_metric([], streams.count_open(client))
        yield streams_open




def render():
    """The text a scrape gets: every process's counters and histograms, and the
    state read now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for metric in (ENGINE_CALL_SECONDS, JOB_SECONDS, LINES_DELIVERED):
            registry.register(metric)
    registry.register(_StateCollector())
    return generate_latest(registry)


def observe_job(job):
    if job.started_at and job.finished_at:
        JOB_SECONDS.labels(job.kind, job.state).observe((job.finished_at - job.started_at).total_seconds())
