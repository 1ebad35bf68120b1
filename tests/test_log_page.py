"""The job page's virtualised log in a real Chromium.

A finished job of a million lines, written straight into storage (no engine: it
is the page that is tested), read against the real server: the first lines,
a link to line 900,000, a search for the last line, the first error, folds,
and axe-core. How long each takes is bench scenario 25's (bench/log_page.py);
here, what the reader sees. Progress frames and nested groups are checked on
the fake socket of test_job_js, where lines come as a running job's do."""

import pytest
from playwright.sync_api import expect

from images.jobs import logstore
from images.models import Job
from tests.test_accessibility import FAILING_IMPACTS, axe_violations
from tests.test_job_js import ORIGIN, job_pages, push, tab, wait_lines  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

START_MS = 1_765_000_000_000
MILLION = 1_000_000
ERROR_LINE = 700_000
MOST_ROWS = 200  # rows in the DOM at most: the view's and a margin either side


def million_texts():
    """A million lines: a group (with a nested one) near the top, one error line, a marked last line."""
    texts = [f"compiling unit {n} of the big build" for n in range(1, MILLION + 1)]
    texts[1:8] = ["::group::Set up", "checking the toolchain", "::group::Fetch sources", "fetched 12 files",
                  "::endgroup::", "set up done", "::endgroup::"]
    texts[ERROR_LINE - 1] = "src/unit.c:12: error: expected ';' before '}' token"
    texts[-1] = "LAST-LINE-MARKER: the build is done"
    return texts


def in_view(page, row_id):
    return page.evaluate("""id => { const row = document.getElementById(id); if (!row) return false;
        const box = row.getBoundingClientRect(), log = document.getElementById('job-log').getBoundingClientRect();
        return box.top >= log.top && box.bottom <= log.bottom; }""", row_id)


def rows_drawn(page):
    return page.locator("#job-log .log-row").count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.unaudited("the job is made as a row, to hold output")
def test_a_million_line_job_shows_its_first_lines_a_linked_line_a_searched_last_line_and_its_first_error(
        browser, server, builder):
    from tests.conftest import log_in

    job = Job.objects.create(kind="build", state="failed", target="million", created_by=builder,
                             output_limit=1 << 40, line_count=MILLION, params={"builder": "classic"})
    logstore.store(job.pk, [(seq, text, START_MS + seq) for seq, text in enumerate(million_texts(), 1)])
    # axe is added as a script of the test's: the page's own policy forbids that.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        log_in(page)
        # A finished job opens at its first lines; only those in view are drawn.
        page.goto(f"/jobs/{job.pk}/")
        expect(page.locator("#L1 .line")).to_have_text("compiling unit 1 of the big build")
        assert in_view(page, "L1")
        assert rows_drawn(page) < MOST_ROWS

        # Nested groups found by the server's search over the whole log, folded from the keyboard.
        inner = page.locator("#L4 button.fold")
        expect(inner).to_have_attribute("aria-expanded", "true")
        inner.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#L5")).to_have_count(0)
        expect(page.locator("#L7 .line")).to_have_text("set up done")
        page.locator("#L2 button.fold").click()
        expect(page.locator("#L3")).to_have_count(0)
        expect(page.locator("#L9 .line")).to_have_text("compiling unit 9 of the big build")
        # The log and its folds, as axe sees them.
        serious = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
        assert not serious, serious

        # A link to line 900,000: that line, in view, selected; the lines around it fetched.
        page.goto("about:blank")
        page.goto(f"/jobs/{job.pk}/#L900000")
        expect(page.locator("#L900000 .line")).to_have_text("compiling unit 900000 of the big build")
        expect(page.locator("#L900000")).to_have_class("log-row selected")
        page.wait_for_function("() => document.querySelector('#L900000').getBoundingClientRect().height > 0")
        assert in_view(page, "L900000")
        assert rows_drawn(page) < MOST_ROWS

        # The last line, found by the search box and shown highlighted.
        page.fill("#job-search-q", "last-line-marker")
        page.keyboard.press("Enter")
        expect(page.locator("#job-search-status")).to_have_text("1 matching line: 1 of 1")
        expect(page.locator("#L1000000")).to_have_class("log-row match current")
        expect(page.locator("#L1000000 .line")).to_have_text("LAST-LINE-MARKER: the build is done")
        assert in_view(page, "L1000000")

        # The first error line, wherever it is.
        page.click("#job-first-error")
        expect(page.locator(f"#L{ERROR_LINE}")).to_have_class("log-row selected")
        expect(page.locator(f"#L{ERROR_LINE} .line")).to_contain_text("error: expected ';'")
        assert page.evaluate("location.hash") == f"#L{ERROR_LINE}"
        assert in_view(page, f"L{ERROR_LINE}")
        assert rows_drawn(page) < MOST_ROWS

        assert not errors, errors
    finally:
        context.close()


