"""Builds run by a real Celery worker against the real engine. Those that read
the classic builder's own output (its `Step N/M` steps, a program's lines as
they are, its build container) choose it; BuildKit's twins are in
tests/test_buildkit_builds.py."""

import re
import time

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from images.jobs import logstore
from images.models import AuditEntry, Job
from tests import dockerlib
from tests.live import job_from, start_build, wait_for_job, wait_for_lines

pytestmark = pytest.mark.usefixtures("worker")



def stored(job):
    return logstore.lines(job)


def test_it_builds_and_stores_every_line_in_order(builder_client):
    tag = dockerlib.unique("lines") + ":1"
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\n"
        "RUN for i in $(seq 1 200); do echo \"line $i\"; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), tags=tag, builder="classic"))
    assert job.state == "succeeded", job.error
    assert job.image_id == dockerlib.image_id(tag)
    lines = stored(job)
    assert [seq for seq, _, _ in lines] == list(range(1, len(lines) + 1))
    printed = [text for _, text, _ in lines if text.startswith("line ")]
    assert printed == [f"line {i}" for i in range(1, 201)]
    assert len(job.steps) == 3 and all(step["status"] in ("done", "cached") for step in job.steps)
    assert [step["instruction"] for step in job.steps][1].startswith("RUN for i in")
    assert job.line_count == len(lines)


def test_it_tags_every_requested_tag(builder_client):
    repo = dockerlib.unique("tags")
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=1\n",
                                   tags=f"{repo}:a, {repo}:b\n{repo}:c"))
    assert job.state == "succeeded", job.error
    assert {dockerlib.image_id(f"{repo}:{t}") for t in "abc"} == {job.image_id}


def test_a_build_without_tags_says_its_image_is_untagged(builder_client):
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\nLABEL {dockerlib.TEST_LABEL}=untagged\n"))
    assert job.state == "succeeded", job.error
    assert dockerlib.docker("image", "inspect", "--format", "{{len .RepoTags}}", job.image_id).strip() == "0"
    said = f"no tags: the image is untagged, id {job.image_id}"
    assert stored(job)[-1][1] == said
    page = builder_client.get(job.get_absolute_url()).content.decode()
    assert said.lower() in " ".join(re.sub(r"<[^>]+>", "", page.split('id="job-untagged"', 1)[1].split("</p>", 1)[0]).split()).lower()


def test_a_failing_run_step_fails_the_job_with_the_engines_message(builder_client):
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nRUN echo about to fail && exit 3\nLABEL {dockerlib.TEST_LABEL}=1\n"), builder="classic"))
    assert job.state == "failed"
    assert "returned a non-zero code: 3" in job.error
    assert "about to fail" in [text for _, text, _ in stored(job)]
    failed = [step for step in job.steps if step["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["instruction"] == "RUN echo about to fail && exit 3"
    assert "non-zero code: 3" in failed[0]["error"]


def test_a_bad_instruction_fails_the_job(builder_client):
    job = wait_for_job(start_build(builder_client, f"FROMM {dockerlib.BASE_IMAGE}\n"))
    assert job.state == "failed"
    assert "unknown instruction: fromm" in job.error.lower()


def test_multibyte_output_and_invalid_bytes_are_kept(builder_client):
    text = "héllo wörld 漢字テキスト 🚢⚓ ÿ"
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\n"
        f"RUN for i in $(seq 1 100); do echo \"$i {text}\"; done; printf 'bad \\377\\376 bytes\\n'\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), builder="classic"))
    assert job.state == "succeeded", job.error
    texts = [t for _, t, _ in stored(job)]
    assert [t for t in texts if text in t and not t.startswith("Step ")] == [f"{i} {text}" for i in range(1, 101)]
    bad = [t for t in texts if t.startswith("bad ")]
    assert bad == ["bad \ufffd\ufffd bytes"]


def test_output_over_the_cap_keeps_head_and_tail(builder_client, settings):
    settings.DOCKYARD_JOB_OUTPUT_LIMIT = 16 * 1024
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in $(seq 1 5000); do echo \"row $i\"; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), builder="classic"))
    assert job.state == "succeeded", job.error
    texts = [t for _, t, _ in stored(job)]
    assert "row 1" in texts and "row 5000" in texts
    assert "row 2500" not in texts
    assert sum(len(t) + 1 for t in texts) <= 16 * 1024
    assert job.clipped_after is not None and job.clipped_before > job.clipped_after + 1
    assert job.clipped_lines > 3000
    log = b"".join(builder_client.get(reverse("jobs-log", args=[job.pk])).streaming_content).decode()
    assert f"{job.clipped_lines:,} lines" in log and "clipped here" in log
    before, after = log.split("clipped here", 1)
    assert "row 1\n" in before and "row 5000\n" in after


def test_cancel_stops_a_running_build(builder_client):
    tag = dockerlib.unique("cancel") + ":1"
    job = start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in $(seq 1 120); do echo tick $i; sleep 1; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), tags=tag, builder="classic")
    wait_for_job(job, states=("running",))
    while "tick 2" not in [t for _, t, _ in stored(job)]:
        wait_for_lines(job, logstore.count(job) + 1)
    response = builder_client.post(reverse("jobs-cancel", args=[job.pk]))
    assert response.status_code == 302
    job = wait_for_job(job, timeout=10)
    assert job.state == "cancelled"
    assert dockerlib.docker("images", "-q", tag).strip() == ""
    # The engine kills and removes the build's container once the stream closes.
    deadline = time.monotonic() + 10
    while dockerlib.docker("ps", "-aq", "--filter", f"ancestor={dockerlib.BASE_IMAGE}", "--filter", "status=running"):
        assert time.monotonic() < deadline, "the build's container is still running"
        time.sleep(0.2)


