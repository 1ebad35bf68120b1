"""Writing a job's output: lines numbered, stored in batches, then published.

The worker's reading thread hands lines to `JobLog.write`, which notes when
each arrived; a writer thread stores each batch in compressed chunks
(images/jobs/logstore.py) and only then publishes it, so a viewer that
reconnects finds in the database every line it could have been sent.
"""

import logging
import queue
import threading
import time
from collections import deque

from django.db import close_old_connections, connection

from images.jobs import logstore
from images.jobs.publish import publish_job_event
from images.models import Job

log = logging.getLogger(__name__)

BATCH_LINES = 5000
# A line waits for its batch half this on average. Shorter batches cost the web
# processes nothing more once they are busy: their relay merges what piles up.
BATCH_SECONDS = 0.025
# Lines written while the writer thread has not yet taken the last ones join
# them: one queue item (and one wake-up of the writer) per up to QUEUED_LINES,
# not one per line, which at 40,000 lines a second cost more than storing
# them. The queue holds at most QUEUE_ITEMS items, so the lines waiting are
# bounded (QUEUE_ITEMS × QUEUED_LINES) and a build that prints faster than
# they are stored waits for the writer.
QUEUED_LINES = 250
QUEUE_ITEMS = 80


def clipped_event(job):
    return {
        "type": "clipped",
        "after": job.clipped_after,
        "before": job.clipped_before,
        "dropped_lines": job.clipped_lines,
        "dropped_bytes": job.clipped_bytes,
    }


def graph_event(vertices, transfers):
    """Vertices and transfers of a BuildKit build, whole: a viewer merges them by
    vertex number and by (vertex, id)."""
    return {"type": "graph", "vertices": sorted(vertices, key=lambda vertex: vertex["n"]), "transfers": list(transfers)}


class _Batch:
    """What the writer thread stores and publishes at once: a change sent twice
    in a batch (a step, a vertex, a transfer) is sent once, as it last was."""

    def __init__(self):
        self.lines, self.steps, self.progress, self.graph = [], None, None, None
        self.changed_steps, self.changed_vertices, self.changed_transfers = {}, {}, {}
        self.closing = False

    def add(self, kind, value):
        if kind == "lines":
            self.lines.extend(value)
        elif kind == "steps":
            changed, self.steps = value
            self.changed_steps.update((step["number"], step) for step in changed)
        elif kind == "graph":
            vertices, transfers, self.graph = value
            self.changed_vertices.update((vertex["n"], vertex) for vertex in vertices)
            self.changed_transfers.update(((transfer["vertex"], transfer["id"]), transfer) for transfer in transfers)
        else:
            self.progress = value


