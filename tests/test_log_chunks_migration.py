"""Migration 0012 moves every job's output lines from a row each into chunks,
in order, with their numbers; the lines take their job's start as their time."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from images.jobs import logstore
from images.models import Job

BEFORE = [("images", "0011_provenance")]
AFTER = [("images", "0012_log_chunks")]


@pytest.mark.unaudited("jobs made as rows of the schema before")
def test_existing_lines_move_into_chunks_in_order(transactional_db):
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    try:
        _move_and_check(executor)
    finally:
        # Every later migration too, or the tests after this one meet a schema without their tables.
        MigrationExecutor(connection).migrate(latest)


def _move_and_check(executor):
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="migrated")
    started = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
    OldJob, JobLine = old.get_model("images", "Job"), old.get_model("images", "JobLine")
    long = OldJob.objects.create(kind="build", target="t", created_by=user, output_limit=1 << 30, started_at=started)
    clipped = OldJob.objects.create(kind="pull", target="p", created_by=user, output_limit=1 << 30,
                                    started_at=started)
    JobLine.objects.bulk_create(JobLine(job=long, seq=seq, text=f"line {seq} ✓") for seq in range(1, 2501))
    # A clipped log: its middle was removed.
    JobLine.objects.bulk_create(JobLine(job=clipped, seq=seq, text=f"kept {seq}") for seq in (1, 2, 9, 10))

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    at = int(started.timestamp() * 1000)
    assert logstore.lines(Job.objects.get(pk=long.pk)) == [(seq, f"line {seq} ✓", at) for seq in range(1, 2501)]
    assert logstore.lines(Job.objects.get(pk=clipped.pk)) == [(seq, f"kept {seq}", at) for seq in (1, 2, 9, 10)]
    assert Job.objects.get(pk=long.pk).log_chunks.count() == 3
