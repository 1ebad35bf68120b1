"""The channel layer, behind one place: job events go to the group `job-<id>`,
image events to every open list."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from images import engines

log = logging.getLogger(__name__)


def job_group(job_id):
    return f"job-{job_id}"


def publish_job_event(job_id, event):
    """Send one event to everyone watching a job: published once, each web process
    hands it to its own viewers. A process that misses one (its Redis connection
    dropped) has its viewers read the gap back from the stored lines, so a slow
    or vanished viewer never holds the job up."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(job_group(job_id), {"type": "job.event", "event": event})


def images_group(engine_name):
    """The group of the open image lists and pages of one engine."""
    return f"images-{engine_name}"


def publish_images_event(engine_name, event):
    """Tell every open image list and image page of an engine that its images changed."""
    async_to_sync(get_channel_layer().group_send)(images_group(engine_name), {"type": "images.event", "event": event})

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
