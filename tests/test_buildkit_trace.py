"""The plain log Dockyard writes from a BuildKit trace, fed StatusResponses in the
order the engine sends them (the real engine's sequences: see the comments)."""

from images.engine.buildkit import trace
from images.engine.buildkit.protos import control_pb2


def status(digest, name, started=None, completed=None, error="", cached=False):
    response = control_pb2.StatusResponse()
    vertex = response.vertexes.add(digest=digest, name=name, error=error, cached=cached)
    if started is not None:
        vertex.started.seconds = started
    if completed is not None:
        vertex.completed.seconds = completed
    return response


def lines_of(*responses):
    graph = trace.BuildGraph()
    return [line for response in responses for line in graph.feed(response)]


def test_a_vertex_the_engine_starts_again_ends_once_in_the_log():
    # Engine 20.10 resolves a base's metadata again with a session attached: the
    # same vertex started and completed twice, with a new start time.
    name = "[internal] load metadata for docker.io/library/base:1"
    assert lines_of(
        status("sha256:m", name, started=100),
        status("sha256:m", name, started=100, completed=100),
        status("sha256:m", name, started=101),
        status("sha256:m", name, started=101, completed=101),
    ) == [f"#1 {name}", "#1 DONE 0.0s"]


def test_a_vertex_that_fails_when_started_again_says_so():
    name = "[2/2] RUN make"
    assert lines_of(
        status("sha256:r", name, started=100),
        status("sha256:r", name, started=100, completed=102),
        status("sha256:r", name, started=103),
        status("sha256:r", name, started=103, completed=104, error="process \"make\" did not complete successfully"),
    ) == [f"#1 {name}", "#1 DONE 2.0s", "#1 ERROR: process \"make\" did not complete successfully"]


def test_a_completed_vertex_sent_again_is_not_ended_twice():
    name = "[internal] load remote build context"
    assert lines_of(
        status("sha256:c", name, started=100),
        status("sha256:c", name, started=100, completed=100),
        status("sha256:c", name, started=100, completed=100),
    ) == [f"#1 {name}", "#1 DONE 0.0s"]
