"""Output lines stored in compressed chunks: read back by number, exactly, with
their times; a slow writer fills chunks instead of a row a line; the output cap
removes the middle of chunks it straddles."""

import time

import pytest

from images.jobs import logstore
from images.jobs.log import JobLog
from images.models import Job, LogChunk

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.unaudited("jobs made as rows, to hold output")]


@pytest.fixture
def job(builder):
    return Job.objects.create(kind="build", target="logstore", created_by=builder, state="running", output_limit=10_000_000)


def test_it_reads_back_any_range_with_times_from_the_chunks_that_hold_it(job):
    lines = [(seq, f"line {seq} é \r", 1_700_000_000_000 + seq * 7) for seq in range(1, 2501)]
    logstore.store(job.pk, lines)

    assert LogChunk.objects.filter(job=job).count() == 3
    assert logstore.lines(job) == lines
    assert logstore.read(job.pk, after=999, limit=3) == [list(line) for line in lines[999:1002]]
    assert logstore.read(job.pk, after=1500, until=1502) == [list(line) for line in lines[1500:1502]]
    assert logstore.read(job.pk, after=2500) == []
    assert logstore.count(job) == 2500


def test_a_chunk_holds_no_more_than_its_bytes(job):
    logstore.store(job.pk, [(seq, "x" * 100_000, 0) for seq in range(1, 8)])
    assert list(LogChunk.objects.filter(job=job).values_list("line_count", flat=True)) == [2, 2, 2, 1]


def test_a_slow_writer_fills_one_chunk_not_a_row_a_line(job):
    output = JobLog(job, publish=lambda *_: None)
    for n in range(1, 51):
        output.write(f"line {n}")
        while logstore.count(job) < n:  # stored: the next line comes in a batch of its own
            time.sleep(0.005)
    output.close()
    assert logstore.texts(job) == [f"line {n}" for n in range(1, 51)]
    assert LogChunk.objects.filter(job=job).count() == 1


def test_each_line_keeps_the_time_it_arrived_and_a_text_with_newlines_is_lines(job):
    published = []
    output = JobLog(job, publish=lambda job_id, event: published.append(event))
    before = int(time.time() * 1000)
    output.write_lines(["one", "two\nthree"])
    while logstore.count(job) < 3:
        time.sleep(0.005)
    time.sleep(0.01)
    middle = int(time.time() * 1000)
    output.write("four")
    output.close()
    after = int(time.time() * 1000)
    stored = logstore.lines(job)
    assert [text for _, text, _ in stored] == ["one", "two", "three", "four"]
    assert all(before <= ms <= middle for _, _, ms in stored[:3]) and middle <= stored[3][2] <= after
    assert [tuple(line) for event in published if event["type"] == "lines" for line in event["lines"]] == stored


def test_the_output_cap_keeps_the_head_and_the_tail_across_chunk_boundaries(job):
    job.output_limit = 30_000
    job.save()
    output = JobLog(job, publish=lambda *_: None)
    for start in range(0, 5000, 700):
        output.write_lines([f"line {n:05}" for n in range(start + 1, min(start + 701, 5001))])
    output.close()
    job.refresh_from_db()

    kept = logstore.lines(job)
    seqs = [seq for seq, _, _ in kept]
    assert job.clipped_after and job.clipped_before
    assert seqs == list(range(1, job.clipped_after + 1)) + list(range(job.clipped_before, 5001))
    assert [text for _, text, _ in kept] == [f"line {seq:05}" for seq in seqs]
    assert sum(len(text) + 1 for _, text, _ in kept) <= job.output_limit
