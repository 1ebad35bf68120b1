"""The BuildKit session a build job attaches, made in the worker as it runs."""

from images.accounts import registries
from images.builds import secrets
from images.engine import BuildSession


def for_job(job, engine):
    """A BuildSession answering the stored registry logins and the secrets the
    job chose, read now, for the person it runs as (`secrets.SecretUnavailable`
    if one is gone). Enter it around the build and pass its `id` as the build's
    session."""
    chosen = secrets.values_for_build(job.created_by, job.params.get("secrets"))
    return BuildSession(engine, credentials=registries.login_for_host, secrets=chosen)
