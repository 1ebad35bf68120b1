"""Jobs from the web and scheduler side: starting builds, pulls, pushes,
imports and file indexes, retrying, rebuilding and cancelling them, and the sweeps that find jobs
lost between the queue and a worker.

Views and the API call `start_build`, `start_pull`, `retry` and `cancel`; the
worker side is `images.jobs.running`.
"""

import logging
import shlex
import time

from django.conf import settings
from django.core.cache import cache
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from images import engines
from images.accounts import audit, roles
from images.builds import contexts, fetches
from images.jobs import access, broker
from images.jobs.publish import publish_state
from images.models import ImageIndex, Job
from images.refs import full_name, names_registry, parse_reference

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


class RegistryNotConfirmed(Exception):
    """A push to a registry the reference only implies (Docker Hub), not confirmed."""

    def __init__(self, reference):
        self.reference = reference
        self.full_name = full_name(reference)
        super().__init__(f"{reference} names no registry, so it would go to Docker Hub as {self.full_name}.")


def start_checked_push(user, reference, registry_confirmed=False):
    """A push a page or the API asks for: refused before any job is made unless
    the reference is valid (InvalidReference) and names a registry pushes may
    reach (FetchRefused). A reference that leaves its registry implied goes to
    Docker Hub, which nobody should do by accident: it needs `registry_confirmed`
    (RegistryNotConfirmed)."""
    parse_reference(reference)
    fetches.check_registry(reference)
    if not registry_confirmed and not names_registry(reference):
        raise RegistryNotConfirmed(reference)
    return start_push(user, reference)


def start_push(user, reference, retry_of=None):
    parse_reference(reference)
    return _enqueue(Job.Kind.PUSH, reference, {"reference": reference}, user, retry_of)


def start_import(user, params, retry_of=None):
    return _enqueue(Job.Kind.IMPORT, f"import of {params['archive_name']}", params, user, retry_of)


def start_index(user, image_id, name="", retry_of=None, after=None):
    """Index the files of an image (an id: a tag could move before the worker reads it).
    `name` is what people call the image (a tag), for the job's title; `after` is
    the job whose image this is, when the index was started by itself after it."""
    params = {"image_id": image_id}
    if name:
        params["name"] = name
    if after is not None:
        params["after_job"] = after.pk
    short = image_id.removeprefix("sha256:")[:12]
    target = f"{name} ({short})" if name else f"untagged image {short}"
    return _enqueue(Job.Kind.INDEX, target, params, user, retry_of)


def enqueue_job(kind, target, params, user):
    """Queue a job of a kind whose recipe another module makes (retention)."""
    return _enqueue(kind, target, params, user, None)


def _image_name(job):
    """The name a build, pull or import gave its image, if any."""
    tags = job.params.get("tags") or []
    return tags[0] if tags else job.params.get("reference", "")


def start_run(user, params, retry_of=None):
    """Run a container from an image (params from lifecycle.runs.run_params, validated)."""
    short = params["image_id"].removeprefix("sha256:")[:12]
    target = f"run of {params['name']} ({short})" if params.get("name") else f"run of {short}"
    return _enqueue(Job.Kind.RUN, target, params, user, retry_of)


def index_committed(user, image_id, name, run):
    """Index an image committed from a run, as an image a build made is (DOCKYARD_INDEX_AFTER_JOBS)."""
    if not (settings.DOCKYARD_INDEX_AFTER_JOBS and roles.may_run(user, Job.Kind.INDEX, run.engine)):
        return None
    try:
        with audit.acting_by_itself():
            return start_index(user, image_id, name, after=run)
    except JobLimitReached:
        return None


