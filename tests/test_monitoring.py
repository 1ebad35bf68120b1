"""/healthz says which part is down; /metrics counts what every process did,
for scrapers allowed to read it."""

import re
import socket

import pytest
from django.test import override_settings
from django.urls import reverse

from images.jobs import logstore
from tests import dockerlib
from tests.live import JobSocket, start_build, wait_for_job


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sample(text, name, **labels):
    """The value of one sample in a Prometheus text page, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{([^}]*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
            if found == wanted:
                return float(match.group(3))
    return 0.0


@pytest.mark.usefixtures("worker")
def test_healthz_answers_200_when_every_part_answers(client, db):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {"database", "redis", "engine default"} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.usefixtures("worker")
def test_healthz_names_a_queue_no_worker_serves(client, db):
    with override_settings(DOCKYARD_QUEUE="dockyard-test-nobody-serves-this"):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    check = body["checks"]["workers for dockyard-test-nobody-serves-this"]
    assert not check["ok"] and "no worker" in check["detail"]
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]


def test_healthz_names_an_engine_that_does_not_answer(client, db, tmp_path):
    missing = f"unix://{tmp_path}/no-engine.sock"
    with override_settings(DOCKYARD_ENGINES={"default": missing}):
        response = client.get("/healthz")
    assert response.status_code == 503
    check = response.json()["checks"]["engine default"]
    assert not check["ok"] and "no-engine.sock" in check["detail"]


def test_healthz_names_redis_without_its_password(client, db, settings):
    # A closed port on loopback: nothing listens there, so the connection is refused.
    url = f"redis://:hunter2-not-real@127.0.0.1:{_free_port()}/0"
    with override_settings(REDIS_URL=url):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert not body["checks"]["redis"]["ok"] and body["checks"]["database"]["ok"]
    assert "hunter2" not in response.content.decode()


def test_metrics_are_for_allowed_addresses_or_the_token(client, db):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    with override_settings(DOCKYARD_METRICS_TOKEN="scrape-me-please"):
        assert client.get("/metrics", REMOTE_ADDR="192.0.2.7",
                          HTTP_AUTHORIZATION="Bearer scrape-me-please").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="192.0.2.7",
                          HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@pytest.mark.usefixtures("worker")
def test_metrics_count_jobs_durations_lines_and_engine_calls_across_processes(client, builder_client,
                                                                              builder_session, server):
    before = client.get("/metrics").content.decode()
    builder_client.get(reverse("images-list"))  # engine calls made in this process
    job = wait_for_job(start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\nRUN for i in 1 2 3 4 5; do echo line $i; done\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n")))
    assert job.state == "succeeded", job.error
    viewer = JobSocket(server, builder_session, job.pk)  # lines delivered by the server process
    received = [event for event in viewer.events() if event["type"] == "lines"]
    viewer.close()
    delivered = sum(len(event["lines"]) for event in received)
    assert delivered == logstore.count(job)

    after = client.get("/metrics").content.decode()
    assert _sample(after, "dockyard_jobs", engine="default", state="succeeded", kind="build") >= 1
    # the worker observed the job's duration; the server counted what it sent
    assert _sample(after, "dockyard_job_duration_seconds_count", kind="build", state="succeeded") == (
        _sample(before, "dockyard_job_duration_seconds_count", kind="build", state="succeeded") + 1)
    assert _sample(after, "dockyard_lines_delivered_total") >= _sample(before, "dockyard_lines_delivered_total") + delivered
    assert _sample(after, "dockyard_engine_call_seconds_count", engine="default", call="list_images") > _sample(
        before, "dockyard_engine_call_seconds_count", engine="default", call="list_images")
    assert "dockyard_queue_depth" in after and "dockyard_open_streams" in after
