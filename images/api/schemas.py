"""The shapes the API answers with and takes, shared by its areas."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, Field


class Error(Schema):
    error: str = Field(description="What went wrong, as a sentence.")


class FieldError(Schema):
    message: str
    code: str


class FormErrors(Error):
    fields: dict[str, list[FieldError]] = Field(description="The reasons, per field (`__all__`: the whole request).")


def errors(*statuses):
    """The error answers an operation documents, besides 401 and 403 which every one can give."""
    return {status: FormErrors if status == 400 else Error for status in (401, 403, *statuses)}


# Form fields come one value a name unless repeated; a list field takes either.
def _listed(value):
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(_listed)]


class Clipped(Schema):
    after: int = Field(description="The last line kept before the clipped middle.")
    before: int = Field(description="The first line kept after it.")
    lines: int
    bytes: int


class JobSummary(Schema):
    """A job as lists show it."""

    id: int
    engine: str = Field(description="The engine it runs on (a DOCKYARD_ENGINES name).")
    kind: str = Field(description="build, pull, push or import")
    state: str = Field(description="queued, running, succeeded, failed, cancelled or interrupted")
    target: str
    created_by: str | None
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None = Field(description="Seconds running, so far or in all.")
    image_id: str | None
    error: str
    lines: int = Field(description="The number of the last output line.")
    clipped: Clipped | None = Field(description="Where output over the job's limit was dropped, if it was.")
    retry_of: int | None
    output_removed: bool = Field(description="The job ended over DOCKYARD_JOB_RETENTION_DAYS ago: its output "
                                             "and upload are gone.")
    url: str = Field(description="The job's page.")

    @staticmethod
    def resolve_created_by(job):
        return job.created_by.get_username() if job.created_by else None

    @staticmethod
    def resolve_image_id(job):
        return job.image_id or None

    @staticmethod
    def resolve_lines(job):
        return job.line_count

    @staticmethod
    def resolve_clipped(job):
        if not job.clipped_before:
            return None
        return {"after": job.clipped_after, "before": job.clipped_before, "lines": job.clipped_lines,
                "bytes": job.clipped_bytes}

    @staticmethod
    def resolve_retry_of(job):
        return job.retry_of_id

    @staticmethod
    def resolve_output_removed(job):
        return job.expired

    @staticmethod
    def resolve_url(job):
        return job.get_absolute_url()


class Job(JobSummary):
    steps: list[Any] = Field(description="A build's steps, with their durations and cache hits.")
    progress: dict[str, Any] = Field(description="A pull's or push's layers and digest.")
    graph: dict[str, Any] = Field(description="A BuildKit build's vertices (state, times, cache hit, error, "
                                              "Dockerfile line), transfers and warnings; {} for other jobs.")
