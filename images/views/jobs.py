"""Jobs: the list, one job's page and log, starting builds and pulls, cancel and retry."""

import time

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from dashboard import security
from images import engines
from images.accounts import roles
from images.accounts.roles import requires
from images.builds import contexts
from images.builds.forms import BuildForm, PullForm
from images.files import diff
from images.jobs import access, control, queries
from images.jobs.access import job_for
from images.jobs.log import clipped_event
from images.lifecycle import runs
from images.lifecycle.forms import CommitForm
from images.models import Job
from images.monitoring import health
from images.refs import InvalidReference, parse_reference
from images.views.pages import page_of, websocket_url
from images.responses import StreamingResponse

@requires("browse")
def job_list(request):
    state, kind, by = (request.GET.get(name, "") for name in ("state", "kind", "user"))
    page, query = page_of(request, queries.job_list(request.user, request.engine_name, state, kind, by), queries.JOBS_PER_PAGE)
    return render(request, "jobs/job_list.html", {
        "page": page, "query": query, "state": state, "kind": kind, "by": by,
        "states": Job.State.choices, "kinds": Job.Kind.choices,
    })


@requires("browse")
def job_detail(request, pk):
    job = job_for(request.user, pk)
    if job.engine != request.engine_name:
        return redirect(job)  # its page is among its engine's, with their links
    if request.GET.get("fragment") == "run-ended" and job.kind == Job.Kind.RUN:
        # static/js/run.js asks for it when it sees the run end: what changed and the commit form, as a reload shows them.
        return render(request, "jobs/_run_ended.html", {"job": job, **_run_context(request.user, job)})
    terminal = _terminal_context(request, job)
    graph = _graph_context(job)
    response = render(request, "jobs/job_detail.html", {
        "job": job,
        # Queued on an engine no live worker serves: it would wait silently.
        "no_worker": job.state == Job.State.QUEUED and health.engine_has_worker(job.engine) is False,
        "queue": engines.queue_for(job.engine),
        "may_cancel": access.may(request.user, job, "cancel"),
        "may_retry": access.may(request.user, job, "retry"),
        "retry_missing": contexts.missing_archive(job.params),
        "retention_days": settings.DOCKYARD_JOB_RETENTION_DAYS,
        "ws_url": websocket_url(request, f"/ws/jobs/{job.pk}/"),
        "previous_build": diff.previous_build(job),
        **graph,
        # A BuildKit build's page gets every line over its websocket, for its graph.
        **({} if graph["buildkit"] else _first_lines(job)),
        **_run_context(request.user, job),
        **terminal,
    })
    if terminal:
        response.headers["Content-Security-Policy"] = security.with_identity_provider(security.TERMINAL_POLICY,
                                                                               settings.DOCKYARD_OIDC_ISSUER)
    return response


# Lines sent with the page: those in view on opening, without a request of their own.
FIRST_LINES = 100


def _first_lines(job):
    """The first stored lines, for static/js/job.js's log, and where the middle
    of a long log was dropped: the socket says so only to a page that reads
    past it, and this page reads the stored lines by range."""
    return {"first_lines": queries.lines_after(job, 0, FIRST_LINES) if job.line_count > 0 else [],
            "clip": clipped_event(job) if job.clipped_before else None}


def _run_context(user, job):
    """A run's ended container: what it changed, and the form that saves it as an image."""
    if job.kind != Job.Kind.RUN:
        return {}
    context = {"run_env_names": [item.split("=", 1)[0] for item in job.params.get("env", [])]}
    if job.is_final and job.container_id:
        try:
            context["run_changes"] = runs.changes(job)
        except runs.NoContainer as gone:
            context["run_gone"] = str(gone)
        context["may_commit"] = access.may(user, job, "cancel") and roles.may(user, "run", job.engine)
        context["commit_form"] = CommitForm()
    return context


def _terminal_context(request, job):
    """A run not yet ended: its terminals' addresses (static/js/terminal.js), and
    whether this person may type in them."""
    if job.kind != Job.Kind.RUN or job.is_final:
        return {}
    return {"terminal": True, "may_type": access.may(request.user, job, "cancel"),
            "terminal_ws_url": websocket_url(request, f"/ws/jobs/{job.pk}/terminal/"),
            "shell_ws_url": websocket_url(request, f"/ws/jobs/{job.pk}/shell/")}


def _graph_context(job):
    """A BuildKit build's stored graph (rendered by static/js/graph.js), the
    Dockerfile it was built from when it was typed on the page, and the
    server's clock, against which the page ticks running vertices."""
    graph = getattr(job, "graph", None) or {}
    buildkit = job.kind == Job.Kind.BUILD and (job.params.get("builder") == "buildkit" or bool(graph.get("vertices")))
    if not buildkit:
        return {"buildkit": False}
    text = job.params.get("dockerfile_text") if job.params.get("source") == "dockerfile" else None
    return {
        "buildkit": True,
        "graph": {"vertices": graph.get("vertices", []), "transfers": graph.get("transfers", [])},
        "dockerfile_lines": text.splitlines() if isinstance(text, str) else None,
        "server_time": time.time(),
    }


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
        form = BuildForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                return redirect(control.start_build(request.user, form.job_params()))
            except control.JobLimitReached as exc:
                form.add_error(None, str(exc))
    else:
        form = BuildForm(initial={"dockerfile_text": _starter(request.GET.get("from", ""))}, user=request.user)
    return render(request, "jobs/build_form.html", {"form": form})


def _starter(base):
    """A Dockerfile that starts FROM `base` (an image page's "Build from a
    Dockerfile"), if it is a valid reference. Tags are left empty: the image's
    own would move to whatever is built."""
    try:
        parse_reference(base)
    except InvalidReference:
        return ""
    return f"FROM {base}\n"


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
