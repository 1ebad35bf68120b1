"""Bench rows 50 and 51: the retention dry run over many tags, and the
quarantine's save against `docker save` of the same image."""

import io
import os
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from bench.floors import engine_calls
from bench.report import fmt, in_turn, median, record
from images.accounts import roles
from images.engine import get_engine
from images.lifecycle import quarantine
from images.models import QuarantinedImage, RetentionRule
from tests import dockerlib

PREFIX = "dockyard-bench"
DRY_RUN_IMAGES = int(os.environ.get("BENCH_RETENTION_IMAGES", 400))
DRY_RUN_TAGS = int(os.environ.get("BENCH_RETENTION_TAGS", 2000))
REPOSITORIES = 40
QUARANTINE_MB = int(os.environ.get("BENCH_QUARANTINE_MB", 256))


def _build_with_file(index):
    """A small image with a layer of its own (COPY runs no container, so 400 of them build quickly)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("Dockerfile", f"FROM {dockerlib.BASE_IMAGE}\nCOPY own /own\n".encode()),
                           ("own", f"retention bench image {index} {os.getpid()}\n".encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    output = dockerlib.docker("build", "-q", "--label", f"{dockerlib.TEST_LABEL}=1", "-", input=buffer.getvalue())
    return output.strip().splitlines()[-1]


def scenario_dry_run(dockyard, user):
    """GET /api/retention/dry-run over HTTP with rules governing DRY_RUN_TAGS tags on DRY_RUN_IMAGES images in
    REPOSITORIES repositories, against the engine's own image and container lists (the floor: what any dry run
    must read)."""
    print(f"Building {DRY_RUN_IMAGES} images for the dry run…", flush=True)
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(_build_with_file, range(DRY_RUN_IMAGES)))
    api = get_engine().api
    for t in range(DRY_RUN_TAGS):
        api.tag(ids[t % len(ids)], f"{PREFIX}/ret-{t % REPOSITORIES}", f"v{t}")
    roles.assign(user, roles.ADMIN)  # rules are an admin's (prune)
    rules = [RetentionRule.objects.create(repository_pattern=f"{PREFIX}/ret-*", keep_last=10, created_by=user),
             RetentionRule.objects.create(repository_pattern=f"{PREFIX}/ret-1[0-9]", keep_pattern=r"v1[0-9]*",
                                          keep_days=0, created_by=user)]
    try:
        dry_run = dockyard.api_get("/api/retention/dry-run")
        started = time.perf_counter()
        dry_run()  # the first reads every image's layers once (kept by image id afterwards)
        cold = time.perf_counter() - started
        runs = in_turn({"dockyard": dry_run, "floor": engine_calls("/images/json", "/containers/json?all=1")},
                       warm=True)
        record(f"50. Retention dry run over HTTP, {DRY_RUN_TAGS:,} tags on {DRY_RUN_IMAGES} images, "
               f"{REPOSITORIES} repositories", runs["dockyard"], "<500 ms", median(runs["dockyard"]) < 0.5,
               floor=("the engine's image and container lists", runs["floor"]),
               detail=f"first dry run (every image's layers asked once) {fmt(cold)}")
    finally:
        roles.assign(user, roles.BUILDER)
        for rule in rules:
            rule.delete()
        for t in range(DRY_RUN_TAGS):
            dockerlib.docker("rmi", f"{PREFIX}/ret-{t % REPOSITORIES}:v{t}", check=False)
        dockerlib.docker("rmi", *ids, check=False)


def scenario_quarantine_save():
    """quarantine.keep (the engine's save stream, written to the quarantine as it comes) against
    `docker save -o` of the same image into the same directory."""
    tag = f"{PREFIX}/quarantine:1"
    print(f"Building a {QUARANTINE_MB} MB image…", flush=True)
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN head -c {QUARANTINE_MB * 2**20} /dev/urandom > /blob\n",
                    tags=[tag])
    engine = get_engine()
    image = next(entry for entry in engine.list_images() if tag in (entry.get("RepoTags") or []))
    directory = quarantine.directory(engine.name)
    cli_path = directory / "cli-save.tar"
    sizes = []

    def ours():
        record_ = quarantine.keep(engine.stream(), image)
        assert record_.state == QuarantinedImage.State.KEPT, record_.reason
        sizes.append(record_.size)

    def forget():
        for found in QuarantinedImage.objects.filter(image_id=image["Id"]):
            if found.file:
                (quarantine.directory(found.engine) / found.file).unlink(missing_ok=True)
            found.delete()
        cli_path.unlink(missing_ok=True)

    try:
        runs = in_turn({"dockyard": ours, "cli": lambda: subprocess.run(
            ["docker", "save", "-o", str(cli_path), tag], env=dockerlib.CLI_ENV, check=True)}, before=forget)
    finally:
        forget()
        dockerlib.docker("rmi", tag, check=False)
    record(f"51. Quarantine save of a {QUARANTINE_MB} MB image", runs["dockyard"], "≤1.2× docker save",
           median(runs["dockyard"]) <= 1.2 * median(runs["cli"]),
           reference=("`docker save -o` to the same directory", runs["cli"]),
           detail=f"{sizes[0] / 1e6:.0f} MB archive; cap {settings.DOCKYARD_QUARANTINE_MAX / 1e9:g} GB")
