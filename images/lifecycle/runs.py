"""Running an image: the container a run gets (and nothing of the host's), its
output stored as the job's lines, why it ended, what it changed, and saving
that as an image (a commit).

A run is a job of kind "run" on its engine's queue, like a build: its output is
stored and streamed exactly once, shared by every viewer. Its container is kept,
stopped, after it ends (DOCKYARD_RUN_KEEP_HOURS), for "what changed" and a
commit; `remove_finished` (the sweep) removes it then, or at once for a run
whose worker died. Only containers labelled with this Dockyard's own instance
are ever touched.
"""

import codecs
import hashlib
import logging
import re
import shlex
import threading
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from images import engines
from images.engine import EngineError, get_engine
from images.engine.containers import STDERR, STDOUT
from images.engine.output import LineSplitter
from images.models import Job

log = logging.getLogger(__name__)

LABEL_JOB = "dockyard.job"
LABEL_OWNER = "dockyard.owner"
LABEL_INSTANCE = "dockyard.instance"
STDERR_MARK = "[stderr] "
STOP_GRACE_SECONDS = 10  # SIGTERM, then SIGKILL this long after
# The engine keeps a run's output on the host's disk as well: at most this much.
ENGINE_LOG_BYTES = 64 * 1024 * 1024
# "What changed": sizes are read for this many paths at most (one engine call each).
CHANGES_SIZED = 500

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?\Z")
# What a commit may change in the image's configuration (docker commit --change).
COMMIT_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "WORKDIR", "EXPOSE", "LABEL", "USER")


def instance_id():
    """This Dockyard's own mark on the containers it starts, so that two
    Dockyards (or two test runs) on one engine never touch each other's."""
    if settings.DOCKYARD_INSTANCE:
        return settings.DOCKYARD_INSTANCE
    return hashlib.sha256(f"dockyard-instance:{settings.SECRET_KEY}".encode()).hexdigest()[:16]


def container_name(job_pk):
    """A run's container's name. Labels pass on to whatever is made from an image
    committed of it; a name does not, so the sweep goes by both."""
    return f"dockyard-run-{instance_id()}-{job_pk}"


# Validating a run (the page's form and the API share these) ---------------------

class RunRefused(ValueError):
    """A run's settings are not allowed; the message names the field."""

    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


def clean_env(pairs):
    """[(name, value)] from the form or the API: names of letters, digits and
    underscores, no NUL anywhere."""
    env = []
    for name, value in pairs:
        if not ENV_NAME.match(name):
            raise RunRefused("env", f"{name!r} is not a variable name: letters, digits and _ only, "
                                    "not starting with a digit (no '=').")
        if "\0" in value:
            raise RunRefused("env", f"The value of {name} holds a NUL character.")
        env.append(f"{name}={value}")
    return env


def parse_env_text(text):
    """NAME=value lines (the form's box) as pairs; blank lines skipped."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if "=" not in line:
            raise RunRefused("env", f"Line {number} has no '=': write NAME=value.")
        name, value = line.split("=", 1)
        pairs.append((name.strip(), value))
    return pairs


def parse_argv(text):
    """The command box as an argv list, split with POSIX quoting and nothing
    else: `;`, `|`, `$(…)` stay literal words, since no shell reads them."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise RunRefused("command", f"The command's quoting is unbalanced ({exc}).") from None


def check_limits(memory_mb, cpus, pids, timeout, network):
    """The limits against the admin's caps (the settings)."""
    caps = (("memory_mb", memory_mb, 6, settings.DOCKYARD_RUN_MEMORY, "MB"),
            ("cpus", cpus, 0.01, settings.DOCKYARD_RUN_CPUS, "CPUs"),
            ("pids", pids, 8, settings.DOCKYARD_RUN_PIDS, "processes"),
            ("timeout", timeout, 1, settings.DOCKYARD_RUN_TIMEOUT, "seconds"))
    for field, value, floor, cap, unit in caps:
        if not floor <= value <= cap:
            raise RunRefused(field, f"{value} is outside what runs may ask for here: {floor} to {cap} {unit} "
                                    "(an admin's setting).")
    if network not in allowed_networks():
        raise RunRefused("network", f"{network!r} is not a network runs may join here: "
                                    f"{', '.join(allowed_networks())} (DOCKYARD_RUN_NETWORKS).")


def allowed_networks():
    return ["none", *settings.DOCKYARD_RUN_NETWORKS]


