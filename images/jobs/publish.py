"""The channel layer, behind one place: job events go to the group `job-<id>`,
image events to every open list."""

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer

from images import engines

log = logging.getLogger(__name__)

# Long enough for Redis at its slowest; a send that takes longer has failed.
SEND_TIMEOUT = 30


class _Sender:
    """One event loop per process, in a thread of its own, for what sync code
    (a worker's job, its log writer) publishes: the pub/sub layer keeps its
    Redis connection per loop, and `async_to_sync` made a new loop, a new
    thread and a new connection for every event (10–20 ms each on a loaded
    machine, 0.3 ms on a loop kept)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop = None
        self._pid = None

    def _running_loop(self):
        with self._lock:
            # A forked process (a Celery pool process) has no copy of its parent's thread.
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(target=self._loop.run_forever, name="channel-layer-sender", daemon=True).start()
            return self._loop

    def group_send(self, group, message):
        future = asyncio.run_coroutine_threadsafe(get_channel_layer().group_send(group, message),
                                                  self._running_loop())
        try:
            future.result(SEND_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise


_sender = _Sender()


def job_group(job_id):
    return f"job-{job_id}"


def publish_job_event(job_id, event):
    """Send one event to everyone watching a job: published once, each web process
    hands it to its own viewers. A process that misses one (its Redis connection
    dropped) has its viewers read the gap back from the stored lines, so a slow
    or vanished viewer never holds the job up."""
    _sender.group_send(job_group(job_id), {"type": "job.event", "event": event})


def images_group(engine_name):
    """The group of the open image lists and pages of one engine."""
    return f"images-{engine_name}"


def publish_images_event(engine_name, event):
    """Tell every open image list and image page of an engine that its images changed."""
    _sender.group_send(images_group(engine_name), {"type": "images.event", "event": event})

def state_event(job):
    return {
        "type": "state",
        "state": job.state,
        "image_id": job.image_id or None,
        "image_url": engines.reverse_on(job.engine, "images-detail", [job.image_hex]) if job.image_id else None,
        "error": job.error,
        "duration": job.duration,
    }


def publish_state(job):
    try:
        publish_job_event(job.pk, state_event(job))
    except Exception:  # noqa: BLE001 - viewers read the state again when they reconnect
        log.warning("Publishing the state of job %s failed", job.pk, exc_info=True)
