from images.layers import LayerProgress
from images.steps import StepTracker


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_steps_are_read_from_classic_builder_output():
    clock = Clock()
    steps = StepTracker(clock)
    for line, at in [("Step 1/3 : FROM base", 0), (" ---> 1234567890ab", 0.1), ("Step 2/3 : RUN make", 0.1),
                     (" ---> Using cache", 0.2), (" ---> abcdefabcdef", 0.2), ("Step 3/3 : RUN test", 0.2),
                     (" ---> Running in 0123456789ab", 0.3), ("ok", 1.0)]:
        clock.now = at
        steps.feed(line)
    clock.now = 2.7
    steps.fail("The command '/bin/sh -c test' returned a non-zero code: 1")
    assert [(s["number"], s["status"], s["duration"]) for s in steps.snapshot()] == [
        (1, "done", 0.1), (2, "cached", 0.1), (3, "failed", 2.5)]
    assert steps.snapshot()[2]["instruction"] == "RUN test"
    assert "non-zero code: 1" in steps.snapshot()[2]["error"]


def test_pull_progress_is_coalesced_to_the_rate():
    clock = Clock()
    progress = LayerProgress(rate=10, clock=clock)
    sent = 0
    for i in range(1000):  # 1000 events over one second
        clock.now = i / 1000
        line = progress.feed({"status": "Downloading", "id": "abc", "progressDetail": {"current": i, "total": 1000}})
        assert line is None
        sent += progress.due()
    assert 9 <= sent <= 11
    assert progress.snapshot()["layers"] == [{"id": "abc", "status": "Downloading", "current": 999, "total": 1000}]


def test_pull_status_lines_and_digest():
    progress = LayerProgress()
    assert progress.feed({"status": "Pulling from team/app", "id": "1.0"}) == "1.0: Pulling from team/app"
    assert progress.feed({"status": "Pulling fs layer", "id": "abc", "progressDetail": {}}) == "abc: Pulling fs layer"
    assert progress.feed({"status": "Pull complete", "id": "abc", "progressDetail": {}}) == "abc: Pull complete"
    assert progress.feed({"status": "Digest: sha256:" + "a" * 64}) == "Digest: sha256:" + "a" * 64
    assert progress.snapshot()["digest"] == "sha256:" + "a" * 64
    assert [layer["id"] for layer in progress.snapshot()["layers"]] == ["abc"]
