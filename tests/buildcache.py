"""BuildKit build-cache records of the tests' own, made on the real engine with
a BuildKit build sent straight to the engine API, and the engine's own list of
records read without Dockyard's code."""

import time
import uuid

import docker
from django.conf import settings

from images.engine import get_engine
from tests import dockerlib

MOUNT_BYTES = 64 * 1024


def engine_records(engine_name="default"):
    """The engine's build-cache records, by id, from its own /system/df (asked again
    while another disk usage runs on the shared engine: it allows one at a time)."""
    client = docker.APIClient(base_url=settings.DOCKYARD_ENGINES[engine_name])
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                return {record["ID"]: record for record in client.df().get("BuildCache") or []}
            except docker.errors.APIError as exc:
                if "already running" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
    finally:
        client.close()


def build_with_cache_mount(engine_name="default"):
    """Build `FROM` the base with a `RUN --mount=type=cache` writing 64 KiB into a
    directory named for this build, and markup in its command (the page must
    escape it). Returns the marker, the image id, the tag, and the engine's
    records of the build: the cache mount and the RUN's layer (shared with the image)."""
    marker = uuid.uuid4().hex[:10]
    target = f"/c-{marker}"
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  f"RUN --mount=type=cache,target={target} dd if=/dev/zero of={target}/f bs=1024 count=64 "
                  f"&& echo '<b>{marker}</b>' > /made-{marker}\n")
    tag = dockerlib.unique("build-cache") + ":1"
    image_id, errors = None, []
    for message in get_engine(engine_name).stream().build_buildkit(dockerlib.dockerfile_context(dockerfile), tags=[tag],
                                                        labels={dockerlib.TEST_LABEL: "1"}):
        if message.get("id") == "moby.image.id":
            image_id = message["aux"]["ID"]
        elif "error" in message:
            errors.append(message["error"])
    assert image_id and not errors, errors
    mine = [record for record in engine_records(engine_name).values() if marker in record["Description"]]
    mounts = [record for record in mine if record["Type"] == "exec.cachemount"]
    layers = [record for record in mine if record["Type"] == "regular"]
    # Gone at once only if something else pruned this engine's unused build cache meanwhile.
    assert mounts and layers, f"the build's records are not on the engine: {mine}"
    mount, layer = mounts[0], layers[0]
    return {"engine_name": engine_name, "marker": marker, "target": target, "image_id": image_id, "tag": tag, "mount": mount, "layer": layer}


def remove(made):
    """The build's records and image, gone without Dockyard (so without an audit entry)."""
    client = docker.APIClient(base_url=settings.DOCKYARD_ENGINES[made["engine_name"]])
    try:
        for record in (made["mount"], made["layer"]):
            client.prune_builds(filters={"id": f"^{record['ID']}$"}, all=True)
    finally:
        client.close()
    if made["engine_name"] == "default":  # the tests' own engine keeps its images until it stops
        dockerlib.docker("rmi", "-f", made["tag"], check=False)