class JobLog:
    def __init__(self, job, publish=publish_job_event):
        self.job = job
        self.publish = publish
        self.seq = job.line_count
        self._chunk = logstore.OpenChunk(job.pk)
        self._queue = queue.Queue(maxsize=QUEUE_ITEMS)
        self._open_lines = None  # the last lines queued, while the writer has not taken them
        self._lines_lock = threading.Lock()
        self._writer = threading.Thread(target=self._run, name=f"joblog-{job.pk}", daemon=True)
        self._failure = None
        # The output cap: the first half of the limit is kept as the head,
        # the second half as a rolling tail.
        self._head_budget = job.output_limit // 2
        self._tail_budget = job.output_limit - self._head_budget
        self._head_bytes = 0
        self._tail = deque()  # (seq, bytes) of the lines kept after the clip
        self._tail_bytes = 0
        self._clip_changed = False
        self._writer.start()

    # Called from the reading thread ------------------------------------------
    def write(self, text):
        self.write_lines([text])

    def write_lines(self, texts):
        """Number and queue lines, each with the time it arrived (ms); one
        queue item for all of them, since a busy build hands over thousands of
        lines a second. A text holding newlines is that many lines."""
        if not texts:
            return
        if "\n" in "".join(texts):
            texts = [line for text in texts for line in text.split("\n")]
        arrived = int(time.time() * 1000)
        first = self.seq + 1
        self.seq += len(texts)
        lines = [[seq, text, arrived] for seq, text in zip(range(first, self.seq + 1), texts)]
        with self._lines_lock:
            waiting = self._open_lines
            if waiting is not None and len(waiting) < QUEUED_LINES:
                waiting.extend(lines)
                return
            self._open_lines = lines
        self._put(("lines", lines))

    def update_steps(self, changed, steps):
        """Steps that changed, and the whole list to store: viewers are sent
        only the changes, each new viewer the stored list."""
        self._put(("steps", (changed, steps)))

    def update_graph(self, vertices, transfers, graph):
        """A BuildKit build's vertices and transfers that changed, and the whole
        graph to store: stored with the lines written before them, then
        published, changes only; each new viewer gets the stored graph."""
        self._put(("graph", (vertices, transfers, graph)))

    def set_progress(self, progress):
        self._put(("progress", progress))

    def close(self):
        """Store and publish everything written so far; wait for it."""
        self._put(("close", None))
        self._writer.join()
        if self._failure:
            raise self._failure

    def _put(self, item):
        if self._failure:
            raise self._failure
        if item[0] != "lines":
            with self._lines_lock:
                self._open_lines = None  # lines written after this item come after it
        self._queue.put(item)

    def _take_lines(self, lines):
        """The writer takes a queued list of lines: none join it after this."""
        with self._lines_lock:
            if self._open_lines is lines:
                self._open_lines = None
        return lines

    # The writer thread --------------------------------------------------------
    def _run(self):
        try:
            closing = False
            while not closing:
                batch = self._next_batch()
                closing = batch.closing
                self._store(batch.lines, batch.steps, batch.progress, batch.graph)
                self._publish(batch)
        except Exception as exc:  # noqa: BLE001 - surfaced to the job by write()/close()
            log.exception("Writing the output of job %s failed", self.job.pk)
            self._failure = exc
        finally:
            connection.close()

    def _next_batch(self):
        batch = _Batch()
        item = self._queue.get()
        deadline = time.monotonic() + BATCH_SECONDS
        while True:
            kind, value = item
            if kind == "close":
                batch.closing = True
                return batch
            batch.add(kind, self._take_lines(value) if kind == "lines" else value)
            if len(batch.lines) >= BATCH_LINES:
                break
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        return batch

    def _store(self, lines, steps, progress, graph=None):
        if not lines and steps is None and progress is None and graph is None:
            return
        close_old_connections()
        job = self.job
        changes = {}
        if lines:
            self._chunk.append(lines)
            changes["line_count"] = lines[-1][0]
            changes.update(self._apply_cap(lines))
        if steps is not None:
            changes["steps"] = steps
        if progress is not None:
            changes["progress"] = progress
        if graph is not None:
            changes["graph"] = graph
        Job.objects.filter(pk=job.pk).update(**changes)
        for field, value in changes.items():
            setattr(job, field, value)

    def _apply_cap(self, lines):
        """Keep the head and a rolling tail within the job's output limit; delete
        the middle as it falls out of the tail."""
        changes = {}
        if self.job.clipped_after is None:
            # Within the head, as nearly every build's output is: the batch's
            # size at once, not line by line.
            size = len("\n".join([text for _, text, _ in lines]).encode("utf-8", "replace")) + 1
            if self._head_bytes + size <= self._head_budget:
                self._head_bytes += size
                return changes
        for seq, text, _ in lines:
            size = len(text.encode("utf-8", "replace")) + 1
            if self.job.clipped_after is None and self._head_bytes + size <= self._head_budget:
                self._head_bytes += size
                continue
            if self.job.clipped_after is None:
                self.job.clipped_after = seq - 1
                changes["clipped_after"] = seq - 1
            self._tail.append((seq, size))
            self._tail_bytes += size
        dropped_to = None
        while self._tail_bytes > self._tail_budget and len(self._tail) > 1:
            seq, size = self._tail.popleft()
            self._tail_bytes -= size
            self.job.clipped_bytes += size
            dropped_to = seq
        if dropped_to is not None:
            self._clip_changed = True
            logstore.drop(self.job.pk, self.job.clipped_after + 1, dropped_to)
            self._chunk.forget(self.job.clipped_after + 1, dropped_to)
            changes["clipped_before"] = dropped_to + 1
            changes["clipped_bytes"] = self.job.clipped_bytes
        return changes

    def _publish(self, batch):
        job = self.job
        lines, changed_steps, progress = batch.lines, batch.changed_steps, batch.progress
        try:
            if lines:
                self.publish(job.pk, {"type": "lines", "lines": lines})
            for number in sorted(changed_steps):
                self.publish(job.pk, {"type": "step", "step": changed_steps[number]})
            if batch.graph is not None:
                self.publish(job.pk, graph_event(batch.changed_vertices.values(), batch.changed_transfers.values()))
            if progress is not None:
                self.publish(job.pk, {"type": "progress", **progress})
            if self._clip_changed:
                self._clip_changed = False
                self.publish(job.pk, clipped_event(job))
        except Exception:  # noqa: BLE001 - viewers catch up from the database
            log.warning("Publishing output of job %s failed; viewers will catch up from storage", job.pk,
                        exc_info=True)
