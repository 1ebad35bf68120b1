"""What jobs leave behind, removed DOCKYARD_JOB_RETENTION_DAYS after they end:
their output lines, and the uploaded contexts and import archives kept for a
rebuild or retry. The jobs themselves stay, with their recipes."""

import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q

from images.models import Job, LogChunk

CHUNK_BATCH = 50  # chunks of up to a thousand lines
FILE_BATCH = 500
# An archive is saved just before its job is made: one younger than this that
# no job names yet is left alone.
ORPHAN_GRACE = timedelta(hours=1)


def purge_expired(chunk_batch=CHUNK_BATCH, file_batch=FILE_BATCH):
    """Remove the output lines of jobs that ended before the retention cutoff,
    and every stored archive that no job still within it (or not yet ended)
    names. Returns (lines removed, files removed)."""
    cutoff = Job.retention_cutoff()
    return _purge_lines(cutoff, chunk_batch), _purge_files(cutoff, file_batch)


def _purge_lines(cutoff, batch):
    # Batches of chunks keep each delete (and SQLite's write lock) short.
    expired = LogChunk.objects.filter(job__finished_at__lt=cutoff).values_list("pk", "line_count")
    removed = 0
    while rows := list(expired[:batch]):
        LogChunk.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        removed += sum(count for _, count in rows)
    return removed


def _purge_files(cutoff, batch):
    folder = Path(settings.DOCKYARD_CONTEXT_DIR)
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries if entry.is_file(follow_symlinks=False))
    removed = 0
    for start in range(0, len(names), batch):
        chunk = names[start:start + batch]
        named, needed = set(), set()
        jobs = Job.objects.filter(Q(params__context_file__in=chunk) | Q(params__archive_file__in=chunk))
        for context_file, archive_file, finished_at in jobs.values_list(
                "params__context_file", "params__archive_file", "finished_at"):
            for name in (context_file, archive_file):
                named.add(name)
                if finished_at is None or finished_at >= cutoff:
                    needed.add(name)
        for name in chunk:
            if name in needed or (name not in named and _younger_than(folder / name, ORPHAN_GRACE)):
                continue
            (folder / name).unlink(missing_ok=True)
            removed += 1
    return removed


def _younger_than(path, age):
    try:
        return time.time() - path.stat().st_mtime < age.total_seconds()
    except FileNotFoundError:
        return True  # gone already: nothing to remove