@pytest.mark.unaudited("the job is made directly, as one the worker has not reached yet")
def test_cancel_of_a_queued_job_is_immediate(builder, builder_client):
    job = Job.objects.create(kind="build", target="x", params={}, output_limit=1000, created_by=builder)
    builder_client.post(reverse("jobs-cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == "cancelled"


def test_a_job_delivered_twice_runs_once(builder_client, worker):
    from images.tasks import run_job_task

    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\nRUN echo once\n"))
    lines = stored(job)
    again = run_job_task.apply_async((job.pk,), queue=django_settings.DOCKYARD_QUEUE)
    run_job_task.apply((job.pk,))  # and once more in this process
    # The worker is done with the second delivery once its log says so.
    deadline = time.monotonic() + 30
    while f"[{again.id}] succeeded".encode() not in worker.log_path.read_bytes():
        assert time.monotonic() < deadline, "the worker did not take the second delivery"
        time.sleep(0.1)
    job.refresh_from_db()
    assert job.state == "succeeded" and stored(job) == lines


def test_the_job_page_links_to_the_image_and_rebuild_reruns_the_recipe(builder_client):
    tag = dockerlib.unique("rebuild") + ":1"
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nARG WHO\nRUN echo built by $WHO\nLABEL {dockerlib.TEST_LABEL}=1\n"),
        tags=tag, build_args="WHO=tests", builder="classic"))
    page = builder_client.get(reverse("jobs-detail", args=[job.pk])).content.decode()
    assert reverse("images-detail", args=[job.image_hex]) in page
    image_page = builder_client.get(reverse("images-detail", args=[job.image_hex])).content.decode()
    assert "Rebuild" in image_page and f"build #{job.pk}" in image_page
    response = builder_client.post(reverse("images-rebuild", args=[job.image_hex]))
    again = job_from(response)
    assert again.retry_of_id == job.pk and again.params == job.params
    again = wait_for_job(again)
    assert again.state == "succeeded" and again.image_id == job.image_id  # same recipe, same cache
    assert "built by tests" in [t for _, t, _ in stored(job)]
    audited = AuditEntry.objects.filter(job__in=[job, again]).order_by("pk")
    assert [(e.action, e.target, e.outcome, e.actor_name) for e in audited] == [
        ("build", tag, "succeeded", "builder"), ("rebuild", tag, "succeeded", "builder")]
    assert audited[0].detail == "from dockerfile typed on the page; build args WHO"  # the name, never the value
    assert audited[1].detail.startswith(f"again from the recipe of job {job.pk}")


def test_images_not_built_here_offer_a_dockerfile_build(builder_client, base_image):
    page = builder_client.get(reverse("images-detail", args=[base_image.split(":")[1]])).content.decode()
    assert "Rebuild is unavailable" in page
    assert (f"?tag={dockerlib.BASE_REPOSITORY}%3Alatest" in page or f"?tag={dockerlib.BASE_IMAGE}" in page)
