import logging

from celery import shared_task
from django.conf import settings

from images import engines
from images.bases import batches, checks
from images.engine import EngineError, get_engine
from images.files import cleanup
from images.hooks import outbound
from images.jobs import retention
from images.jobs.control import reap_interrupted, requeue_unclaimed
from images.jobs.running import run_job
from images.lifecycle import quarantine, retention_apply, runs
from images.lifecycle.tags import ActionRefused
from images.monitoring import disk

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def run_job_task(job_id):
    """Celery's entry to `run_job`; safe to deliver twice (the job is claimed)."""
    run_job(job_id)


# Periodic work, sent by `celery beat` on the schedule in settings.

@shared_task(ignore_result=True)
def reap_interrupted_jobs():
    reap_interrupted()


@shared_task(ignore_result=True)
def requeue_unclaimed_jobs():
    requeue_unclaimed()


@shared_task(ignore_result=True)
def purge_expired_jobs():
    """Celery beat's hourly removal of old jobs' output and archives."""
    retention.purge_expired()


class _EveryEngine:
    """What the index cleanup asks of an engine, answered for all of them: an
    image's index is unused only when no engine has the image."""

    def list_images(self, intermediate=False):
        return [image for name in engines.names() for image in get_engine(name).list_images(intermediate=intermediate)]


@shared_task(ignore_result=True)
def remove_unused_file_indexes():
    """Drop the file indexes of images no longer on any engine, and of layers
    no indexed image holds any more."""
    try:
        cleanup.remove_unused(_EveryEngine())
    except EngineError:
        pass  # an engine is down: nothing is known to be gone, and the next run tries again


@shared_task(ignore_result=True)
def remove_finished_run_containers():
    """Remove the containers of runs that ended DOCKYARD_RUN_KEEP_HOURS ago, or whose worker died."""
    runs.remove_everywhere()


@shared_task(ignore_result=True)
def sample_disk_usage():
    """Every DOCKYARD_DISK_SAMPLE_MINUTES: each engine's disk usage for the Disk page's plots, and the purge of
    samples older than DOCKYARD_DISK_SAMPLE_DAYS."""
    disk.sample_every_engine()


@shared_task(ignore_result=True)
def empty_quarantine():
    """Hourly: drop the quarantined archives older than DOCKYARD_UNDO_HOURS."""
    quarantine.expire()


@shared_task(ignore_result=True)
def apply_retention_rules():
    """Every DOCKYARD_RETENTION_SCHEDULE_HOURS (when set): on each engine, a job applying its retention rules'
    dry run of now, as the on-demand apply does (images.lifecycle.retention_apply.start_scheduled)."""
    for name in engines.names():
        try:
            with engines.activated(name):
                retention_apply.start_scheduled(get_engine(name))
        except (EngineError, ActionRefused) as exc:
            log.warning("Scheduled retention skipped engine %s: %s", name, exc)


@shared_task(ignore_result=True)
def check_bases():
    """Every DOCKYARD_BASE_CHECK_INTERVAL hours: ask each recent base's registry for its digest and the engine for
    the image its name gives, and mark what was built on a base that has moved."""
    checks.check_every_engine()


@shared_task(ignore_result=True)
def advance_rebuild_batches():
    """Move on rebuild batches whose jobs ended without a worker telling them (cancelled, interrupted)."""
    batches.advance_open()


@shared_task(bind=True, acks_late=True, ignore_result=True, autoretry_for=(outbound.DeliveryFailed,),
             retry_backoff=True, retry_backoff_max=settings.DOCKYARD_WEBHOOK_BACKOFF_MAX,
             max_retries=settings.DOCKYARD_WEBHOOK_RETRIES)
def deliver_webhook(self, delivery_id):
    """One attempt at a webhook delivery; Celery tries again, waiting longer each time (up to
    DOCKYARD_WEBHOOK_RETRIES times), while the receiver answers 5xx or 429 or does not answer."""
    outbound.deliver(delivery_id, final=self.request.retries >= self.max_retries)