def check_path(field, value):
    if "\0" in value:
        raise RunRefused(field, "It holds a NUL character.")
    if value and not value.startswith("/"):
        raise RunRefused(field, "Give an absolute path, starting with /.")
    return value


def check_user(value):
    if value and not USER.match(value):
        raise RunRefused("user", "Give a user name or id, optionally :group (letters, digits, _ . -).")
    return value


def run_params(image_id, image_name, *, argv=None, shell=None, env=(), workdir="", user="", tty=False,
               memory_mb=None, cpus=None, pids=None, timeout=None, network="none"):
    """A run's recipe, validated: what control.start_run stores as the job's params."""
    memory_mb = settings.DOCKYARD_RUN_MEMORY if memory_mb is None else memory_mb
    cpus = float(settings.DOCKYARD_RUN_CPUS if cpus is None else cpus)
    pids = settings.DOCKYARD_RUN_PIDS if pids is None else pids
    timeout = settings.DOCKYARD_RUN_TIMEOUT if timeout is None else timeout
    check_limits(memory_mb, cpus, pids, timeout, network)
    if shell is not None and argv:
        raise RunRefused("command", "Give either an argv list or a shell command, not both.")
    for word in [*(argv or []), shell or ""]:
        if "\0" in word:
            raise RunRefused("command", "The command holds a NUL character.")
    return {"image_id": image_id, "name": image_name, "argv": list(argv or []), "shell": shell,
            "env": clean_env(env), "workdir": check_path("workdir", workdir), "user": check_user(user), "tty": tty,
            "memory_mb": memory_mb, "cpus": cpus, "pids": pids, "timeout": timeout, "network": network}


# Running (the worker side) --------------------------------------------------------

@dataclass
class _Ending:
    """Why the run is being stopped, if it is: "stop" (by whom) or "timeout"."""
    cause: str = ""
    by: str = ""


def run_container(job, stream, output):
    """Create and start the run's container, store its output as it comes,
    stop it when asked (SIGTERM, SIGKILL after 10 s) or at its time limit, and
    say why it ended. Returns (state, image_id, error) as every runner does."""
    engine = stream.engine
    params = job.params
    if params["shell"] is not None:
        command, entrypoint = [params["shell"]], ["/bin/sh", "-c"]
    else:
        command, entrypoint = (params["argv"] or None), None
    owner = job.created_by.get_username() if job.created_by else ""
    container_id = engine.create_run_container(
        params["image_id"], container_name(job.pk), command=command, entrypoint=entrypoint, env=params["env"],
        workdir=params["workdir"], user=params["user"], tty=params["tty"],
        memory=params["memory_mb"] * 1024 * 1024, nano_cpus=int(params["cpus"] * 1e9), pids=params["pids"],
        network=params["network"], log_max_bytes=ENGINE_LOG_BYTES,
        labels={LABEL_JOB: str(job.pk), LABEL_OWNER: owner, LABEL_INSTANCE: instance_id()})
    Job.objects.filter(pk=job.pk).update(container_id=container_id)
    job.container_id = container_id

    ending = _Ending()
    stopping = threading.Lock()

    def stop(cause):
        # From the watchdog (a cancel) or the timer: the container is stopped, and its output read to the end.
        with stopping:
            if ending.cause:
                return
            ending.cause = cause
            ending.by = _who_stopped(job) if cause == "stop" else ""
        threading.Thread(target=_stop_quietly, args=(engine, container_id), daemon=True).start()

    stream.on_close(lambda: stop("stop"))
    timer = threading.Timer(params["timeout"], stop, args=("timeout",))
    timer.daemon = True
    # Attached before the start, so that nothing it prints comes before the reading does.
    attached = engine.attach_output(container_id, params["tty"])
    try:
        engine.start_container(container_id)
    except BaseException:
        attached.close()
        raise
    timer.start()
    try:
        _store_output(attached, output)
    finally:
        timer.cancel()
    state = engine.inspect_container(container_id)["State"]
    if state.get("Running"):  # the output ended early (the engine restarted): stop it now
        _stop_quietly(engine, container_id)
        state = engine.inspect_container(container_id)["State"]
    reason, job_state = _ending(state, ending, params)
    output.write(reason)
    return job_state, "", "" if job_state == Job.State.SUCCEEDED else reason


