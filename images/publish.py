"""The channel layer, behind one function: job events go to the group `job-<id>`."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def job_group(job_id):
    return f"job-{job_id}"


def publish_job_event(job_id, event):
    """Send one event to everyone watching a job. The layer drops messages for
    viewers over capacity; they catch up from the stored lines, so a slow or
    vanished viewer never holds the job up."""
    layer = get_channel_layer()
    async_to_sync(layer.group_send)(job_group(job_id), {"type": "job.event", "event": event})


IMAGES_GROUP = "images"


def publish_images_event(event):
    """Tell every open image list and image page that the engine's images changed."""
    async_to_sync(get_channel_layer().group_send)(IMAGES_GROUP, {"type": "images.event", "event": event})
