"""Large bodies in and out of the real server: a build context uploaded to the
API and the build page, and an image exported, each go through with the
memory of every Dockyard process bounded, far below the body's size, and
arrive byte for byte; an upload is written to disk once."""

import hashlib
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from images.jobs import logstore
from images.models import ApiToken, Job
from tests import bodies, dockerlib, live
from tests.live import wait_for_job

pytestmark = [pytest.mark.usefixtures("worker"), pytest.mark.timeout(600)]

BODY = 300 * 1024 * 1024
# What a process may gain over its resting size while a body passes through it:
# a few buffers of flow control, nothing that grows with the body.
ALLOWED_GROWTH = BODY // 6
# What the server may write while an upload passes through it: the one file
# the context is kept in (written again, to a spool and then a copy, it took
# most of the upload's time).
ALLOWED_WRITES = BODY * 3 // 2
LOG_LINES = 500_000  # about 50 MB


@pytest.fixture
def scratch():
    folder = Path(settings.DATA_DIR) / "test-large-bodies"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


@pytest.fixture
def context_upload(scratch):
    """A multipart body on disk holding a build context of BODY bytes whose
    Dockerfile prints the sha256 of the blob it carries."""
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\nCOPY blob /blob\nRUN sha256sum /blob && rm /blob\n"
                  f"LABEL {dockerlib.TEST_LABEL}=1\n")
    path, digest = bodies.context_body(scratch / "body", BODY, dockerfile, {
        "source": "upload", "tags": dockerlib.unique("large") + ":1", "dockerfile": "Dockerfile",
    })
    return path, digest


def _engine_saw(job):
    return [line for line in live.printed_lines(logstore.texts(job)) if line.endswith("  /blob")]


def test_it_takes_a_large_context_through_the_api_with_bounded_memory(server, worker, builder, context_upload):
    path, digest = context_upload
    _, token = ApiToken.issue(builder, "large")
    with bodies.PeakMemory(server, worker) as peaks:
        with bodies.Written(server) as written:
            status, body = bodies.post_file(server, "/api/builds", path, {"Authorization": f"Bearer {token}"})
        assert status == 201, body
        job = wait_for_job(Job.objects.get(pk=bodies.json_id(body)), timeout=300)
    assert job.state == "succeeded", job.error
    assert _engine_saw(job) == [f"{digest}  /blob"]
    print(peaks.report(), f"server wrote {written.bytes / 2**20:.0f} MB")
    peaks.assert_growth_below(ALLOWED_GROWTH)
    assert written.bytes < ALLOWED_WRITES
    dockerlib.docker("rmi", job.image_id, check=False)


def test_it_takes_a_large_context_through_the_build_page_with_bounded_memory(server, worker, builder_client,
                                                                              builder_session, context_upload):
    path, digest = context_upload
    csrf = builder_client.get("/build/").cookies["csrftoken"].value
    with bodies.PeakMemory(server, worker) as peaks:
        with bodies.Written(server) as written:
            status, _ = bodies.post_file(server, "/build/", path, {
                "Cookie": f"sessionid={builder_session}; csrftoken={csrf}", "X-CSRFToken": csrf,
                "Origin": server.url, "Referer": f"{server.url}/build/",
            })
        assert status == 302
        job = wait_for_job(Job.objects.latest("pk"), timeout=300)
    assert job.state == "succeeded", job.error
    assert _engine_saw(job) == [f"{digest}  /blob"]
    print(peaks.report(), f"server wrote {written.bytes / 2**20:.0f} MB")
    peaks.assert_growth_below(ALLOWED_GROWTH)
    assert written.bytes < ALLOWED_WRITES
    dockerlib.docker("rmi", job.image_id, check=False)


@pytest.mark.parametrize("via", ["page", "api"])
def test_it_exports_a_large_image_with_bounded_memory_to_a_slow_reader(server, worker, builder, builder_session,
                                                                       base_image, via):
    tag = dockerlib.unique("large-export") + ":1"
    dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN head -c {BODY} /dev/urandom > /blob\n", tags=[tag])
    try:
        expected = _docker_save_sha256(tag)
        hex_id = dockerlib.image_id(tag).split(":")[1]
        if via == "page":
            path, headers = f"/images/{hex_id}/export", {"Cookie": f"sessionid={builder_session}"}
        else:
            _, token = ApiToken.issue(builder, "export")
            path, headers = f"/api/images/{hex_id}/export", {"Authorization": f"Bearer {token}"}
        with bodies.PeakMemory(server, worker) as peaks:
            # A reader that waits before it reads: a server that does not wait for
            # its client would hold everything the engine sends meanwhile.
            status, size, digest = bodies.get(server, path, headers, pause=5)
        assert status == 200
        assert digest == expected and size > BODY
        print(peaks.report())
        peaks.assert_growth_below(ALLOWED_GROWTH)
    finally:
        dockerlib.docker("rmi", tag, check=False)


def _docker_save_sha256(tag):
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE, env=dockerlib.CLI_ENV)
    digest = hashlib.sha256()
    while chunk := save.stdout.read(1 << 20):
        digest.update(chunk)
    assert save.wait() == 0
    return digest.hexdigest()


@pytest.mark.unaudited("the job and its lines are made directly, to have a large log quickly")
def test_it_streams_a_large_job_log_with_bounded_memory(server, worker, builder, builder_session):
    # Rows, not bytes, fill this one: under ASGI a plain StreamingHttpResponse
    # would make a list of every line before the first went out.
    lines = [f"line {seq} " + "x" * 90 for seq in range(1, LOG_LINES + 1)]
    job = Job.objects.create(kind="build", target="log", params={}, output_limit=BODY, state="succeeded",
                             created_by=builder, line_count=LOG_LINES)
    logstore.store(job.pk, [(seq, text, 0) for seq, text in enumerate(lines, 1)])
    with bodies.PeakMemory(server) as peaks:
        status, size, digest = bodies.get(server, f"/jobs/{job.pk}/log.txt", {"Cookie": f"sessionid={builder_session}"},
                                          pause=2)
    assert status == 200
    assert digest == hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()
    print(peaks.report())
    peaks.assert_growth_below(size // 2)
