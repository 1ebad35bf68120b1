"""Running a job in a worker: one engine stream, its output written as it comes,
its heartbeat kept and its cancel obeyed, its end recorded."""

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from images import engines
from images.accounts import registries
from images.bases import batches
from images.builds import builders, contexts, fetches, provenance, sessions
from images.builds.dockerfile import StageLines
from images.engine import EngineError, get_engine, StreamClosed
from images.engine.buildkit import trace
from images.engine.output import LineSplitter
from images.engine.progress import LayerProgress
from images.engine.steps import count_instructions, StepTracker
from images.files import indexing
from images.hooks import outbound
from images.jobs import access, control
from images.jobs.log import JobLog
from images.jobs.publish import publish_state
from images.lifecycle import retention_apply, runs
from images.models import Job, Registry
from images.monitoring import metrics
from images.refs import parse_reference, split_repo_tag

log = logging.getLogger(__name__)


def run_job(job_id):
    job = Job.objects.filter(pk=job_id).select_related("created_by").first()
    if job is None or not job.claim():
        log.info("Job %s is not queued any more; not running it again.", job_id)
        return
    # On the job's engine: its engine calls, its role checks, its audit entries.
    with engines.activated(job.engine):
        _run_claimed(job)


def _run_claimed(job):
    publish_state(job)
    if not access.may(job.created_by, job, "run"):
        # The role may have changed, or the account gone, since the job was queued.
        who = job.created_by.get_username() if job.created_by else "a deleted account"
        job.finish(Job.State.FAILED, error=f"Not run: {who} may no longer start {job.kind} jobs.")
        publish_state(job)
        batches.job_ended(job)
        outbound.job_ended(job)
        return
    output = JobLog(job)
    try:
        stream = get_engine(job.engine).stream()
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
    metrics.observe_job(job)
    control.index_after(job)
    batches.job_ended(job)
    outbound.job_ended(job)


def _build(job, stream, output):
    build = _build_buildkit if builders.of_recipe(job.params) == builders.BUILDKIT else _build_classic
    record = provenance.BuildRecord(job)
    try:
        state, image_id, error = build(job, stream, output, record)
    finally:
        # A failed or cancelled build's too: what it was made from. Recording it must never
        # take the place of the build's own error.
        try:
            record.ended(stream.engine)
        except Exception:  # noqa: BLE001 - logged; the build's outcome stands
            log.warning("Recording the provenance of job %s failed", job.pk, exc_info=True)
    if state == Job.State.SUCCEEDED and not job.params.get("tags"):
        # Said last, where the log ends: nothing else names this image.
        output.write_lines([f"no tags: the image is untagged, id {image_id}"])
    return state, image_id, error


def _build_classic(job, stream, output, record):
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
        text = fetches.check_sent_context(arguments, job.params.get("build_args"))
        hosts = fetches.registries_named(text, job.params.get("build_args")) if text is not None else ()
        record.started(stream.engine, arguments, text)
        try:
            for message in stream.build(registry_config=registries.logins_for_hosts(hosts), **arguments):
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


# How often a BuildKit build's graph is stored while only its logs and
# transfer counters move; a vertex starting or ending is stored at once.
GRAPH_SECONDS = 0.25


def _build_buildkit(job, stream, output, record):
    supported, reason = builders.buildkit_support()
    if not supported:
        raise EngineError(f"This build chose BuildKit, but {reason}: choose the classic builder.")
    image_id, error = "", ""
    splitter = LineSplitter()  # the engine's own few `stream` lines ("Successfully tagged ...")
    with contexts.build_arguments(job.params) as arguments:
        text = fetches.check_sent_context(arguments, job.params.get("build_args"))
        record.started(stream.engine, arguments, text)
        graph = trace.BuildGraph(line_of=StageLines(text) if text else None)
        stored = [0.0]

        def emit(lines, force=False):
            output.write_lines(lines)
            now = time.monotonic()
            if graph.changed and (force or graph.urgent or now - stored[0] >= GRAPH_SECONDS):
                stored[0] = now
                vertices, transfers = graph.take_changes()
                output.update_graph(vertices, transfers, graph.snapshot())

        # The session lives exactly as long as the build: `with` closes it when
        # the build ends, fails or is cancelled (its stream shut by the Watchdog).
        with sessions.for_job(job, stream.engine) as session:
            try:
                for message in stream.build_buildkit(session=session.id, **_buildkit_options(arguments, job.params)):
                    kind = message.get("id")
                    if kind == trace.TRACE_ID:
                        emit(graph.feed(trace.decode(message.get("aux"))))
                    elif kind == trace.IMAGE_ID and isinstance(message.get("aux"), dict):
                        image_id = message["aux"].get("ID", image_id)
                    elif "error" in message:
                        emit(splitter.close())
                        error = _write_error(message, output)
                    elif "stream" in message:
                        emit(splitter.feed(message["stream"]))
            finally:
                emit(splitter.close() + graph.finish(succeeded=bool(image_id) and not error), force=True)
                record.builder_fetched(vertex["name"] for vertex in graph.snapshot()["vertices"])
    if error or not image_id:
        failed = graph.failed()
        error = error or "The engine ended the build without producing an image."
        if failed and failed[0]["line"]:
            error = f"{error} (Dockerfile line {failed[0]['line']}: {failed[0]['name']})"
        return Job.State.FAILED, "", error
    return Job.State.SUCCEEDED, image_id, ""


def _buildkit_options(arguments, params):
    """EngineStream.build_buildkit's arguments from the classic ones
    (contexts.build_arguments): a context tar as the body, or a git URL for the
    engine to clone; every tag given to the engine, which names the image with each."""
    options = {key: arguments.get(key) for key in ("dockerfile", "buildargs", "labels", "target", "nocache", "pull",
                                                    "network_mode", "encoding", "fileobj")}
    options["remote"] = arguments.get("path")
    options["tags"] = list(params.get("tags") or [])
    return options


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


def _index(job, stream, output):
    """Read the image's save stream and index each layer's files."""
    try:
        return Job.State.SUCCEEDED, indexing.index_image(stream, job.params["image_id"], output, job), ""
    except indexing.IndexingFailed as exc:
        output.write(f"ERROR: {exc}")
        return Job.State.FAILED, "", str(exc)


_RUNNERS = {Job.Kind.BUILD: _build, Job.Kind.PULL: _pull, Job.Kind.PUSH: _push, Job.Kind.IMPORT: _import,
            Job.Kind.INDEX: _index, Job.Kind.RUN: runs.run_container, Job.Kind.RETENTION: retention_apply.run_apply}


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
                if cancel and not self.stream.closed:
                    log.info("Cancelling job %s", self.job.pk)
                    self.stream.close()
                # Beats go on until the job ends: a run's container takes up to 10 s to stop.
        finally:
            connection.close()