def _store_output(pieces, output):
    decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in (STDOUT, STDERR)}
    splitters = {STDOUT: LineSplitter(), STDERR: LineSplitter()}

    def marked(name, lines):
        return lines if name == STDOUT else [STDERR_MARK + line for line in lines]

    try:
        for name, data in pieces:
            output.write_lines(marked(name, splitters[name].feed(decoders[name].decode(data))))
    finally:
        for name in (STDOUT, STDERR):
            output.write_lines(marked(name, splitters[name].feed(decoders[name].decode(b"", final=True))
                                      + splitters[name].close()))


def _stop_quietly(engine, container_id):
    try:
        engine.stop_container(container_id, grace=STOP_GRACE_SECONDS)
    except EngineError:
        log.warning("Stopping container %s failed", container_id, exc_info=True)


def _who_stopped(job):
    entry = job.audit_entries.filter(action="cancel").order_by("-pk").first()
    return entry.actor_name if entry else "request"


def _ending(state, ending, params):
    """(the sentence that says why the run ended, the job's state)."""
    code = state.get("ExitCode")
    if ending.cause == "stop":
        return f"stopped by {ending.by} (exit code {code})", Job.State.CANCELLED
    if ending.cause == "timeout":
        return f"timed out after {_duration(params['timeout'])} (exit code {code})", Job.State.FAILED
    if state.get("OOMKilled"):
        return f"killed: out of memory ({params['memory_mb']} MB limit)", Job.State.FAILED
    if state.get("Error"):
        return f"the engine could not run it: {state['Error']}", Job.State.FAILED
    return f"exited {code}", Job.State.SUCCEEDED if code == 0 else Job.State.FAILED


def _duration(seconds):
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} min"
    return f"{seconds} s"


# After the run ----------------------------------------------------------------------

CHANGE_KINDS = {0: "changed", 1: "added", 2: "deleted"}


@dataclass
class Change:
    path: str
    kind: str  # added, changed or deleted
    size: int | None  # bytes of a file now in the container; None for deleted paths, directories, or unsized


class NoContainer(Exception):
    """The run's container is gone (removed by the sweep, or never made)."""


def container_of(job):
    if job.kind != Job.Kind.RUN or not job.container_id:
        raise NoContainer("This run has no container: it did not start one.")
    return job.container_id


def changes(job):
    """What the run changed in its container's filesystem (`docker diff`),
    with each added or changed file's size read from the container."""
    engine = get_engine(job.engine)
    try:
        found = engine.container_changes(container_of(job))
    except EngineError as exc:
        raise NoContainer(f"This run's container is gone (kept {settings.DOCKYARD_RUN_KEEP_HOURS} h after it "
                          f"ends): {exc}") from exc
    found = sorted(found, key=lambda item: item["Path"])
    # An ended run's files no longer change: their sizes (a call each) are read once, not at every view of its page.
    key = f"dockyard:run-sizes:{job.container_id}"
    sizes = cache.get(key) if job.is_final else None
    if sizes is None:
        sizes = _sizes(engine, job.container_id, found)
        if job.is_final:
            cache.set(key, sizes, timeout=max(settings.DOCKYARD_RUN_KEEP_HOURS, 1) * 3600)
    return [Change(item["Path"], CHANGE_KINDS.get(item["Kind"], "changed"), sizes.get(item["Path"])) for item in found]


def _sizes(engine, container_id, found):
    """{path: bytes} of the first CHANGES_SIZED added or changed files (directories have no size of their own)."""
    sizes = {}
    for item in found[:CHANGES_SIZED]:
        if CHANGE_KINDS.get(item["Kind"]) == "deleted":
            continue
        try:
            stat = engine.container_path_stat(container_id, item["Path"])
        except EngineError:
            continue
        if not stat.get("mode", 0) & (1 << 31):  # Go's ModeDir bit
            sizes[item["Path"]] = stat.get("size")
    return sizes


class CommitRefused(ValueError):
    def __init__(self, field, message):
        super().__init__(f"{field}: {message}")
        self.field = field


def check_changes(lines):
    """Configuration changes for a commit: one Dockerfile instruction a line,
    of those `docker commit --change` applies and this page offers."""
    checked = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if "\0" in line or "\n" in line:
            raise CommitRefused("changes", f"Line {number} holds a NUL or line break.")
        instruction = line.split(None, 1)[0].upper()
        if instruction not in COMMIT_INSTRUCTIONS:
            raise CommitRefused("changes", f"Line {number}: {instruction} cannot be changed by a commit; only "
                                           f"{', '.join(COMMIT_INSTRUCTIONS)}.")
        if len(line.split(None, 1)) < 2:
            raise CommitRefused("changes", f"Line {number}: {instruction} needs a value.")
        checked.append(line)
    return checked


