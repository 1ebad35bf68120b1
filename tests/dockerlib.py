"""Test images made with the docker CLI on the real engine.

Tests check Dockyard against what the CLI says, so the fixtures make their
images with the CLI rather than through the code under test. Every image they
make carries the run's label `dockyard.test.<run>` and a `dockyard-test/` name,
and only those are removed afterwards.
"""

import io
import json
import os
import re
import subprocess
import tarfile
import uuid

# Every run labels, names and removes only its own images, so that two runs on
# one engine (two checkouts), or a run beside someone's own builds, never touch
# each other's. DOCKYARD_TEST_RUN names the run, a fresh id when unset; the
# processes the run starts (tests/live.py) inherit it from the environment.
RUN = re.sub(r"[^a-z0-9-]", "", os.environ.get("DOCKYARD_TEST_RUN", "").lower())[:40] or uuid.uuid4().hex[:8]
os.environ["DOCKYARD_TEST_RUN"] = RUN
TEST_LABEL = f"dockyard.test.{RUN}"
PREFIX = "dockyard-test"
BASE_REPOSITORY = f"{PREFIX}/base-{RUN}"
BASE_IMAGE = f"{BASE_REPOSITORY}:latest"
CLI_ENV = {**os.environ, "DOCKER_BUILDKIT": "0"}


def docker(*args, input=None, check=True):
    result = subprocess.run(
        ["docker", *args], input=input, capture_output=True, env=CLI_ENV, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout.decode()


def busybox_rootfs():
    """A tar of a root filesystem holding Debian's static busybox and a link per
    applet, so RUN steps have a shell."""
    busybox = "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("bin", "tmp", "etc"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def import_base_image():
    docker("import", "-c", f"LABEL {TEST_LABEL}=base", "-c", 'CMD ["sh"]', "-", BASE_IMAGE,
           input=busybox_rootfs())
    return image_id(BASE_IMAGE)


def build(dockerfile, tags=(), build_args=None, context_files=None):
    """Build with the classic builder from a Dockerfile text; return the image id."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        files = {"Dockerfile": dockerfile, **(context_files or {})}
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    args = ["build", "-q", "--label", f"{TEST_LABEL}=1"]
    for tag in tags:
        args += ["-t", tag]
    for key, value in (build_args or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    output = docker(*args, "-", input=buffer.getvalue())
    return output.strip().splitlines()[-1]


def build_buildkit(dockerfile, tags=(), build_args=None):
    """Build with BuildKit (`POST /build?version=2`, straight to the Engine API:
    the CLI here has no buildx); return the image id."""
    import docker

    client = docker.APIClient(base_url=os.environ.get("DOCKER_HOST") or None)
    params = [("version", "2"), ("labels", json.dumps({TEST_LABEL: "1"})), ("rm", "1"), ("forcerm", "1")]
    params += [("t", tag) for tag in tags]
    if build_args:
        params.append(("buildargs", json.dumps(build_args)))
    try:
        response = client._post(client._url("/build"), params=params, data=dockerfile_context(dockerfile).read(),
                                stream=True, headers={"Content-Type": "application/tar"})
        client._raise_for_status(response)
        messages = list(client._stream_helper(response, decode=True))
    finally:
        client.close()
    errors = [message["error"] for message in messages if "error" in message]
    ids = [message["aux"]["ID"] for message in messages if message.get("id") == "moby.image.id"]
    assert ids and not errors, errors
    return ids[-1]


def image_config(reference):
    """The image's config as `docker save` carries it (`<id>.json`): its history
    with the `empty_layer` marks that `docker history` leaves out, and its rootfs."""
    hex_id = image_id(reference).split(":", 1)[1]
    saved = subprocess.run(["docker", "save", reference], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
        return json.load(tar.extractfile(f"{hex_id}.json"))


def image_id(reference):
    return docker("image", "inspect", "--format", "{{.Id}}", reference).strip()


def unique(name):
    return f"{PREFIX}/{name}-{uuid.uuid4().hex[:8]}"


def history(reference):
    """`docker history` rows as the CLI prints them, newest first."""
    out = docker("history", "--no-trunc", "--format", "{{json .}}", reference)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def remove_test_images():
    containers = docker("ps", "-aq", "--filter", f"label={TEST_LABEL}").split()
    if containers:
        docker("rm", "-f", *containers, check=False)
    # Children before parents: repeat while removals make progress.
    for _ in range(5):
        ids = docker("images", "-aq", "--filter", f"label={TEST_LABEL}").split()
        if not ids:
            return
        docker("rmi", "-f", *dict.fromkeys(ids), check=False)


def own_images():
    """This run's images (its label, which every image built FROM its base
    inherits) with their tags: what a refused request must leave as it was.
    Everyone else's images on the engine are theirs to change meanwhile."""
    from images.engine import get_engine

    return sorted((image["Id"], tuple(sorted(image.get("RepoTags") or [])))
                  for image in get_engine().list_images() if TEST_LABEL in (image.get("Labels") or {}))


def existing(*references):
    """Those of `references` that name an image on the engine: a refused request
    must not have made the names it asked for."""
    return [reference for reference in references
            if docker("image", "inspect", "--format", "{{.Id}}", reference, check=False).strip()]


def dockerfile_context(dockerfile):
    """A build context tar holding only `dockerfile`, as a file object at its start."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer
