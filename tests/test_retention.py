"""Jobs' output lines, uploaded contexts and import archives are removed
DOCKYARD_JOB_RETENTION_DAYS after the job ends, and archives no job needs;
the pages say so."""

import os
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from images.jobs import logstore
from images.jobs import retention
from images.models import AuditEntry, Job, LogChunk
from images.tasks import purge_expired_jobs
from tests import dockerlib


@pytest.fixture
def context_dir(settings, tmp_path):
    settings.DOCKYARD_CONTEXT_DIR = tmp_path / "contexts"
    settings.DOCKYARD_CONTEXT_DIR.mkdir()
    return settings.DOCKYARD_CONTEXT_DIR


def stored(folder, age=timedelta(0)):
    """An archive in the context folder, last written `age` ago; its name."""
    name = f"{uuid.uuid4().hex}.tar"
    (folder / name).write_bytes(b"archive")
    written = time.time() - age.total_seconds()
    os.utime(folder / name, (written, written))
    return name


def ended_job(user, days_ago, kind="build", params=None, lines=3, image_id="", **fields):
    """A job as Dockyard leaves one, ended `days_ago` days ago (None: still queued), with its audit entry."""
    ended = timezone.now() - timedelta(days=days_ago) if days_ago is not None else None
    job = Job.objects.create(
        kind=kind, target=f"{kind} made {days_ago} days ago", created_by=user, output_limit=10_000, line_count=lines,
        params=params or {"source": "dockerfile", "dockerfile_text": "FROM scratch\n", "dockerfile": "Dockerfile"},
        state="succeeded" if ended else "queued", queued_at=ended or timezone.now(), started_at=ended,
        finished_at=ended, image_id=image_id, **fields)
    logstore.store(job.pk, [(seq, f"line {seq}", 0) for seq in range(1, lines + 1)])
    AuditEntry.objects.create(actor=user, actor_name=user.get_username(), action=kind, target=job.target,
                              outcome=job.state, job=job)
    return job


def upload_params(name):
    return {"source": "upload", "context_file": name, "context_format": "tar", "context_name": "c.tar",
            "dockerfile": "Dockerfile"}


def test_it_removes_old_jobs_output_and_archives_and_keeps_recent_ones(builder, context_dir):
    old_upload, recent_upload, old_import, rebuilt, queued = (stored(context_dir, timedelta(days=200))
                                                              for _ in range(5))
    old = ended_job(builder, 100, params=upload_params(old_upload))
    recent = ended_job(builder, 10, params=upload_params(recent_upload))
    imported = ended_job(builder, 91, kind="import", params={"archive_file": old_import, "archive_name": "i.tar"})
    original = ended_job(builder, 300, params=upload_params(rebuilt))
    ended_job(builder, 5, params=upload_params(rebuilt), retry_of=original)  # a recent rebuild still needs it
    ended_job(builder, None, params=upload_params(queued), lines=0)
    orphan = stored(context_dir, timedelta(days=2))
    being_saved = stored(context_dir)  # its job is not made yet

    retention.purge_expired()

    assert not LogChunk.objects.filter(job__in=[old, imported, original]).exists()
    assert logstore.texts(recent) == ["line 1", "line 2", "line 3"]
    assert Job.objects.count() == 6  # the jobs themselves stay, with their recipes
    assert sorted(os.listdir(context_dir)) == sorted([recent_upload, rebuilt, queued, being_saved])
    assert not (context_dir / orphan).exists()


def test_it_purges_in_a_fixed_number_of_queries(builder, context_dir):
    def queries(jobs):
        for _ in range(jobs):
            ended_job(builder, 120, params=upload_params(stored(context_dir, timedelta(days=200))))
        with CaptureQueriesContext(connection) as captured:
            retention.purge_expired()
        assert not os.listdir(context_dir) and not LogChunk.objects.exists()
        return len(captured)

    assert queries(3) == queries(30)


@pytest.mark.usefixtures("worker")
def test_the_worker_purges_when_its_task_is_sent(builder, live_settings):
    old, recent = ended_job(builder, 95), ended_job(builder, 1)
    purge_expired_jobs.apply_async(queue=live_settings["queue"])
    deadline = time.monotonic() + 60
    while LogChunk.objects.filter(job=old).exists():
        assert time.monotonic() < deadline, "the worker did not purge"
        time.sleep(0.2)
    assert logstore.texts(recent) == ["line 1", "line 2", "line 3"]


def test_celery_beat_sends_the_purge_and_the_worker_does_it(builder, scheduler):
    old, recent = ended_job(builder, 95), ended_job(builder, 1)
    deadline = time.monotonic() + 60
    while LogChunk.objects.filter(job=old).exists():
        assert time.monotonic() < deadline, "no purge came from the schedule"
        time.sleep(0.2)
    assert b"Sending due task images.tasks.purge_expired_jobs" in scheduler.log_path.read_bytes()
    assert logstore.texts(recent) == ["line 1", "line 2", "line 3"]


def test_the_job_page_says_the_output_was_removed(builder_client, builder):
    old, recent = ended_job(builder, 95), ended_job(builder, 1)
    page = builder_client.get(reverse("jobs-detail", args=[old.pk])).content.decode()
    assert "are removed 90 days after it ends" in page
    assert "removed" not in builder_client.get(reverse("jobs-detail", args=[recent.pk])).content.decode()
    assert builder_client.get(f"/api/jobs/{old.pk}").json()["output_removed"] is True
    assert builder_client.get(f"/api/jobs/{recent.pk}").json()["output_removed"] is False


@pytest.fixture
def built_image(base_image):
    tag = dockerlib.unique("retention") + ":1"
    return dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=1\nLABEL n={uuid.uuid4().hex}\n",
                           tags=[tag])


def test_rebuild_and_retry_say_why_they_are_unavailable_once_the_context_is_gone(builder_client, builder,
                                                                                  context_dir, built_image):
    recipe = ended_job(builder, 120, params=upload_params("gone.tar"), image_id=built_image)
    hex_id = built_image.split(":", 1)[1]
    page = builder_client.get(reverse("images-detail", args=[hex_id])).content.decode()
    assert "Rebuild is unavailable" in page and "no longer on the server" in page
    assert f"{reverse('images-rebuild', args=[hex_id])}\"" not in page

    response = builder_client.post(reverse("images-rebuild", args=[hex_id]), follow=True)
    assert "no longer on the server" in response.content.decode()
    page = builder_client.get(reverse("jobs-detail", args=[recipe.pk])).content.decode()
    assert "Retry is unavailable" in page or "Run again is unavailable" in page
    response = builder_client.post(reverse("jobs-retry", args=[recipe.pk]), follow=True)
    assert "no longer on the server" in response.content.decode()
    assert Job.objects.count() == 1
