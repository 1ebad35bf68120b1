"""GET /api/jobs/<id>/log/search: the whole stored log searched on the server,
plain text or a regular expression with a time limit, a page of matching lines
at a time."""

import pytest

from images.jobs import logsearch, logstore
from images.models import Job
from tests.apiclient import bearer
from tests.conftest import make_user

pytestmark = pytest.mark.unaudited("jobs made as rows, to hold output")


def job_with(user, texts):
    job = Job.objects.create(kind="build", target="searched", created_by=user, state="succeeded",
                             output_limit=1 << 40, line_count=len(texts))
    logstore.store(job.pk, [(seq, text, 1_700_000_000_000 + seq) for seq, text in enumerate(texts, 1)])
    return job


def search(api, job, expect=200, **params):
    response = api.get(f"/api/jobs/{job.pk}/log/search", params)
    assert response.status_code == expect, response.content
    return response.json()


def test_a_million_line_log_is_searched_from_its_first_line_to_its_last(builder):
    texts = [f"step {n} compiling module_{n % 977}.c" for n in range(1_000_000)]
    texts[0] = "Needle at the start"
    texts[-1] = "and a NEEDLE at the end"
    job = job_with(builder, texts)
    found = search(bearer(builder), job, q="needle")
    assert found["count"] == 2
    assert found["lines"] == [[1, "Needle at the start", 1_700_000_000_001],
                              [1_000_000, "and a NEEDLE at the end", 1_700_000_000_000 + 1_000_000]]
    assert found["more"] is False


def test_it_pages_through_matches_after_a_line_and_counts_them_all(builder):
    job = job_with(builder, [f"line {n} {'error' if n % 3 == 0 else 'ok'}" for n in range(1, 1001)])
    api = bearer(builder)
    first = search(api, job, q="ERROR")
    assert first["count"] == 333 and len(first["lines"]) == logsearch.PAGE and first["more"]
    assert [seq for seq, _, _ in first["lines"][:3]] == [3, 6, 9]
    rest = search(api, job, q="ERROR", after=first["next_after"])
    assert rest["count"] == 333 and len(rest["lines"]) == 333 - logsearch.PAGE and not rest["more"]
    assert rest["lines"][0][0] == first["lines"][-1][0] + 3
    assert search(api, job, q="ERROR", case="true")["count"] == 0


def test_a_string_on_most_lines_counts_each_line_once_however_often_it_is_there(builder):
    texts = [f"drwxr-xr-x 2 root root 4096 entry{n}" if n % 5 else f"-rw-r--r-- 1 app app 12 entry{n}"
             for n in range(1, 5001)]
    job = job_with(builder, texts)
    api = bearer(builder)
    first = search(api, job, q="Root")
    assert first["count"] == 4000 and first["more"]
    assert [seq for seq, _, _ in first["lines"][:5]] == [1, 2, 3, 4, 6]
    last = search(api, job, q="root", after=4990)
    assert [seq for seq, _, _ in last["lines"]] == [4991, 4992, 4993, 4994, 4996, 4997, 4998, 4999]
    assert last["count"] == 4000 and not last["more"]


def test_case_is_folded_beyond_ascii_and_lines_stay_where_they_are(builder):
    job = job_with(builder, ["Straße gesperrt", "nothing", "STRASSE frei", "ÉCOLE", "école"])
    api = bearer(builder)
    assert [seq for seq, _, _ in search(api, job, q="straße")["lines"]] == [1, 3]
    assert [seq for seq, _, _ in search(api, job, q="école")["lines"]] == [4, 5]
    assert [seq for seq, _, _ in search(api, job, q="École", case="true")["lines"]] == []


def test_a_regular_expression_matches_line_by_line(builder):
    job = job_with(builder, ["Step 1/3 : FROM busybox", "ERROR: exit code 2", "an ERROR inside", "Step 2/3"])
    found = search(bearer(builder), job, q=r"^(error|step \d/3 : from)", regex="true")
    assert [seq for seq, _, _ in found["lines"]] == [1, 2] and found["count"] == 2
    # A match that runs over a line's end does not hide the next line's own.
    spanning = job_with(builder, ["x", "xy", "z"])
    found = search(bearer(builder), spanning, q=r"x[\s\S]*?y", regex="true")
    assert [seq for seq, _, _ in found["lines"]] == [1, 2] and found["count"] == 2


def test_a_runaway_regular_expression_is_stopped_with_a_clear_message(builder):
    job = job_with(builder, ["x" * 40] * 3)
    refused = search(bearer(builder), job, expect=400, q="(x|xx)+y", regex="true")
    assert refused["error"] == ("The regular expression took over 1 s of processor time and was stopped; "
                                "make it more specific.")


def test_a_regular_expression_matching_every_line_is_held_to_the_same_limit(builder, monkeypatch):
    # Each match is quick; it is their number that would hold the process.
    job = job_with(builder, [f"entry {n}" for n in range(200_000)])
    monkeypatch.setattr(logsearch, "REGEX_SECONDS", 0.02)
    refused = search(bearer(builder), job, expect=400, q=r"entry \d", regex="true")
    assert refused["error"].startswith("The regular expression took over 0.02 s of processor time and was stopped")


def test_bad_searches_are_refused_with_a_reason(builder):
    job = job_with(builder, ["something"])
    api = bearer(builder)
    assert search(api, job, expect=400, q="(unclosed", regex="true")["error"].startswith("Not a regular expression:")
    assert search(api, job, expect=400, q="")["error"] == "Say what to search for."
    assert search(api, job, expect=400, q="x" * 501)["error"] == "A search is at most 500 characters."
    two_lines = job_with(builder, ["first half", "second half"])
    assert search(api, two_lines, expect=400, q="half\nsecond")["error"] == (
        "A search looks within one line: leave out line breaks.")


def test_someone_without_access_to_the_engine_gets_404(builder):
    job = job_with(builder, ["secretless"])
    nobody = bearer(make_user("nobody", None))
    assert nobody.get(f"/api/jobs/{job.pk}/log/search", {"q": "secretless"}).status_code in (403, 404)
