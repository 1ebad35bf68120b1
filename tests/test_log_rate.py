"""A build printing about 20,000 lines a second, through the real engine, the
worker's writer and a real websocket: every line reaches a viewer, in order,
once, with the text the build printed, and the worker's memory stays bounded.
How fast it went is a figure for the bench (scenario 13), not asserted here."""

import pytest

from images.jobs import logstore
from tests import bodies, dockerlib
from tests.live import JobSocket, start_build, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")

BURSTS = 60
BURST_LINES = 1000
# Bursts of 1,000 lines 50 ms apart: about 20,000 lines a second while it prints.
FAST_LINES = (
    f"FROM {dockerlib.BASE_IMAGE}\n"
    f"RUN i=0; while [ $i -lt {BURSTS} ]; do seq $((i*{BURST_LINES}+1)) $((i*{BURST_LINES}+{BURST_LINES})) "
    f"| sed 's/^/fast line /'; usleep 50000; i=$((i+1)); done\n"
    f"LABEL {dockerlib.TEST_LABEL}=1\n"
)
WORKER_BOUND_MB = 200  # bench 4's bound on the worker at 200,000 lines


def test_twenty_thousand_lines_a_second_reach_a_viewer_in_order_none_lost(builder_client, builder_session,
                                                                        server, worker):
    with bodies.PeakMemory(worker) as peaks:
        job = start_build(builder_client, FAST_LINES, no_cache="on", builder="classic")
        socket = JobSocket(server, builder_session, job.pk, after=0)
        received = [tuple(line) for event in socket.events(timeout=120) if event["type"] == "lines"
                    for line in event["lines"]]
        socket.close()
        job = wait_for_job(job)
    assert job.state == "succeeded"
    assert [seq for seq, _, _ in received] == list(range(1, job.line_count + 1))
    printed = [text for _, text, _ in received if text.startswith("fast line ")]
    assert printed == [f"fast line {n}" for n in range(1, BURSTS * BURST_LINES + 1)]
    assert received == logstore.lines(job)
    assert peaks.highest() < WORKER_BOUND_MB, peaks.report()