def index_after(job):
    """After a build, pull or import made an image, index its files
    (DOCKYARD_INDEX_AFTER_JOBS), as the job's owner, unless it is indexed."""
    if not (settings.DOCKYARD_INDEX_AFTER_JOBS and job.state == Job.State.SUCCEEDED and job.image_id
            and job.kind in (Job.Kind.BUILD, Job.Kind.PULL, Job.Kind.IMPORT) and job.created_by
            and roles.may_run(job.created_by, Job.Kind.INDEX, job.engine)):
        return None
    if ImageIndex.objects.filter(image_id=job.image_id).exists():
        return None
    try:
        with audit.acting_by_itself():
            return start_index(job.created_by, job.image_id, _image_name(job), after=job)
    except JobLimitReached:
        log.info("Not indexing %s after job %s: its owner has no job to spare.", job.image_id, job.pk)
        return None


def retry(job, user):
    """Run a job's recipe again as a new job: one's own job, or anyone's with
    cancel_any_job. Starting it asks for the same permission as the original
    kind of job."""
    access.check(user, job, "retry")
    check_recipe(job)
    start = {Job.Kind.BUILD: start_build, Job.Kind.IMPORT: start_import, Job.Kind.RUN: start_run}.get(job.kind)
    if start is not None:
        return start(user, job.params, retry_of=job)
    if job.kind == Job.Kind.RETENTION:
        return _enqueue(job.kind, job.target, job.params, user, job)
    if job.kind == Job.Kind.INDEX:
        return start_index(user, job.params["image_id"], job.params.get("name", ""), retry_of=job)
    start = start_pull if job.kind == Job.Kind.PULL else start_push
    return start(user, job.params["reference"], retry_of=job)


class NoRecipe(Exception):
    """The image was not built by Dockyard, so there is nothing to rebuild it from."""


def rebuild_image(image_id, user):
    """Build an image again from the recipe of the Dockyard build that made it."""
    recipe = recipe_for_image(image_id)
    if recipe is None:
        raise NoRecipe("Dockyard did not build this image, so it has no recipe to rebuild from.")
    return rebuild(recipe, user)


def rebuild(recipe, user):
    """Build an image again from the recipe of the build that made it."""
    check_recipe(recipe)
    return start_build(user, recipe.params, retry_of=recipe, action="rebuild")


def check_recipe(job):
    missing = contexts.missing_archive(job.params)
    if missing:
        raise contexts.ContextError(f"Job {job.pk} cannot run again: {missing}")


def recipe_for_image(image_id):
    """The latest successful Dockyard build that produced this image on the active engine, if any."""
    return Job.objects.filter(engine=engines.active(), kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, image_id=image_id).first()


def cancel(job, user):
    """Stop a job: builders their own, admins anyone's."""
    access.check(user, job, "cancel")
    audit.record(user, "cancel", f"job {job.pk} ({job.kind} {job.target})", audit.OK, job=job)
    state = job.request_cancel()
    if state == Job.State.CANCELLED:
        publish_state(job)
    return state


def reap_interrupted():
    """Mark jobs whose worker died as interrupted, and tell their viewers."""
    for pk in Job.find_interrupted():
        publish_state(Job.objects.get(pk=pk))


# A queued job whose task the broker no longer holds is sent again when a later
# sweep, at least this long after one that found it missing, finds it missing
# too: a message BRPOP has taken but kombu has not yet written to its unacked
# hash, or a job committed but not yet sent, is missing for milliseconds.
MISSING_CONFIRM_SECONDS = 1


def requeue_unclaimed():
    """Send again the task of every queued job that the broker no longer holds
    (in neither its queue nor a worker's hands, on two sweeps), and of every job
    left queued, unclaimed, for DOCKYARD_REQUEUE_AFTER seconds since its last
    send. The database, not Redis, is the truth about jobs: a Redis restarted
    without its data has lost their messages. A job merely waiting behind long
    builds gets one more message per period, which does nothing when it arrives
    second (the claim is atomic)."""
    overdue = dict(Job.find_unclaimed(settings.DOCKYARD_REQUEUE_AFTER).values_list("pk", "engine"))
    for pk, engine in overdue.items():
        log.info("Job %s is still queued, unclaimed, since its task was sent; sending it again.", pk)
        dispatch(pk, engines.queue_for(engine))
    for pk, engine in _missing_from_broker().items():
        if pk not in overdue:
            log.info("Job %s is queued but Redis no longer holds its task; sending it again.", pk)
            dispatch(pk, engines.queue_for(engine))


