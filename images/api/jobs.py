"""Jobs: starting builds and pulls, the list, following one, cancel and retry."""

from django.core.paginator import Paginator
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson
from images.api.schemas import Error, Job, JobSummary, StrList, errors
from images.builds.forms import BuildForm, PullForm
from images.jobs import control, logsearch, queries
from images.jobs.access import job_for

router = Router(tags=["jobs"])

LOG_PAGE = 5000


class BuildFields(Schema):
    """The build page's fields."""

    builder: str = Field("", description="buildkit or classic; BuildKit by default wherever the engine supports it.")
    source: str = Field(description="dockerfile, upload, directory or git")
    dockerfile_text: str = Field("", description="The Dockerfile, for source=dockerfile.")
    directory: str = Field("", description="A directory under DOCKYARD_BUILD_ROOTS, for source=directory.")
    git_url: str = Field("", description="https://host/repo.git#ref:subdir, for source=git.")
    dockerfile: str = Field("", description="The Dockerfile's path in the context (Dockerfile).")
    tags: str = Field("", description="Separated by commas or new lines; none leaves the image untagged.")
    build_args: str = Field("", description="KEY=value lines. They end up in the image's history.")
    secret_args_ok: bool = Field(False, description="Pass build args whose names look like secrets anyway.")
    labels: str = Field("", description="key=value lines.")
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    secrets: StrList = Field([], description="Build secret names (yours or shared; GET /api/secrets), mounted "
                                             "where the Dockerfile asks: RUN --mount=type=secret,id=<name>.")


class PullFields(Schema):
    reference: str = Field(description="name, name:tag or name@digest, e.g. 127.0.0.1:5000/team/app:1.0")


class JobFilters(Schema):
    state: str = Field("", description="queued, running, succeeded, failed, cancelled or interrupted.")
    kind: str = Field("", description="build, pull, push or import.")
    user: str = Field("", description="The user name of who started them.")
    page: int = Field(1, ge=1)


class JobPage(Schema):
    count: int = Field(description="Jobs matching, on all pages.")
    page: int
    pages: int
    jobs: list[JobSummary] = Field(description=f"Newest first, {queries.JOBS_PER_PAGE} a page.")


class LogPage(Schema):
    job: int
    state: str
    lines: list[tuple[int, str, int]] = Field(
        description="[number, text, arrived] triples, in order; arrived is when the line came, in ms since the epoch.")
    next_after: int = Field(description="Ask again with after=next_after for the lines after these.")
    more: bool = Field(description="Lines already stored come after these.")


class LogSearch(Schema):
    q: str = Field(description="What to look for: text (or a regular expression with regex=true).")
    after: int = Field(0, ge=0, description="Return matching lines after this line number.")
    regex: bool = Field(False, description=f"q is a regular expression; one running over "
                                           f"{logsearch.REGEX_SECONDS:g} s is stopped.")
    case: bool = Field(False, description="Match upper and lower case exactly.")


class LogMatches(Schema):
    job: int
    count: int = Field(description="Lines that match, in the whole stored log.")
    lines: list[tuple[int, str, int]] = Field(
        description=f"Up to {logsearch.PAGE} matching [number, text, arrived] lines after line `after`.")
    next_after: int = Field(description="Ask again with after=next_after for the next matching lines.")
    more: bool = Field(description="More matching lines come after these.")


@router.post("/builds", response={201: Job, **errors(400, 415, 429)}, auth=allowed("build"))
def build_create(request, fields: FormOrJson[BuildFields], context: File[UploadedFile] = None):
    """Start a build.

    JSON (or form fields) with the build page's fields, for source=dockerfile, git or directory; for source=upload,
    multipart, with `context`: the .tar, .tar.gz or .zip. Answers 201 with the job; follow it at
    /api/jobs/{id}/log or the websocket /ws/jobs/{id}/.
    """
    if fields.source == "upload" and request.content_type != "multipart/form-data":
        return answer(415, "An upload's context comes as multipart/form-data, in the field `context`; JSON builds "
                           "from source dockerfile, git or directory.")
    form = BuildForm(fields.dict(exclude_unset=True), {"context": context} if context else {}, user=request.user)
    if not form.is_valid():
        return form_errors("The build was not started.", form)
    return Status(201, control.start_build(request.user, form.job_params()))


