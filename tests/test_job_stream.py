"""The job websocket, through a real ASGI server (uvicorn), a real worker and Redis."""

import pytest
from websockets.exceptions import InvalidStatus

from images.jobs import logstore
from tests import dockerlib
from tests.live import JobSocket, start_build, wait_for_job, wait_for_lines

pytestmark = pytest.mark.usefixtures("worker")

SLOW_LINES = (
    f"FROM {dockerlib.BASE_IMAGE}\n"
    "RUN for i in $(seq 1 300); do echo \"line $i\"; sleep 0.01; done\n"
    f"LABEL {dockerlib.TEST_LABEL}=1\n"
)



def collect(socket, until_seq=None):
    """Lines received, and the final state if it arrived."""
    lines, state = [], None
    for event in socket.events():
        if event["type"] == "lines":
            lines.extend(tuple(line) for line in event["lines"])
            if until_seq and lines[-1][0] >= until_seq:
                break
        elif event["type"] == "state":
            state = event
    return lines, state


def collect_across_a_reconnect(server, session, job, cut):
    """A viewer reads the job's stream from the start to line `cut`, drops,
    and reconnects after the last line it got: (every line read, final state)."""
    first = JobSocket(server, session, job.pk, after=0)
    received, _ = collect(first, until_seq=cut)
    first.close()
    second = JobSocket(server, session, job.pk, after=received[-1][0])
    more, state = collect(second)
    second.close()
    return received + more, state


def test_a_viewer_joining_midway_and_reconnecting_gets_every_line_once_with_its_time(builder_client,
                                                                                    builder_session, server):
    job = start_build(builder_client, SLOW_LINES, no_cache="on")  # a cached RUN prints nothing
    wait_for_lines(job, 60)  # joins midway

    everything, state = collect_across_a_reconnect(server, builder_session, job, cut=150)
    job = wait_for_job(job)
    assert state["state"] == "succeeded" and state["image_id"] == job.image_id
    stored = logstore.lines(job)
    assert everything == stored
    assert [seq for seq, _, _ in everything] == list(range(1, job.line_count + 1))
    # Each line's own arrival time, before the drop and after it alike: the
    # 300 lines came over 3 s (10 ms apart), within the job's run.
    times = [ms for _, _, ms in everything]
    assert times == sorted(times) and times[-1] - times[0] >= 2000
    assert job.started_at.timestamp() * 1000 - 1 <= times[0] and times[-1] <= job.finished_at.timestamp() * 1000 + 1
    after_the_drop = [ms for seq, _, ms in everything if seq > 160]
    assert after_the_drop[-1] - after_the_drop[0] >= 500


def test_a_viewer_after_the_end_gets_the_whole_log_steps_and_state(builder_client, builder_session, server):
    job = wait_for_job(start_build(builder_client, SLOW_LINES, builder="classic"))  # the classic builder's steps
    socket = JobSocket(server, builder_session, job.pk)
    events = list(socket.events())
    socket.close()
    lines = [tuple(line) for event in events if event["type"] == "lines" for line in event["lines"]]
    assert lines == logstore.lines(job)
    steps = [event for event in events if event["type"] == "steps"]
    assert steps and [step["status"] for step in steps[-1]["steps"]] == [s["status"] for s in job.steps]
    assert events[-1] == {**events[-1], "type": "state", "state": "succeeded",
                          "image_url": f"/images/{job.image_hex}/"}


def test_two_viewers_see_the_same_lines(builder_client, builder_session, server):
    job = start_build(builder_client, SLOW_LINES, no_cache="on")  # a cached RUN prints nothing
    one = JobSocket(server, builder_session, job.pk)
    two = JobSocket(server, builder_session, job.pk)
    lines_one, _ = collect(one)
    lines_two, _ = collect(two)
    one.close()
    two.close()
    assert lines_one == lines_two == logstore.lines(wait_for_job(job))


def test_anonymous_viewers_are_refused(builder_client, server):
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\n"))
    # Closing before accepting answers the handshake with 403.
    with pytest.raises(InvalidStatus) as refused:
        JobSocket(server, "not-a-session", job.pk)
    assert refused.value.response.status_code == 403


def test_another_origin_cannot_open_a_stream(builder_client, builder_session, server):
    job = wait_for_job(start_build(builder_client, f"FROM {dockerlib.BASE_IMAGE}\n"))
    with pytest.raises(InvalidStatus) as refused:
        JobSocket(server, builder_session, job.pk, origin="http://evil.example")
    assert refused.value.response.status_code == 403


@pytest.mark.unaudited("a job row stands in for a build")
def test_a_session_from_before_a_password_change_is_refused_and_ended(builder, builder_session, server):
    """The sockets' users are read together (images/accounts/socket_users.py), each
    session still checked against its user's password as Django checks a page's."""
    from django.contrib.sessions.models import Session

    from images.models import Job

    job = Job.objects.create(kind="build", target="t", output_limit=10**6, created_by=builder)
    JobSocket(server, builder_session, job.pk).close()  # the session opens a stream
    builder.set_password("a new one, 2026")
    builder.save()
    with pytest.raises(InvalidStatus) as refused:
        JobSocket(server, builder_session, job.pk)
    assert refused.value.response.status_code == 403
    assert not Session.objects.filter(session_key=builder_session).exists()
