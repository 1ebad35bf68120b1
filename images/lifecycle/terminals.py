"""Terminals in a running run: which one a person may open, and whether they
may type in it.

- The run's own terminal (its TTY, attached): everyone who may see the job
  watches it; the run's owner and admins (the job's "cancel" rule) type in it.
  What it prints is the container's output, which the run stores as the job's
  lines already.
- A shell in the running container (an exec): opened only by those who may type
  in the run, and theirs alone. Its output is neither stored nor shown to anyone
  else: it is not the container's output, and on a TTY it echoes every command
  typed in it.
A watcher's connection to the engine is opened without stdin, so nothing they
send could reach the container even if it were passed on.
"""

from channels.db import database_sync_to_async
from django.http import Http404

from images.accounts import audit
from images.engine import EngineError, get_engine, terminals
from images.jobs import access
from images.models import Job

RUN_TERMINAL, SHELL = "terminal", "shell"

# Websocket close codes, past the 4000 the protocol leaves to applications (HTTP's status + 4000).
NOT_ALLOWED, NOT_FOUND, NOT_RUNNING = 4403, 4404, 4409


class TerminalRefused(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def terminal_for(user, job_id, kind):
    """(the job, whether `user` may type) for the terminal `kind` of a running
    run, or TerminalRefused saying why not."""
    try:
        job = access.job_for(user, job_id)
    except Http404:
        raise TerminalRefused(NOT_FOUND, "No such job.") from None
    if job.kind != Job.Kind.RUN:
        raise TerminalRefused(NOT_FOUND, "Only a run has a terminal.")
    if job.state != Job.State.RUNNING or not job.container_id:
        raise TerminalRefused(NOT_RUNNING, "The run is not running: its output is the job's log.")
    if kind == RUN_TERMINAL and not job.params.get("tty"):
        raise TerminalRefused(NOT_RUNNING, "This run has no TTY: its output is the job's log; open a shell in it "
                                           "to type.")
    may_type = access.may(user, job, "cancel")
    if kind == SHELL and not may_type:
        raise TerminalRefused(NOT_ALLOWED, "Only the run's owner and admins may open a shell in it.")
    return job, may_type


async def open_terminal(user, job_id, kind):
    """(the engine stream, whether `user` may type) for the terminal `kind`
    (RUN_TERMINAL or SHELL) of run `job_id`; a shell is audited."""
    job, may_type = await database_sync_to_async(terminal_for)(user, job_id, kind)
    engine = get_engine(job.engine)
    try:
        if kind == SHELL:
            stream = await terminals.shell(engine, job.container_id)
        else:
            stream = await terminals.attach(engine, job.container_id, stdin=may_type)
    except EngineError as exc:
        if kind == SHELL:
            await database_sync_to_async(audit.record)(user, "shell", f"run {job.pk}", audit.FAILED,
                                                       detail=str(exc), job=job)
        raise TerminalRefused(NOT_RUNNING, f"The engine gave no terminal: {exc}") from exc
    if kind == SHELL:
        await database_sync_to_async(audit.record)(user, "shell", f"run {job.pk}", job=job)
    return stream, may_type