@router.post("/pulls", response={201: Job, **errors(400, 429)}, auth=allowed("pull"))
def pull_create(request, fields: FormOrJson[PullFields]):
    """Start a pull.

    Answers 201 with the job.
    """
    form = PullForm(fields.dict())
    if not form.is_valid():
        return form_errors("The pull was not started.", form)
    return Status(201, control.start_pull(request.user, form.cleaned_data["reference"]))


@router.get("/jobs", response={200: JobPage, **errors(400)}, auth=allowed("browse"))
def job_list(request, filters: Query[JobFilters]):
    """The job list.

    Filtered as on the jobs page (unknown states and kinds filter nothing), a page at a time.
    """
    page = Paginator(queries.job_list(request.user, request.engine_name, filters.state, filters.kind, filters.user),
                     queries.JOBS_PER_PAGE).get_page(filters.page)
    return {"count": page.paginator.count, "page": page.number, "pages": max(page.paginator.num_pages, 1),
            "jobs": list(page)}


@router.get("/jobs/{int:pk}", response={200: Job, **errors(404)}, auth=allowed("browse"))
def job_detail(request, pk: int):
    """A job: its state, times, image, steps and progress."""
    return job_for(request.user, pk)


@router.get("/jobs/{int:pk}/log", response={200: LogPage, **errors(400, 404)}, auth=allowed("browse"))
def job_log(request, pk: int, after: Query[int] = 0, limit: Query[int] = LOG_PAGE):
    """A page of a job's output.

    Up to `limit` (at most and by default 5,000) stored lines after line `after`; ask again with
    `after=next_after` while `more` (or the job is still running).
    """
    job = job_for(request.user, pk)
    after = max(after, 0)
    # The job page asks for the thousand lines about its view, not five thousand.
    lines = queries.lines_after(job, after, min(max(limit, 1), LOG_PAGE))
    return {"job": job.pk, "state": job.state, "lines": lines, "next_after": lines[-1][0] if lines else after,
            "more": bool(lines) and lines[-1][0] < job.line_count}


@router.get("/jobs/{int:pk}/log/search", response={200: LogMatches, 400: Error, **errors(404)},
            auth=allowed("browse"))
def job_log_search(request, pk: int, search: Query[LogSearch]):
    """Search a job's whole stored output.

    Plain text, case-insensitive unless case=true; or a regular expression (regex=true). Counts the lines that
    match, and returns them a page at a time after line `after`.
    """
    job = job_for(request.user, pk)
    try:
        found = logsearch.search(job.pk, search.q, search.after, search.regex, search.case)
    except logsearch.SearchError as exc:
        return answer(400, str(exc))
    return {"job": job.pk, **found}


@router.post("/jobs/{int:pk}/cancel", response={200: Job, 202: Job, **errors(404)}, auth=allowed("cancel_own_job"))
def job_cancel(request, pk: int):
    """Cancel a job.

    One's own (builder), or anyone's (admin). Answers 202 while the engine stops it, 200 once it has ended.
    """
    job = job_for(request.user, pk)
    if not job.is_final:
        control.cancel(job, request.user)
        job.refresh_from_db()
    return Status(200 if job.is_final else 202, job)


@router.post("/jobs/{int:pk}/retry", response={201: Job, **errors(404, 409, 429)}, auth=allowed("browse"))
def job_retry(request, pk: int):
    """Retry a job.

    Runs its recipe again as a new job: one's own (builder), or anyone's (admin), with the permission its
    kind needs. Answers 201 with the new job.
    """
    return Status(201, control.retry(job_for(request.user, pk), request.user))
