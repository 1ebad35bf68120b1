"""Builds and pulls as jobs: creating them, running them in a worker, ending them.

Tasks call `run_job(job_id)`; views call `start_build`, `start_pull`, `retry`
and `cancel`. The engine is reached only through `images.engine`.
"""

import logging
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from images import audit, contexts, fetches, roles
from images.engine import EngineError, StreamClosed, get_engine
from images.joblog import JobLog
from images.models import Job, Registry
from images.layers import LayerProgress
from images.publish import publish_job_event
from images.refs import parse_reference, split_repo_tag
from images.output import LineSplitter
from images.steps import StepTracker, count_instructions

log = logging.getLogger(__name__)


# Starting jobs (web side) ------------------------------------------------------

class JobLimitReached(Exception):
    """The user already has as many jobs queued or running as one may."""


def start_build(user, params, retry_of=None, action=None):
    tags = params.get("tags") or []
    target = ", ".join(tags) if tags else f"untagged build from {contexts.SOURCES[params['source']].lower()}"
    return _enqueue(Job.Kind.BUILD, target, params, user, retry_of, action)


def start_pull(user, reference, retry_of=None):
    parse_reference(reference)
    return _enqueue(Job.Kind.PULL, reference, {"reference": reference}, user, retry_of)


def start_push(user, reference, retry_of=None):
    parse_reference(reference)
    return _enqueue(Job.Kind.PUSH, reference, {"reference": reference}, user, retry_of)


def start_import(user, params, retry_of=None):
    return _enqueue(Job.Kind.IMPORT, f"import of {params['archive_name']}", params, user, retry_of)


def retry(job, user):
    """Run a job's recipe again as a new job: one's own job, or anyone's with
    cancel_any_job. Starting it asks for the same permission as the original
    kind of job."""
    _check_own_or_any(job, user, "retry")
    _check_recipe(job)
    start = {Job.Kind.BUILD: start_build, Job.Kind.IMPORT: start_import}.get(job.kind)
    if start is not None:
        return start(user, job.params, retry_of=job)
    start = start_pull if job.kind == Job.Kind.PULL else start_push
    return start(user, job.params["reference"], retry_of=job)


def rebuild(recipe, user):
    """Build an image again from the recipe of the build that made it."""
    _check_recipe(recipe)
    return start_build(user, recipe.params, retry_of=recipe, action="rebuild")


def _check_recipe(job):
    missing = contexts.missing_archive(job.params)
    if missing:
        raise contexts.ContextError(f"Job {job.pk} cannot run again: {missing}")


def recipe_for_image(image_id):
    """The latest successful Dockyard build that produced this image, if any."""
    return Job.objects.filter(kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, image_id=image_id).first()


def cancel(job, user):
    """Stop a job: builders their own, admins anyone's."""
    _check_own_or_any(job, user, "cancel")
    audit.record(user, "cancel", f"job {job.pk} ({job.kind} {job.target})", audit.OK, job=job)
    state = job.request_cancel()
    if state == Job.State.CANCELLED:
        publish_state(job)
    return state


def _check_own_or_any(job, user, verb):
    """Refuse (and audit as `verb`) unless the job is the user's own and they may
    cancel_own_job, or they may cancel_any_job."""
    if not roles.may_cancel(user, job):
        codename = "cancel_any_job" if roles.may(user, "cancel_own_job") else "cancel_own_job"
        roles.check(user, codename, f"{verb} job {job.pk} of {job.created_by or 'a deleted account'}",
                    target=f"job {job.pk}", audited_as=verb)


def reap_interrupted():
    """Mark jobs whose worker died as interrupted, and tell their viewers."""
    for pk in Job.find_interrupted():
        publish_state(Job.objects.get(pk=pk))


def requeue_unclaimed():
    """Send again the task of every job left queued, unclaimed, for
    DOCKYARD_REQUEUE_AFTER seconds since its last send. The database, not
    Redis, is the truth about jobs: a Redis restarted without its data has lost
    their messages. A job merely waiting behind long builds gets one more message
    per period, which does nothing when it arrives second (the claim is atomic)."""
    for pk in Job.find_unclaimed(settings.DOCKYARD_REQUEUE_AFTER).values_list("pk", flat=True):
        log.info("Job %s is still queued, unclaimed, since its task was sent; sending it again.", pk)
        dispatch(pk, settings.DOCKYARD_QUEUE)


