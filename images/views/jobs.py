"""Jobs: the list, one job's page and log, starting builds and pulls, cancel and retry."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.builds import contexts
from images.builds.forms import BuildForm, PullForm
from images.jobs import access, control, queries
from images.jobs.access import job_for
from images.models import Job
from images.views.pages import page_of, websocket_url
from images.views.streaming import StreamingResponse

@requires("browse")
def job_list(request):
    state, kind, by = (request.GET.get(name, "") for name in ("state", "kind", "user"))
    page, query = page_of(request, queries.job_list(request.user, state, kind, by), queries.JOBS_PER_PAGE)
    return render(request, "jobs/job_list.html", {
        "page": page, "query": query, "state": state, "kind": kind, "by": by,
        "states": Job.State.choices, "kinds": Job.Kind.choices,
    })


@requires("browse")
def job_detail(request, pk):
    job = job_for(request.user, pk)
    return render(request, "jobs/job_detail.html", {
        "job": job,
        "may_cancel": access.may(request.user, job, "cancel"),
        "may_retry": access.may(request.user, job, "retry"),
        "retry_missing": contexts.missing_archive(job.params),
        "retention_days": settings.DOCKYARD_JOB_RETENTION_DAYS,
        "ws_url": websocket_url(request, f"/ws/jobs/{job.pk}/"),
    })


@requires("browse")
def job_log(request, pk):
    """The whole stored log as plain text, streamed."""
    job = job_for(request.user, pk)
    response = StreamingResponse(queries.log_text(job), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="dockyard-job-{job.pk}.log"'
    return response


@requires("build")
def build_new(request):
    if request.method == "POST":
        form = BuildForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                return redirect(control.start_build(request.user, form.job_params()))
            except control.JobLimitReached as exc:
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
            return redirect(control.start_pull(request.user, form.cleaned_data["reference"]))
        except control.JobLimitReached as exc:
            form.add_error(None, str(exc))
    return render(request, "jobs/pull_form.html", {"form": form})


@require_POST
@requires("cancel_own_job")
def job_cancel(request, pk):
    job = job_for(request.user, pk)
    if job.is_final:
        messages.info(request, f"This job has already ended ({job.state}).")
    else:
        control.cancel(job, request.user)
        messages.info(request, "Cancelling: the engine is being told to stop.")
    return redirect(job)


@require_POST
@requires("browse")  # and, in control.retry, ownership (or cancel_any_job) and the kind's permission
def job_retry(request, pk):
    job = job_for(request.user, pk)
    try:
        return redirect(control.retry(job, request.user))
    except (control.JobLimitReached, contexts.ContextError) as exc:
        messages.error(request, str(exc))
        return redirect(job)