def _missing_from_broker():
    """{job id: engine} of queued jobs that this sweep and an earlier one found
    in neither their queue nor a worker's hands. The earlier sightings are kept
    in the cache, which may be the same Redis: lost with it, they cost one sweep."""
    queued = dict(Job.objects.filter(state=Job.State.QUEUED).values_list("pk", "engine"))
    if not queued:
        return {}
    try:
        held = broker.jobs_held({engines.queue_for(engine) for engine in queued.values()})
    except broker.BrokerUnavailable:
        return {}  # Redis is down: the sweep after it answers again looks
    missing = {pk: engine for pk, engine in queued.items() if (engines.queue_for(engine), pk) not in held}
    key = f"jobs-missing-from-broker:{settings.DOCKYARD_QUEUE}"
    now = time.time()
    noted = cache.get(key) or {}
    if missing or noted:
        cache.set(key, {pk: noted.get(pk, now) for pk in missing}, timeout=10 * settings.DOCKYARD_SWEEP_INTERVAL + 60)
    return {pk: engine for pk, engine in missing.items()
            if pk in noted and now - noted[pk] >= MISSING_CONFIRM_SECONDS}


def dispatch(job_id, queue):
    """Send a job's task to the queue of its engine's workers, noting when."""
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
    """A job on the active engine (a retry's on its original's), queued for that engine's workers."""
    target = target[:600]
    engine = retry_of.engine if retry_of is not None else engines.active()
    roles.check(user, roles.JOB_PERMISSION[kind], target=target, engine=engine)
    limit = settings.DOCKYARD_MAX_ACTIVE_JOBS
    with transaction.atomic():
        # Count and insert under a lock on the person's row, or requests arriving
        # together in several server processes all count the same jobs and all
        # insert. (SQLite ignores the row lock: its IMMEDIATE transactions already
        # take the database's write lock when they begin.)
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        job = None
        if active_job_count(user) < limit:
            job = Job.objects.create(engine=engine, kind=kind, target=target, params=params, created_by=user, retry_of=retry_of,
                                     output_limit=settings.DOCKYARD_JOB_OUTPUT_LIMIT)
            audit.record(user, action or kind, target, audit.QUEUED, job=job, detail=_audit_detail(job))
            # After commit, or a fast worker could look for a job not yet visible to it.
            queue = engines.queue_for(engine)
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
    if job.params.get("after_job"):
        parts.append(f"automatic, after job {job.params['after_job']}")
    if job.kind == Job.Kind.RUN:
        parts.append(_run_detail(params))
    if job.kind == Job.Kind.BUILD:
        source = params["source"]
        origin = {"directory": params.get("directory"), "git": params.get("git_url"),
                  "upload": params.get("context_name")}.get(source)
        parts.append(f"from {contexts.SOURCES[source].lower()}" + (f" {origin}" if origin else ""))
        if params.get("build_args"):
            parts.append(f"build args {', '.join(sorted(params['build_args']))}")
        if params.get("secrets"):
            parts.append(f"secrets {', '.join(params['secrets'])}")
    return "; ".join(parts)


def _run_detail(params):
    """A run's recipe in words: env by names only (values may be secrets)."""
    command = f"sh -c {params['shell']!r}" if params.get("shell") is not None else (
        shlex.join(params["argv"]) if params["argv"] else "the image's own command")
    names = [item.split("=", 1)[0] for item in params["env"]]
    parts = [command, f"{params['memory_mb']} MB, {params['cpus']:g} CPU, {params['pids']} pids, "
                      f"{params['timeout']} s, network {params['network']}"]
    if names:
        parts.append(f"env {', '.join(names)}")
    return "; ".join(parts)
