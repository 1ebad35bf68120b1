"""Finding jobs, and reading back what they stored: for the pages and the API alike."""

from images.jobs import logstore
from images.jobs.access import visible_jobs
from images.models import Job


JOBS_PER_PAGE = 50  # on the jobs page, and a page of the API's list


def job_list(user, engine, state="", kind="", by=""):
    """The jobs `user` sees on `engine` (a name), newest first, filtered by state,
    kind and the user name of who started them (unknown states and kinds filter
    nothing), without the large fields a list does not show."""
    selected = visible_jobs(user).filter(engine=engine).select_related("created_by")
    if state in Job.State.values:
        selected = selected.filter(state=state)
    if kind in Job.Kind.values:
        selected = selected.filter(kind=kind)
    if by:
        selected = selected.filter(created_by__username=by)
    return selected.defer("params", "steps", "progress")


def log_text(job):
    """The whole stored log as lines of text, read in chunks, with a line saying
    where and how much Dockyard clipped."""
    last = 0
    for seq, text, _ in logstore.iterate(job.pk):
        if job.clipped_before and last <= job.clipped_after < seq:
            yield (f"[dockyard] ... {job.clipped_lines:,} lines ({job.clipped_bytes:,} bytes) clipped here "
                   f"to keep the log under {job.output_limit:,} bytes ...\n")
        yield text + "\n"
        last = seq


def lines_after(job, after, limit):
    """Up to `limit` stored [seq, text, ms] lines after line number `after`."""
    return logstore.read(job.pk, after, limit)
