"""Who may do what to a job. Views, the API, the consumers, control and the
worker all ask here.

- view: anyone who may browse an engine sees every job on it (a shared host's
  builds are shared knowledge);
- cancel and retry: one's own jobs with cancel_own_job, anyone's with
  cancel_any_job; retry also needs the permission to start its kind;
- run: the job's creator may still start jobs of its kind (roles change while
  jobs wait in the queue).
"""

from django.http import Http404

from images import engines
from images.accounts import roles
from images.models import Job

ACTIONS = ("view", "cancel", "retry", "run")


def visible_jobs(user):
    """Every job on the engines `user` may browse."""
    if not user or not user.is_authenticated:
        return Job.objects.none()
    return Job.objects.filter(engine__in=roles.engines_where(user, "browse"))


def sees(user, job):
    """Whether `user` sees `job`, one already read, as `visible_jobs` would find it."""
    return job.engine in engines.names() and may(user, job, "view")


def may(user, job, action):
    """Whether `user` may `action` the job, by their roles on the job's engine."""
    if action == "view":
        return roles.may(user, "browse", job.engine)
    if action == "cancel":
        return roles.may_cancel(user, job)
    if action == "retry":
        return roles.may_retry(user, job)
    if action == "run":
        return roles.may_run(user, job.kind, job.engine)
    raise ValueError(f"Unknown job action {action!r}; one of {', '.join(ACTIONS)}.")


def check(user, job, action):
    """Refuse, with the role that would allow it, and audit the refusal as the
    action, unless `user` may do `action` to `job`."""
    if may(user, job, action):
        return
    if action in ("cancel", "retry") and roles.may_cancel(user, job):
        # Their own job, but not a kind they may start.
        roles.check(user, roles.JOB_PERMISSION[job.kind], target=f"job {job.pk}", audited_as=action,
                    engine=job.engine)
    codename = "cancel_any_job" if roles.may(user, "cancel_own_job", job.engine) else "cancel_own_job"
    roles.check(user, codename, f"{action} job {job.pk} of {job.created_by or 'a deleted account'}",
                target=f"job {job.pk}", audited_as=action, engine=job.engine)


def job_for(user, pk, action="view"):
    """The job `pk` if `user` may do `action` to it: 404 for a job they cannot
    see (or none), Refused (403, audited) for one they see but may not change."""
    job = visible_jobs(user).filter(pk=pk).select_related("created_by").first()
    if job is None:
        raise Http404("No such job.")
    if action != "view":
        check(user, job, action)
    return job
