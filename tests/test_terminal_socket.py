"""A run's terminal websocket as a script opens it: with an API token in the
Authorization header, through the real server, worker and engine. What a
watcher sends reaches the container as nothing; a shell's output is not stored."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from images.jobs import control, logstore
from images.lifecycle import runs
from images.models import ApiToken, AuditEntry
from tests import dockerlib
from tests.conftest import make_user
from tests.live import wait_for_job

pytestmark = pytest.mark.usefixtures("worker")


def start_tty_run(user, **options):
    image_id = dockerlib.image_id(dockerlib.BASE_IMAGE)
    job = control.start_run(user, runs.run_params(image_id, dockerlib.BASE_IMAGE, argv=["sh"], tty=True,
                                                  timeout=300, **options))
    wait_for_job(job, states=("running",))
    deadline = time.monotonic() + 30
    while not (job.container_id and dockerlib.docker("inspect", "-f", "{{.State.Running}}", job.container_id,
                                                     check=False).strip() == "true"):
        assert time.monotonic() < deadline, f"run {job.pk}'s container did not start"
        time.sleep(0.1)
        job.refresh_from_db()
    return job


def end(job):
    """Kill the run's container (a stop would wait out its grace: sh, as PID 1,
    ignores SIGTERM), then remove it."""
    dockerlib.docker("kill", job.container_id, check=False)
    job = wait_for_job(job, timeout=60)
    dockerlib.docker("rm", "-f", job.container_id, check=False)
    return job


def socket(server, job, token, kind="terminal"):
    return connect(f"{server.ws_url}/ws/jobs/{job.pk}/{kind}/", open_timeout=10,
                   additional_headers={"Authorization": f"Bearer {token}"})


def processes(job):
    """The command lines running in the run's container."""
    rows = dockerlib.docker("top", job.container_id, "-o", "pid,args").splitlines()[1:]
    return [row.split(None, 1)[1] for row in rows]


def read_until(conn, text, timeout=30):
    """What the terminal printed, up to and with `text`."""
    received, deadline = "", time.monotonic() + timeout
    while text not in received:
        kind, data = json.loads(conn.recv(timeout=max(0.1, deadline - time.monotonic())))
        assert kind == "stdout"
        received += data
    return received


def type_line(conn, line):
    conn.send(json.dumps(["stdin", line + "\r"]))


@pytest.fixture
def tty_run(builder):
    job = start_tty_run(builder)
    yield job
    end(job)


def test_a_token_opens_the_terminal_and_what_its_owner_types_runs(server, builder, tty_run):
    _, token = ApiToken.issue(builder, "terminal")
    with socket(server, tty_run, token) as conn:
        conn.send(json.dumps(["set_size", 33, 101]))
        type_line(conn, "echo token-$((2+3)); stty size")
        read_until(conn, "token-5\r\n33 101\r\n")  # the sum (not the echo of what was typed), and the size
    # Keystrokes are not logged: the server's log (this session's) never holds what was typed.
    assert "$((2+3))" not in (Path(settings.DATA_DIR) / "log" / "test-server.log").read_text(errors="replace")


def test_a_watchers_frames_reach_the_container_as_nothing(server, builder, tty_run):
    make_user("viewer", "viewer")
    viewer = type(builder).objects.get(username="viewer")
    _, owner_token = ApiToken.issue(builder, "terminal")
    _, viewer_token = ApiToken.issue(viewer, "watching")
    with socket(server, tty_run, owner_token) as owner, socket(server, tty_run, viewer_token) as watcher:
        owner.send(json.dumps(["set_size", 30, 90]))
        type_line(owner, "echo ready-$((1+1))")
        read_until(watcher, "ready-2\r\n")  # the watcher sees the run's terminal
        type_line(watcher, "touch /viewer-was-here")
        watcher.send(json.dumps(["set_size", 5, 5]))
        watcher.send("not even JSON")  # dropped unread, like the rest: the socket stays open
        type_line(owner, "echo after-$((3+4)); stty size")
        seen = read_until(owner, "after-7\r\n30 90\r\n")  # the sum and the owner's size, not the watcher's 5 5
        assert "viewer-was-here" not in seen
        assert "viewer-was-here" not in read_until(watcher, "after-7\r\n30 90\r\n")
    assert "/viewer-was-here" not in {change.path for change in runs.changes(tty_run)}
    assert dockerlib.docker("exec", tty_run.container_id, "ls", "/").split() == ["bin", "dev", "etc", "proc", "sys",
                                                                                  "tmp"]


def test_a_shell_is_its_owners_alone_audited_and_not_stored(server, builder, tty_run):
    make_user("viewer", "viewer")
    viewer = type(builder).objects.get(username="viewer")
    _, token = ApiToken.issue(builder, "terminal")
    _, viewer_token = ApiToken.issue(viewer, "watching")
    with socket(server, tty_run, viewer_token, kind="shell") as refused:
        with pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=10)
    assert closed.value.rcvd.code == 4403
    with socket(server, tty_run, token, kind="shell") as shell:
        shell.send(json.dumps(["set_size", 20, 70]))
        type_line(shell, "echo shell-$((6*7)); stty size")
        read_until(shell, "shell-42\r\n20 70\r\n")
        type_line(shell, "sleep 600")
        read_until(shell, "sleep 600\r\n")
        # The terminal echoes the line before the shell has read it and started sleep: wait for the process.
        deadline = time.monotonic() + 10
        while "sleep 600" not in processes(tty_run):
            assert time.monotonic() < deadline, processes(tty_run)
            time.sleep(0.1)
    # Closed, the shell ends with what ran in it (the engine itself leaves an exec running).
    deadline = time.monotonic() + 10
    while processes(tty_run) != ["sh"]:
        assert time.monotonic() < deadline, processes(tty_run)
        time.sleep(0.1)
    assert AuditEntry.objects.filter(action="shell", actor=builder, job=tty_run, via="token").count() == 1
    job = end(tty_run)
    assert not any("shell-42" in text or "$((6*7))" in text for text in logstore.texts(job))


def test_bad_frames_close_the_terminal_and_type_nothing(server, builder, tty_run):
    _, token = ApiToken.issue(builder, "terminal")
    for frame in ('["stdin", 42]', '["set_size", 0, 80]', '["set_size", 24, 80.5]', '["exec", "id"]', "{}", "[[["):
        with socket(server, tty_run, token) as conn:
            conn.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    conn.recv(timeout=10)
            assert closed.value.rcvd.code == 4400, frame


def test_the_job_stream_takes_a_token_without_an_origin_and_refuses_a_wrong_one(server, builder):
    job = start_tty_run(builder)
    _, token = ApiToken.issue(builder, "stream")
    with connect(f"{server.ws_url}/ws/jobs/{job.pk}/", open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {token}"}) as conn:
        assert json.loads(conn.recv(timeout=10))["type"] in ("lines", "state")
    for wrong in ("dky_not-a-token", ""):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{server.ws_url}/ws/jobs/{job.pk}/terminal/", open_timeout=10,
                    additional_headers={"Authorization": f"Bearer {wrong}"})
        assert refused.value.response.status_code == 403
    end(job)
