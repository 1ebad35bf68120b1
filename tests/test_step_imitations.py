"""Output that imitates the builder's step headers adds no step, and viewers get
each step's changes rather than the whole list again with every batch."""

import pytest

from images.jobs import logstore
from tests import dockerlib
from tests.live import JobSocket, wait_for_job
from tests.test_build_jobs import start_build

pytestmark = pytest.mark.usefixtures("worker")

# The RUN prints 20,000 headers of a one-step build, then (each in its own write,
# as the engine sends its own) the next header, a cache hit and a commit.
IMITATING = (
    f"FROM {dockerlib.BASE_IMAGE}\n"
    "RUN seq 1 20000 | sed 's,.*,Step &/1 : RUN x,'"
    " && printf 'Step 3/3 : LABEL fake' && sleep 0.2 && echo"
    " && echo ' ---> Using cache' && sleep 0.2 && echo ' ---> 0123456789ab' && sleep 0.2"
    " && printf 'Step 3/3 : LABEL fake' && sleep 0.2 && echo && echo 'Step 2/2 : RUN x'\n"
    f"LABEL {dockerlib.TEST_LABEL}=1\n"
)


def test_a_build_printing_step_headers_records_only_its_own_steps(builder_client, builder_session, server):
    job = start_build(builder_client, IMITATING, builder="classic")
    socket = JobSocket(server, builder_session, job.pk)
    events = list(socket.events(timeout=120))
    socket.close()

    job = wait_for_job(job)
    assert job.state == "succeeded", job.error
    assert sum(1 for text in logstore.texts(job) if text.endswith("/1 : RUN x")) == 20000
    assert [(s["number"], s["total"], s["status"]) for s in job.steps] == [(1, 3, "done"), (2, 3, "done"),
                                                                           (3, 3, "done")]
    assert job.steps[1]["instruction"].startswith("RUN seq 1 20000")
    assert job.steps[2]["instruction"] == f"LABEL {dockerlib.TEST_LABEL}=1"

    # One list on connect (and the stored one again with the end), then a change
    # or two per step: as many messages as steps, whatever the number of lines.
    step_events = [event for event in events if event["type"] in ("steps", "step")]
    assert len(step_events) <= 2 + 3 * len(job.steps), [event["type"] for event in step_events]
    assert all(len(event["steps"]) <= 3 for event in step_events if event["type"] == "steps")
    shown = {}
    for event in step_events:
        for step in event["steps"] if event["type"] == "steps" else [event["step"]]:
            shown[step["number"]] = step
    assert [shown[n] for n in sorted(shown)] == job.steps
