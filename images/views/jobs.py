from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images import contexts, jobs
from images.access import get_job_for_user, visible_jobs
from images.build_forms import BuildForm, PullForm
from images.models import Job
from images.roles import may_cancel, may_retry, requires
from images.views.images import websocket_url
from images.views.streaming import StreamingResponse

JOBS_PER_PAGE = 50


@requires("browse")
def job_list(request):
    selected = visible_jobs(request.user).select_related("created_by")
    state, kind = request.GET.get("state", ""), request.GET.get("kind", "")
    if state in Job.State.values:
        selected = selected.filter(state=state)
    if kind in Job.Kind.values:
        selected = selected.filter(kind=kind)
    page = Paginator(selected.defer("params", "steps", "progress"), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "jobs/job_list.html", {
        "page": page, "state": state, "kind": kind, "states": Job.State.choices, "kinds": Job.Kind.choices,
    })


@requires("browse")
def job_detail(request, pk):
    job = get_job_for_user(request.user, pk)
    return render(request, "jobs/job_detail.html", {
        "job": job,
        "may_cancel": may_cancel(request.user, job),
        "may_retry": may_retry(request.user, job),
        "retry_missing": contexts.missing_archive(job.params),
        "retention_days": settings.DOCKYARD_JOB_RETENTION_DAYS,
        "ws_url": websocket_url(request, f"/ws/jobs/{job.pk}/"),
    })


@requires("browse")
def job_log(request, pk):
    """The whole stored log as plain text, streamed."""
    job = get_job_for_user(request.user, pk)

    def lines():
        last = 0
        query = job.lines.order_by("seq").values_list("seq", "text")
        for seq, text in query.iterator(chunk_size=5000):
            if job.clipped_before and last <= job.clipped_after < seq:
                yield (f"[dockyard] ... {job.clipped_lines:,} lines ({job.clipped_bytes:,} bytes) clipped here "
                       f"to keep the log under {job.output_limit:,} bytes ...\n")
            yield text + "\n"
            last = seq

    response = StreamingResponse(lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dockyard-job-{job.pk}.log"'
    return response


@requires("build")
def build_new(request):
    if request.method == "POST":
        form = BuildForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                return redirect(jobs.start_build(request.user, form.job_params()))
            except jobs.JobLimitReached as exc:
                form.add_error(None, str(exc))
    else:
        form = BuildForm(initial={"tags": request.GET.get("tag", ""), "dockerfile_text": _starter(request)})
    return render(request, "jobs/build_form.html", {"form": form})


def _starter(request):
    tag = request.GET.get("tag", "")
    return f"# Building {tag}\nFROM \n" if tag else ""


@requires("pull")
def pull_new(request):
    form = PullForm(request.POST or None, initial={"reference": request.GET.get("reference", "")})
    if request.method == "POST" and form.is_valid():
        try:
            return redirect(jobs.start_pull(request.user, form.cleaned_data["reference"]))
        except jobs.JobLimitReached as exc:
            form.add_error(None, str(exc))
    return render(request, "jobs/pull_form.html", {"form": form})


@require_POST
@requires("cancel_own_job")
def job_cancel(request, pk):
    job = get_job_for_user(request.user, pk)
    if job.is_final:
        messages.info(request, f"This job has already ended ({job.state}).")
    else:
        jobs.cancel(job, request.user)
        messages.info(request, "Cancelling: the engine is being told to stop.")
    return redirect(job)


@require_POST
@requires("browse")  # and, in jobs.retry, ownership (or cancel_any_job) and the kind's permission
def job_retry(request, pk):
    job = get_job_for_user(request.user, pk)
    try:
        return redirect(jobs.retry(job, request.user))
    except (jobs.JobLimitReached, contexts.ContextError) as exc:
        messages.error(request, str(exc))
        return redirect(job)
