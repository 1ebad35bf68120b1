"""Runs: run an image, stop a run, see what it changed, save it as an image."""

import json

from ninja import Router, Schema, Status
from pydantic import Field

from images.accounts.roles import check
from images.api.auth import allowed
from images.api.errors import answer
from images.api.fields import ImageId
from images.api.schemas import Job, errors
from images.catalog import detail
from images.jobs import control
from images.jobs.access import job_for
from images.lifecycle import runs

router = Router(tags=["runs"])

# What a run never gets, by the names scripts (and docker-py, and the Engine API) give it.
NEVER = {name: what for what, names in {
    "published ports": ("ports", "publish", "publish_all", "port_bindings", "exposed_ports", "PortBindings"),
    "host mounts": ("mounts", "volumes", "binds", "volumes_from", "Binds", "Mounts", "tmpfs"),
    "devices": ("devices", "device_requests", "Devices"),
    "added capabilities": ("cap_add", "capabilities", "CapAdd", "security_opt"),
    "privileged mode": ("privileged", "Privileged", "userns_mode", "pid_mode", "ipc_mode"),
    "the host's network": ("network_mode", "NetworkMode", "host_network"),
}.items() for name in names}


class RunFields(Schema):
    command: list[str] | None = Field(None, description="argv, run without a shell; null: the image's own command.")
    shell: str | None = Field(None, description="A script for /bin/sh -c instead of `command`.")
    env: dict[str, str] = Field(default_factory=dict, description="Variables; only their names are shown and audited.")
    workdir: str = ""
    user: str = ""
    tty: bool = False
    memory_mb: int | None = Field(None, description="Default and most: DOCKYARD_RUN_MEMORY.")
    cpus: float | None = Field(None, description="Default and most: DOCKYARD_RUN_CPUS.")
    pids: int | None = Field(None, description="Default and most: DOCKYARD_RUN_PIDS.")
    timeout: int | None = Field(None, description="Seconds of wall time. Default and most: DOCKYARD_RUN_TIMEOUT.")
    network: str = Field("none", description="none, or a network DOCKYARD_RUN_NETWORKS names.")



def _unknown_fields(request):
    """{name: [reason]} for every field of the JSON body a run does not take: the
    schema would drop them silently, and a run asked for ports must hear no."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}  # the schema's own parsing answers for a body that is not JSON
    refused = {}
    for name in sorted(set(body) - set(RunFields.model_fields) if isinstance(body, dict) else ()):
        if name in NEVER:
            reason = (f"{name}: a run never gets {NEVER[name]}. Dockyard starts containers with no published ports, "
                      "host mounts, devices, added capabilities or privileges.")
        else:
            reason = f"{name}: not a field of a run."
        refused[name] = [{"message": reason, "code": "refused"}]
    return refused


class ChangeOut(Schema):
    path: str
    kind: str = Field(description="added, changed or deleted.")
    size: int | None = Field(description="Bytes of a file the run added or changed; null for directories and "
                                         "deleted paths.")


class CommitFields(Schema):
    reference: str = Field(description="repository:tag for the new image.")
    message: str = ""
    changes: list[str] = Field(default_factory=list,
                               description="Dockerfile lines: CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL, USER.")


class Committed(Schema):
    image_id: str
    reference: str


@router.post("/images/{imageid:image_id}/run", response={201: Job, **errors(400, 404, 429)}, auth=allowed("run"))
def image_run(request, image_id: ImageId, fields: RunFields):
    """Run an image.

    Starts a job of kind `run`: a container with no published ports, host mounts, devices, added capabilities or
    privileges, limited to the admin's memory, CPU, process and time caps, on no network unless one allowed is named.
    """
    refused = _unknown_fields(request)
    if refused:
        return answer(400, "Not run: " + " ".join(reasons[0]["message"] for reasons in refused.values()),
                      fields=refused)
    image = detail.image_summary(request.engine, image_id)
    try:
        params = runs.run_params(image.id, image.tags[0] if image.tags else "", argv=fields.command,
                                 shell=fields.shell, env=list(fields.env.items()), workdir=fields.workdir,
                                 user=fields.user, tty=fields.tty, memory_mb=fields.memory_mb, cpus=fields.cpus,
                                 pids=fields.pids, timeout=fields.timeout, network=fields.network)
    except runs.RunRefused as refused:
        return answer(400, f"Not run: {refused}", fields={refused.field: [{"message": str(refused), "code": "invalid"}]})
    return Status(201, control.start_run(request.user, params))


@router.post("/jobs/{int:pk}/stop", response={200: Job, 202: Job, **errors(404)}, auth=allowed("cancel_own_job"))
def run_stop(request, pk: int):
    """Stop a run.

    SIGTERM, then SIGKILL 10 s later. Answers 202 while it stops, 200 once it has ended.
    """
    job = job_for(request.user, pk)
    if not job.is_final:
        control.cancel(job, request.user)
        job.refresh_from_db()
    return Status(200 if job.is_final else 202, job)


@router.get("/jobs/{int:pk}/changes", response={200: list[ChangeOut], **errors(404, 409)}, auth=allowed("browse"))
def run_changes(request, pk: int):
    """What a run changed.

    Its container's file changes (`docker diff`), with the sizes of added and changed files.
    """
    job = job_for(request.user, pk)
    try:
        return [{"path": change.path, "kind": change.kind, "size": change.size} for change in runs.changes(job)]
    except runs.NoContainer as gone:
        return answer(409, str(gone))


@router.post("/jobs/{int:pk}/commit", response={201: Committed, **errors(400, 404, 409)}, auth=allowed("run"))
def run_commit(request, pk: int, fields: CommitFields):
    """Save a run as an image.

    `docker commit` of the run's container (its owner's, or an admin's), tagged `reference`; its tag history says
    commit, and its labels name the run and the image it ran.
    """
    job = job_for(request.user, pk, "cancel")
    check(request.user, "run", target=f"job {job.pk}", engine=job.engine)
    try:
        image_id = runs.commit(job, request.user, fields.reference.strip(), fields.message, fields.changes)
    except runs.CommitRefused as refused:
        return answer(400, f"Not saved: {refused}")
    except runs.NoContainer as gone:
        return answer(409, str(gone))
    return Status(201, {"image_id": image_id, "reference": fields.reference.strip()})