def dispatch(job_id, queue):
    """Send a job's task to the workers' queue, noting when."""
    from images.tasks import run_job_task  # tasks imports this module

    Job.objects.filter(pk=job_id).update(dispatched_at=timezone.now())
    try:
        run_job_task.apply_async((job_id,), queue=queue)
    except OperationalError:
        # Redis is down or restarting: the job is stored, and the sweep sends it again.
        log.warning("Job %s could not be queued now; it will be sent again once Redis answers.", job_id,
                    exc_info=True)


def active_job_count(user):
    return Job.objects.filter(created_by=user, state__in=(Job.State.QUEUED, Job.State.RUNNING)).count()


def _enqueue(kind, target, params, user, retry_of, action=None):
    target = target[:600]
    roles.check(user, roles.JOB_PERMISSION[kind], target=target)
    limit = settings.DOCKYARD_MAX_ACTIVE_JOBS
    with transaction.atomic():
        # Count and insert under a lock on the person's row, or requests arriving
        # together in several server processes all count the same jobs and all
        # insert. (SQLite ignores the row lock: its IMMEDIATE transactions already
        # take the database's write lock when they begin.)
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        job = None
        if active_job_count(user) < limit:
            job = Job.objects.create(kind=kind, target=target, params=params, created_by=user, retry_of=retry_of,
                                     output_limit=settings.DOCKYARD_JOB_OUTPUT_LIMIT)
            audit.record(user, action or kind, target, audit.QUEUED, job=job, detail=_audit_detail(job))
            # After commit, or a fast worker could look for a job not yet visible to it.
            queue = settings.DOCKYARD_QUEUE
            transaction.on_commit(lambda: dispatch(job.pk, queue))
    if job is None:
        audit.record(user, action or kind, target, audit.REFUSED, detail=f"{limit} jobs already queued or running")
        if retry_of is None:  # a retry's archive is its original's, still needed
            for stored in (params.get("context_file"), params.get("archive_file")):
                if stored:
                    contexts.discard_upload(stored)
        raise JobLimitReached(f"You already have {limit} jobs queued or running, the most one person may have. "
                              "Wait for one to end, or cancel one, then try again.")
    return job


def _audit_detail(job):
    """What the job's recipe was, by names only: build-arg values can be secrets."""
    params = job.params
    parts = [f"again from the recipe of job {job.retry_of_id}"] if job.retry_of_id else []
    if job.kind == Job.Kind.BUILD:
        source = params["source"]
        origin = {"directory": params.get("directory"), "git": params.get("git_url"),
                  "upload": params.get("context_name")}.get(source)
        parts.append(f"from {contexts.SOURCES[source].lower()}" + (f" {origin}" if origin else ""))
        if params.get("build_args"):
            parts.append(f"build args {', '.join(sorted(params['build_args']))}")
    return "; ".join(parts)


def state_event(job):
    return {
        "type": "state",
        "state": job.state,
        "image_id": job.image_id or None,
        "image_url": f"/images/{job.image_hex}/" if job.image_id else None,
        "error": job.error,
        "duration": job.duration,
    }


def publish_state(job):
    try:
        publish_job_event(job.pk, state_event(job))
    except Exception:  # noqa: BLE001 - viewers read the state again when they reconnect
        log.warning("Publishing the state of job %s failed", job.pk, exc_info=True)


# Running jobs (worker side) ----------------------------------------------------

def run_job(job_id):
    job = Job.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or not job.claim():
        log.info("Job %s is not queued any more; not running it again.", job_id)
        return
    publish_state(job)
    if not roles.may_run(job.created_by, job.kind):
        # The role may have changed, or the account gone, since the job was queued.
        who = job.created_by.get_username() if job.created_by else "a deleted account"
        job.finish(Job.State.FAILED, error=f"Not run: {who} may no longer start {job.kind} jobs.")
        publish_state(job)
        return
    output = JobLog(job)
    try:
        stream = get_engine().stream()
        with Watchdog(job, stream):
            state, image_id, error = _RUNNERS[job.kind](job, stream, output)
    except StreamClosed:
        state, image_id, error = Job.State.CANCELLED, "", "Cancelled by request."
    except (EngineError, contexts.ContextError) as exc:
        state, image_id, error = Job.State.FAILED, "", str(exc)
    except Exception as exc:
        log.exception("Job %s failed unexpectedly", job.pk)
        state, image_id, error = Job.State.FAILED, "", f"Dockyard failed while running this job: {exc}"
    finally:
        try:
            output.close()
        finally:
            close_old_connections()
    job.finish(state, image_id, error)
    job.refresh_from_db()
    publish_state(job)