def commit(job, user, reference, message, change_lines):
    """Save the run's container as an image named `reference` (repository:tag):
    its tag history says "commit", its labels name the run and the image it ran,
    and it is audited and indexed as a build's image is. Returns the image id."""
    from images.accounts import audit
    from images.jobs import control
    from images.lifecycle.tags import tag_recorded
    from images.refs import InvalidReference, parse_reference

    try:
        name, tag, digest = parse_reference(reference)
    except InvalidReference as exc:
        raise CommitRefused("reference", str(exc)) from None
    if digest:
        raise CommitRefused("reference", "Name the new image repository:tag, not a digest.")
    tag = tag or "latest"
    if "\0" in message or len(message) > 2000:
        raise CommitRefused("message", "At most 2,000 characters, no NUL.")
    changes_checked = check_changes(change_lines)
    labels = [f'LABEL dockyard.run.job="{job.pk}" dockyard.run.image="{job.params["image_id"]}"']
    container_id = container_of(job)
    engine = get_engine(job.engine)
    author = user.get_username()
    # The new image's configuration is the source image's, not the container's: the run's
    # command, env values (which may be secrets) and Dockyard's labels stay with the run.
    config = _commit_config(engine.inspect_image(job.params["image_id"])["Config"], job.params["env"])
    with audit.recorded(user, "commit", f"{name}:{tag}", detail=f"from run {job.pk} of {job.params['image_id']}"):
        image_id = engine.commit_container(container_id, message or f"Committed from run {job.pk}", author,
                                           changes_checked + labels, config)
        # Recorded as a commit before the tag exists, so the event listener's "tag" for it changes nothing.
        tag_recorded(engine, image_id, f"{name}:{tag}", "commit", user)
    control.index_committed(user, image_id, f"{name}:{tag}", job)
    return image_id


def _commit_config(image_config, run_env):
    """The committed image's configuration: the source image's. The engine adds
    to it each label and env variable of the container that it lacks, so the
    run's own are named here without their values: Dockyard's labels empty (an
    empty job label is no run of Dockyard's), the run's env names bare (a name
    with no "=" sets nothing)."""
    config = dict(image_config)
    config["Labels"] = {**{key: "" for key in (LABEL_JOB, LABEL_OWNER, LABEL_INSTANCE)},
                        **(image_config.get("Labels") or {})}
    own = {item.split("=", 1)[0] for item in image_config.get("Env") or []}
    config["Env"] = [*(image_config.get("Env") or []),
                     *(name for name in dict.fromkeys(item.split("=", 1)[0] for item in run_env) if name not in own)]
    return config


# The sweep ------------------------------------------------------------------------------

def remove_finished(engine_name):
    """Remove this Dockyard's run containers whose job ended more than
    DOCKYARD_RUN_KEEP_HOURS ago, or was interrupted (its worker died), or is
    unknown here. Containers of other Dockyards, or of no Dockyard, are never touched."""
    engine = get_engine(engine_name)
    removed = []
    keep_since = timezone.now() - timedelta(hours=settings.DOCKYARD_RUN_KEEP_HOURS)
    for container in engine.containers_labelled(f"{LABEL_INSTANCE}={instance_id()}"):
        labels = container.get("Labels") or {}
        job_pk = _int(labels.get(LABEL_JOB))
        if job_pk is None or f"/{container_name(job_pk)}" not in (container.get("Names") or []):
            continue  # labelled like a run's, but not named as Dockyard named it: not Dockyard's
        job = Job.objects.filter(pk=job_pk, engine=engine_name, kind=Job.Kind.RUN).first()
        stale = (job is None or job.state == Job.State.INTERRUPTED
                 or (job.is_final and job.finished_at and job.finished_at < keep_since))
        if stale:
            try:
                engine.remove_container(container["Id"])
                removed.append(container["Id"])
            except EngineError:
                log.warning("Removing run container %s failed", container["Id"], exc_info=True)
    return removed


def remove_everywhere():
    for name in engines.names():
        try:
            remove_finished(name)
        except EngineError:
            pass  # that engine is down: its containers wait for the next sweep


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None
