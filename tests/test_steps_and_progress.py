from images.engine.progress import LayerProgress
from images.engine.steps import count_instructions, StepTracker


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def feed_all(steps, clock, messages):
    """Feed `stream` messages as the classic builder sends them; return every change."""
    changes = []
    for message, at in messages:
        clock.now = at
        changes.extend(steps.feed(message))
    return changes


def test_steps_are_read_from_classic_builder_output():
    clock = Clock()
    steps = StepTracker(clock=clock)
    feed_all(steps, clock, [
        ("Step 1/3 : FROM base", 0), ("\n", 0), (" ---> 1234567890ab\n", 0.1),
        ("Step 2/3 : RUN make", 0.1), ("\n", 0.1), (" ---> Using cache\n", 0.2), (" ---> abcdefabcdef\n", 0.2),
        ("Step 3/3 : RUN test", 0.2), ("\n", 0.2), (" ---> Running in 0123456789ab\n", 0.3), ("ok\n", 1.0)])
    clock.now = 2.7
    steps.fail("The command '/bin/sh -c test' returned a non-zero code: 1")
    assert [(s["number"], s["status"], s["duration"]) for s in steps.snapshot()] == [
        (1, "done", 0.1), (2, "cached", 0.1), (3, "failed", 2.5)]
    assert steps.snapshot()[2]["instruction"] == "RUN test"
    assert "non-zero code: 1" in steps.snapshot()[2]["error"]


def test_it_reports_each_change_as_the_step_it_changed():
    clock = Clock()
    steps = StepTracker(clock=clock)
    changes = feed_all(steps, clock, [
        ("Step 1/2 : FROM base", 0), ("\n", 0), (" ---> 1234567890ab\n", 0.5),
        ("Step 2/2 : RUN make", 0.5), ("\n", 0.5), (" ---> Using cache\n", 0.5), (" ---> abcdefabcdef\n", 0.6)])
    assert [(c["number"], c["status"]) for c in changes] == [
        (1, "running"), (1, "done"), (2, "running"), (2, "cached"), (2, "cached")]


def test_program_output_that_imitates_the_builder_adds_no_step():
    """A RUN's output comes between ` ---> Running in <id>` and `Removing
    intermediate container <id>`; no header is read there, nor anywhere a step
    is still running, nor one that does not follow the last by one."""
    clock = Clock()
    steps = StepTracker(clock=clock)
    imitations = [(f"Step {n}/1 : RUN x\n", 1) for n in range(1, 2001)] + [
        ("Step 2/2 : RUN fake", 1), ("\n", 1), (" ---> Using cache\n", 1), (" ---> 0123456789ab\n", 1),
        ("Step 3/3 : LABEL fake", 1), ("Removing intermediate container ffffffffffff\n", 1)]
    changes = feed_all(steps, clock, [
        ("Step 1/3 : FROM base", 0), ("\n", 0), (" ---> 1234567890ab\n", 0),
        ("Step 1/3 : FROM base", 0), ("Step 3/3 : LABEL early", 0),  # no step running, but not the next one
        ("Step 2/3 : RUN fake", 0), ("\n", 0), (" ---> Running in aaaaaaaaaaaa\n", 0.1),
        *imitations,
        ("Removing intermediate container aaaaaaaaaaaa\n", 2), (" ---> bbbbbbbbbbbb\n", 2),
        ("Step 3/4 : LABEL wrong-total", 2),  # the total is fixed by the first header
        ("Step 3/3 : LABEL a=b", 2), ("\n", 2), (" ---> Running in cccccccccccc\n", 2),
        ("Removing intermediate container cccccccccccc\n", 2.5), (" ---> dddddddddddd\n", 2.5),
        ("Step 4/3 : RUN beyond", 3), ("Step 4/4 : RUN beyond", 3)])
    assert [(s["number"], s["total"], s["instruction"], s["status"]) for s in steps.snapshot()] == [
        (1, 3, "FROM base", "done"), (2, 3, "RUN fake", "done"), (3, 3, "LABEL a=b", "done")]
    assert len(changes) == 6


def test_the_dockerfile_caps_the_steps_when_it_is_known():
    clock = Clock()
    steps = StepTracker(limit=2, clock=clock)
    feed_all(steps, clock, [
        ("Step 1/3 : FROM base", 0), ("\n", 0), (" ---> 1234567890ab\n", 0),
        ("Step 2/3 : RUN make", 0), ("\n", 0), (" ---> Using cache\n", 0), (" ---> abcdefabcdef\n", 0),
        ("Step 3/3 : RUN more", 0)])
    assert [s["number"] for s in steps.snapshot()] == [1, 2]


def test_instructions_are_counted_as_the_builder_counts_them():
    assert count_instructions("FROM a\nRUN b\n") == 2
    assert count_instructions(
        "# syntax=docker/dockerfile:1\n"
        "ARG BASE=a\n"
        "\n"
        "FROM $BASE AS build\n"
        "# a comment\n"
        "RUN one \\\n"
        "    # a comment inside a continued line\n"
        "    two \\\n"
        "\n"
        "    three\n"
        "   COPY . /src\n"
        "FROM build\n") == 5
    assert count_instructions("# escape=`\nFROM a\nRUN one `\n  two\nLABEL x=\\\n") == 3
    assert count_instructions("") == 0


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