def _build(job, stream, output):
    splitter = LineSplitter()
    text = job.params.get("dockerfile_text") if job.params.get("source") == "dockerfile" else None
    steps = StepTracker(limit=count_instructions(text) if text is not None else None)
    image_id, error = "", ""

    def emit(lines, changed=()):
        output.write_lines(lines)
        if changed:
            output.update_steps(changed, steps.snapshot())

    with contexts.build_arguments(job.params) as arguments:
        # Again here, on what is sent: the recipe may be older than the form's
        # check, and a server directory may have changed since.
        fetches.check_sent_context(arguments, job.params.get("build_args"))
        try:
            for message in stream.build(**arguments):
                if "stream" in message:
                    # Steps from whole messages: the engine sends each of its own lines as one.
                    emit(splitter.feed(message["stream"]), steps.feed(message["stream"]))
                elif "aux" in message and isinstance(message["aux"], dict):
                    image_id = message["aux"].get("ID", image_id)
                elif "error" in message:
                    emit(splitter.close())
                    error = _write_error(message, output)
                elif "status" in message:
                    emit(splitter.feed(message["status"] + "\n"))
        finally:
            emit(splitter.close())  # a cancelled build keeps its last partial line too
    if error or not image_id:
        error = error or "The engine ended the build without producing an image."
        emit([], steps.fail(error))
        return Job.State.FAILED, "", error
    emit([], steps.finish())
    for extra in (job.params.get("tags") or [])[1:]:
        stream.engine.tag_image(image_id, *split_repo_tag(extra))
    return Job.State.SUCCEEDED, image_id, ""


def _pull(job, stream, output):
    reference = fetches.check_registry(job.params["reference"])
    name, tag, digest = parse_reference(reference)
    error = _follow_layers(stream.pull(name, digest or tag or "latest", _auth_for(reference)), stream, output)
    if error:
        return Job.State.FAILED, "", error
    return Job.State.SUCCEEDED, stream.engine.inspect_image(reference)["Id"], ""


def _push(job, stream, output):
    reference = fetches.check_registry(job.params["reference"])
    name, tag, _ = parse_reference(reference)
    image_id = stream.engine.inspect_image(reference)["Id"]
    error = _follow_layers(stream.push(name, tag or "latest", _auth_for(reference)), stream, output)
    if error:
        return Job.State.FAILED, "", error
    return Job.State.SUCCEEDED, image_id, ""


def _write_error(message, output):
    """The engine's error from a stream message, also written to the log."""
    error = (message.get("errorDetail") or {}).get("message") or message["error"]
    output.write(f"ERROR: {error}")
    return error


def _auth_for(reference):
    registry = Registry.for_reference(reference)
    return registry.auth_config() if registry else None


def _follow_layers(messages, stream, output):
    """Write a pull's or push's lines and coalesced layer progress; return the
    engine's error, if any."""
    progress = LayerProgress(rate=10)
    error = ""
    try:
        for message in messages:
            if "error" in message:
                error = _write_error(message, output)
                continue
            line = progress.feed(message)
            if line is not None:
                output.write(line)
            if progress.due():
                output.set_progress(progress.snapshot())
    finally:
        output.set_progress(progress.snapshot())
    return error


def _import(job, stream, output):
    """`docker load` of an uploaded archive."""
    splitter = LineSplitter()
    loaded, error = [], ""
    try:
        with open(contexts.stored_archive(job.params["archive_file"]), "rb") as archive:
            for message in stream.load(archive):
                if "error" in message:
                    error = _write_error(message, output)
                    continue
                for line in splitter.feed(message.get("stream") or (message.get("status", "") + "\n")):
                    output.write(line)
                    if line.startswith(("Loaded image: ", "Loaded image ID: ")):
                        loaded.append(line.split(": ", 1)[1].strip())
    finally:
        output.write_lines(splitter.close())
    if error or not loaded:
        return Job.State.FAILED, "", error or "The archive held no image."
    return Job.State.SUCCEEDED, stream.engine.inspect_image(loaded[0])["Id"], ""


_RUNNERS = {Job.Kind.BUILD: _build, Job.Kind.PULL: _pull, Job.Kind.PUSH: _push, Job.Kind.IMPORT: _import}


class Watchdog:
    """Beats the job's heartbeat while it runs, and closes its engine stream
    when a cancel is asked for."""

    def __init__(self, job, stream):
        self.job = job
        self.stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{job.pk}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        try:
            while not self._stop.wait(settings.DOCKYARD_HEARTBEAT_INTERVAL):
                try:
                    cancel = self.job.beat()
                except Exception:  # noqa: BLE001 - a missed beat is retried on the next tick
                    log.warning("Heartbeat of job %s failed", self.job.pk, exc_info=True)
                    continue
                if cancel:
                    log.info("Cancelling job %s", self.job.pk)
                    self.stream.close()
                    return
        finally:
            connection.close()
