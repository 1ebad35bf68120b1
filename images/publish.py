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
