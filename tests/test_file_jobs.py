"""Index jobs around the others: started after a build, pull or import
(DOCKYARD_INDEX_AFTER_JOBS), retried, and the indexes of images that are gone
removed by the periodic task."""

import time
import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from images.accounts import roles
from images.engine import get_engine
from images.files import cleanup
from images.jobs import control
from images.models import ImageIndex, Job, LayerIndex
from tests import dockerlib, live


@pytest.fixture
def own_worker(live_settings, base_image, transactional_db):
    """Start a worker of this test's own, on a queue of its own, with settings of its own."""
    workers = []

    def start(**settings):
        queue = f"dockyard-test-index-{uuid.uuid4().hex[:8]}"
        overridden = override_settings(DOCKYARD_QUEUE=queue)
        overridden.enable()
        workers.append((overridden, live.Worker(live.process_env(queue, live_settings["prefix"], **settings),
                                                "test-worker-index.log")))
        return workers[-1][1]

    yield start
    for overridden, worker in workers:
        worker.stop()
        overridden.disable()


@pytest.fixture
def indexing_worker(own_worker):
    return own_worker(DOCKYARD_INDEX_AFTER_JOBS="1")


def test_a_build_is_followed_by_the_index_of_its_image(indexing_worker, builder_client, builder):
    tag = dockerlib.unique("autoindex") + ":1"
    build = live.start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\nRUN echo hi > /hi\n", tags=tag)
    live.wait_for_job(build)
    assert build.state == "succeeded", build.error
    deadline = timezone.now() + timedelta(seconds=60)
    while not Job.objects.filter(kind="index").exists() and timezone.now() < deadline:
        time.sleep(0.1)
    index_job = live.wait_for_job(Job.objects.get(kind="index"))
    assert index_job.state == "succeeded", index_job.error
    # Named for the image, not by its bare id, and audited as Dockyard's own doing after the build.
    assert (index_job.target, index_job.created_by) == (f"{tag} ({build.image_id[7:19]})", builder)
    assert ImageIndex.objects.filter(image_id=build.image_id).exists()
    entry = index_job.audit_entries.get()
    assert (entry.via, entry.address) == ("auto", None)
    assert f"automatic, after job {build.pk}" in entry.detail


def finished(kind, user, image_id):
    return Job.objects.create(kind=kind, state="succeeded", target="x", image_id=image_id, created_by=user,
                              output_limit=1000)


@pytest.mark.unaudited("the finished jobs stand for ones a worker ran")
@pytest.mark.parametrize("kind, follows", [("build", True), ("pull", True), ("import", True), ("push", False),
                                           ("index", False)])
def test_which_jobs_an_index_follows(builder, settings, kind, follows):
    settings.DOCKYARD_INDEX_AFTER_JOBS = True
    started = control.index_after(finished(kind, builder, "sha256:" + "a" * 64))
    assert (started is not None) == follows
    if follows:
        assert (started.kind, started.target, started.created_by) == ("index", "untagged image " + "a" * 12, builder)
        assert started.params["image_id"] == "sha256:" + "a" * 64


@pytest.mark.unaudited("the finished jobs stand for ones a worker ran")
def test_no_index_follows_when_it_is_off_indexed_already_or_not_allowed(builder, settings):
    image_id = "sha256:" + "b" * 64
    settings.DOCKYARD_INDEX_AFTER_JOBS = False
    assert control.index_after(finished("build", builder, image_id)) is None
    settings.DOCKYARD_INDEX_AFTER_JOBS = True
    ImageIndex.objects.create(image_id=image_id)
    assert control.index_after(finished("build", builder, image_id)) is None
    roles.assign(builder, roles.VIEWER)
    builder = type(builder).objects.get(pk=builder.pk)  # as the worker loads it, without the old permissions
    assert control.index_after(finished("pull", builder, "sha256:" + "c" * 64)) is None
    assert not Job.objects.filter(kind="index").exists()


@pytest.mark.unaudited("the failed job stands for one a worker ran")
def test_a_failed_index_can_be_retried(builder, base_image):
    failed = Job.objects.create(kind="index", state="failed", target=base_image, params={"image_id": base_image},
                                created_by=builder, output_limit=1000)
    again = control.retry(failed, builder)
    assert (again.kind, again.params, again.retry_of) == ("index", {"image_id": base_image}, failed)


@pytest.mark.unaudited("the indexes stand for ones index jobs made")
def test_the_indexes_of_removed_images_go_and_shared_layers_stay(db, base_image):
    old = timezone.now() - timedelta(hours=2)
    present = dockerlib.image_id(dockerlib.BASE_IMAGE)
    gone = "sha256:" + "d" * 64
    for diff_id in ("sha256:shared", "sha256:only-gone", "sha256:fresh"):
        LayerIndex.objects.create(diff_id=diff_id, entry_count=0, total_size=0, tar_size=0, head_digest="",
                                  entries=b"", indexed_at=timezone.now() if diff_id.endswith("fresh") else old)
    ImageIndex.objects.create(image_id=present, diff_ids=["sha256:shared"])
    ImageIndex.objects.create(image_id=gone, diff_ids=["sha256:shared", "sha256:only-gone"])
    assert cleanup.remove_unused(get_engine()) == (1, 1)
    assert set(ImageIndex.objects.values_list("image_id", flat=True)) == {present}
    # "fresh" belongs to no image yet, but may be an index job's, still running
    assert set(LayerIndex.objects.values_list("diff_id", flat=True)) == {"sha256:shared", "sha256:fresh"}


@pytest.mark.unaudited("the index stands for one an index job made")
def test_celery_beat_sends_the_removal_and_the_worker_does_it(transactional_db, scheduler):
    gone = "sha256:" + "e" * 64
    ImageIndex.objects.create(image_id=gone, diff_ids=[])
    deadline = time.monotonic() + 60
    while ImageIndex.objects.filter(image_id=gone).exists():
        assert time.monotonic() < deadline, "no removal came from the schedule"
        time.sleep(0.2)
    assert b"Sending due task images.tasks.remove_unused_file_indexes" in scheduler.log_path.read_bytes()


@pytest.mark.usefixtures("worker")
def test_cancel_stops_an_index_and_stores_nothing(own_worker, builder_client):
    from django.urls import reverse

    # From the engine's layer records an index takes milliseconds: cancel one reading the save stream.
    own_worker(DOCKYARD_INDEX_LAYER_RECORDS="0")
    # 1 GB of a sparse file: the engine takes seconds to gather it before the first byte.
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN truncate -s 1000000000 /big\n")
    job = live.job_from(builder_client.post(reverse("files-index", args=[image.split(":")[1]])))
    live.wait_for_job(job, states=("running",))
    assert builder_client.post(reverse("jobs-cancel", args=[job.pk])).status_code == 302
    job = live.wait_for_job(job, timeout=60)
    assert (job.state, job.error) == ("cancelled", "Cancelled by request.")
    assert not ImageIndex.objects.filter(image_id=image).exists()
    # Its own layer is the one no other job could index: the suite's worker may
    # still be indexing, after their builds, other tests' images on the same base.
    own_layer = get_engine().inspect_image(image)["RootFS"]["Layers"][-1]
    assert not LayerIndex.objects.filter(diff_id=own_layer).exists()