def open_build(tab, job_pages):
    tab.errors.clear()
    tab.goto(f"{ORIGIN}/jobs/{job_pages['build'][0]}/")
    tab.wait_for_function("window.__sockets.length === 1")
    return tab


def test_progress_frames_written_with_carriage_returns_show_as_one_line_in_their_last_state(tab, job_pages):
    page = open_build(tab, job_pages)
    frames = "\r".join(f"Downloading {percent:3d}% [{'#' * (percent // 10):<10}]" for percent in range(0, 101, 5))
    push(page, {"type": "lines", "lines": [[1, "start", START_MS], [2, frames + "\r", START_MS + 1],
                                           [3, "\x1b[32mdone\x1b[0m 10%\rdone 100%", START_MS + 2]]})
    wait_lines(page, 3)
    assert page.locator("#job-log .log-row").count() == 3
    expect(page.locator("#L2 .line")).to_have_text("Downloading 100% [##########]")
    expect(page.locator("#L3 .line")).to_have_text("done 100%")
    assert not page.errors, page.errors


NESTED = ["before", "::group::Outer", "outer line", "::group::Inner", "inner line", "::endgroup::",
          "outer again", "::endgroup::", "after"]


def test_nested_groups_fold_and_unfold_each_on_its_own(tab, job_pages):
    page = open_build(tab, job_pages)
    push(page, {"type": "lines", "lines": [[seq, text, START_MS + seq * 100] for seq, text in enumerate(NESTED, 1)]})
    wait_lines(page, len(NESTED))
    shown = "() => [...document.querySelectorAll('#job-log .log-row')].map((row) => Number(row.id.slice(1)))"
    assert page.evaluate(shown) == list(range(1, 10))
    # Each group's header says how long it took: from its ::group:: to its ::endgroup::.
    expect(page.locator("#L2 .line")).to_have_attribute("data-took", "0.6 s")
    page.locator("#L4 button.fold").click()
    page.wait_for_function(f"() => ({shown})().length === 7")
    assert page.evaluate(shown) == [1, 2, 3, 4, 7, 8, 9]
    expect(page.locator("#L4 button.fold")).to_have_attribute("aria-expanded", "false")
    page.locator("#L2 button.fold").click()
    page.wait_for_function(f"() => ({shown})().length === 3")
    assert page.evaluate(shown) == [1, 2, 9]
    # Unfolding the outer group leaves the inner one as it was: folded.
    page.locator("#L2 button.fold").click()
    page.wait_for_function(f"() => ({shown})().length === 7")
    assert page.evaluate(shown) == [1, 2, 3, 4, 7, 8, 9]
    # New lines come after the folds, in their place.
    push(page, {"type": "lines", "lines": [[10, "later", START_MS + 1000]]})
    wait_lines(page, 10)
    assert page.evaluate(shown) == [1, 2, 3, 4, 7, 8, 9, 10]
    assert not page.errors, page.errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.unaudited("the job is made as a row, to hold output")
def test_a_finished_clipped_log_shows_one_row_for_its_dropped_middle(browser, server, builder):
    from tests.conftest import log_in

    # Lines 101-200 were dropped by the output limit, as the job's writer drops them.
    job = Job.objects.create(kind="build", state="succeeded", target="clipped", created_by=builder,
                             output_limit=1 << 40, line_count=300, clipped_after=100, clipped_before=201,
                             clipped_bytes=4321, params={"builder": "classic"})
    logstore.store(job.pk, [(seq, f"kept {seq}", START_MS + seq) for seq in [*range(1, 101), *range(201, 301)]])
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        log_in(page)
        page.goto(f"/jobs/{job.pk}/#L201")
        expect(page.locator("#L201 .line")).to_have_text("kept 201")
        expect(page.locator("#L101 .log-clipped")).to_contain_text("100 lines (4.3 kB) clipped here")
        # The dropped lines have no rows: the one before the marker is 100, the one after it 201.
        rows = page.evaluate("() => [...document.querySelectorAll('#job-log .log-row')].map((row) => row.id)")
        at = rows.index("L101")
        assert rows[at - 1:at + 2] == ["L100", "L101", "L201"]
    finally:
        context.close()
