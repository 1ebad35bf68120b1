"""The JSON API for scripts and CI, with session or bearer-token authentication.
docs/api.md describes it."""

import functools
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_protect

from images.accounts.roles import check, Refused
from images.builds.forms import BuildForm, PullForm
from images.catalog import detail, listing
from images.engine import EngineError, EngineUnavailable, ImageNotFound
from images.jobs import control, queries
from images.jobs.access import job_for

LOG_PAGE = 5000


def api_endpoint(*methods, permission):
    def decorate(view):
        @login_not_required
        @csrf_protect
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                return _error(405, f"Use {' or '.join(methods)}.")
            if not request.user.is_authenticated:
                return _error(401, "Log in, or send Authorization: Bearer <token>.")
            try:
                check(request.user, permission, target=request.path)
                return view(request, *args, **kwargs)
            except Refused as exc:
                return _error(403, str(exc))
            except control.JobLimitReached as exc:
                return _error(429, str(exc))
            except ImageNotFound as exc:
                return _error(404, str(exc))
            except EngineUnavailable as exc:
                return _error(503, str(exc))
            except EngineError as exc:
                return _error(502, str(exc))
            except Http404 as exc:
                return _error(404, str(exc) or "Not found.")
        wrapper.dockyard_permission = permission
        return wrapper
    return decorate


def _error(status, message, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def _job(job):
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "target": job.target,
        "created_by": job.created_by.get_username() if job.created_by else None,
        "queued_at": job.queued_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration": job.duration,
        "image_id": job.image_id or None,
        "error": job.error,
        "lines": job.line_count,
        "clipped": {"after": job.clipped_after, "before": job.clipped_before, "lines": job.clipped_lines,
                    "bytes": job.clipped_bytes} if job.clipped_before else None,
        "steps": job.steps,
        "progress": job.progress,
        "retry_of": job.retry_of_id,
        "output_removed": job.expired,
        "url": job.get_absolute_url(),
    }


@api_endpoint("GET", permission="browse")
def images_list(request):
    found = listing.list_images(request.engine, request.GET.get("q", ""), request.GET.get("state", ""),
                                request.GET.get("sort", listing.DEFAULT_SORT))
    rows = found.rows
    return JsonResponse({
        "totals": found.totals.__dict__,
        "images": [{
            "id": row.image_id, "repository": row.repository, "tag": row.tag, "created": row.created,
            "size": row.size, "containers": row.containers, "dangling": row.dangling,
        } for row in rows],
    })


@api_endpoint("GET", permission="browse")
def image_detail(request, reference):
    image = detail.image_detail(request.engine, reference)
    summary, layers = image.summary, image.layers
    return JsonResponse({
        "id": summary.id, "tags": summary.tags, "digests": summary.digests, "created": summary.created,
        "size": summary.size, "platform": summary.platform,
        "config": {"entrypoint": summary.entrypoint, "cmd": summary.cmd, "workdir": summary.workdir,
                   "user": summary.user, "env": summary.env, "exposed_ports": summary.exposed_ports,
                   "volumes": summary.volumes, "labels": summary.labels},
        "history": [{
            "id": layer.id, "created": layer.created, "instruction": str(layer.instruction),
            "build_args": layer.instruction.build_args, "created_by": layer.created_by, "size": layer.size,
            "empty": layer.empty, "comment": layer.comment,
        } for layer in layers],
    })


@api_endpoint("POST", permission="build")
def build_create(request):
    form = BuildForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _error(400, "The build was not started.", fields=form.errors.get_json_data())
    return JsonResponse(_job(control.start_build(request.user, form.job_params())), status=201)


@api_endpoint("POST", permission="pull")
def pull_create(request):
    data = request.POST
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except RequestDataTooBig:
            return _error(413, f"The body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, more than a pull "
                               "needs.")
        except ValueError:
            return _error(400, "The body is not valid JSON.")
    form = PullForm(data)
    if not form.is_valid():
        return _error(400, "The pull was not started.", fields=form.errors.get_json_data())
    return JsonResponse(_job(control.start_pull(request.user, form.cleaned_data["reference"])), status=201)


@api_endpoint("GET", permission="browse")
def job_detail(request, pk):
    return JsonResponse(_job(job_for(request.user, pk)))


@api_endpoint("GET", permission="browse")
def job_log(request, pk):
    job = job_for(request.user, pk)
    try:
        after = max(int(request.GET.get("after", 0)), 0)
    except ValueError:
        return _error(400, "after must be a line number.")
    lines = queries.lines_after(job, after, LOG_PAGE)
    return JsonResponse({
        "job": job.pk, "state": job.state, "lines": lines,
        "next_after": lines[-1][0] if lines else after,
        "more": bool(lines) and lines[-1][0] < job.line_count,
    })


@api_endpoint("POST", permission="cancel_own_job")
def job_cancel(request, pk):
    job = job_for(request.user, pk)
    if not job.is_final:
        control.cancel(job, request.user)
        job.refresh_from_db()
    return JsonResponse(_job(job), status=202 if not job.is_final else 200)
