"""The job page's virtualised log in a real Chromium.

A finished job of a million lines, written straight into storage (no engine: it
is the page that is tested), read against the real server: the first lines,
a link to line 900,000, a search for the last line, the first error, folds,
and axe-core. How long each takes is bench scenario 25's (bench/log_page.py);
here, what the reader sees; and GitLab's sections in a stored log, classic and
BuildKit. Progress frames, nested groups and sections as more lines come are
checked on the fake socket of test_job_js, where lines come as a running job's do."""

import pytest
from django.conf import settings
from playwright.sync_api import expect

from images.jobs import logsearch, logstore
from images.models import Job
from tests.test_accessibility import FAILING_IMPACTS, axe_violations
from tests.test_job_js import ORIGIN, job_pages, push, settle, tab, wait_lines  # noqa: F401 - fixtures

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


# GitLab's sections, as GitLab writes them: an "erase line" escape first, the
# header after the marker's "\r". A BuildKit build stores a RUN's output after
# its "#5 0.426 " (vertex, seconds).
ERASE = "\x1b[0K"
RUN_PREFIX = "#5 0.426 "


def section_start(name, header="", options=""):
    return f"{ERASE}section_start:1700000000:{name}{options}\r{ERASE}{header}"


def section_end(name):
    return f"{ERASE}section_end:1700000010:{name}\r{ERASE}"


SECTIONS = [
    "Running with gitlab-runner 17.0",                                # 1
    section_start("deps", "Installing deps", "[collapsed=true]"),     # 2: starts folded
    *[f"installed package {n}" for n in range(1, 61)],              # 3-62
    section_end("deps"),                                              # 63
    "::group::Checks",                                                # 64
    section_start("lint"),                                            # 65: no header, shown by its name
    "lint clean",                                                     # 66
    section_end("lint"),                                              # 67
    section_end("ghost"),                                             # 68: ends nothing
    "checks done",                                                    # 69
    "::endgroup::",                                                   # 70
    section_start("build", "Building", "[collapsed=false]"),          # 71
    "compiling",                                                      # 72
    section_start("unit", "\x1b[36;1mUnit tests\x1b[0;m"),            # 73
    "test one passed",                                                # 74
    section_end("build"),                                             # 75: ends unit too
    "Job succeeded",                                                  # 76
    *[f"tail line {n}" for n in range(77, 201)],                      # 77-200
]
SHOWN = "() => [...document.querySelectorAll('#job-log .log-row')].map((row) => Number(row.id.slice(1)))"


def stored_sections_job(builder, builder_name):
    """A finished build whose stored log holds SECTIONS, each line after a RUN's prefix in a BuildKit build's."""
    prefix = RUN_PREFIX if builder_name == "buildkit" else ""
    job = Job.objects.create(kind="build", state="succeeded", target="sections", created_by=builder,
                             output_limit=1 << 40, line_count=len(SECTIONS), params={"builder": builder_name})
    logstore.store(job.pk, [(seq, prefix + text, START_MS + seq * 100) for seq, text in enumerate(SECTIONS, 1)])
    return job


def open_log(page, job, builder_name, line=None):
    """The job's log, as a reader opens it; a BuildKit build's plain view, whose lines come over its socket."""
    view = "?view=plain" if builder_name == "buildkit" else ""
    page.goto("about:blank")
    page.goto(f"/jobs/{job.pk}/{view}" + (f"#L{line}" if line else ""))
    page.wait_for_function("count => document.getElementById('job-log').dataset.lines === String(count)",
                           arg=len(SECTIONS))


def click_fold(page, seq, rows):
    page.locator(f"#L{seq} button.fold").click()
    page.wait_for_function(f"rows => ({SHOWN})().slice(0, rows.length).join() === rows.join()", arg=rows)


@pytest.mark.parametrize("builder_name", ["classic", "buildkit"])
@pytest.mark.django_db(transaction=True)
@pytest.mark.unaudited("the job is made as a row, to hold output")
def test_gitlab_sections_of_a_stored_log_fold_as_they_ask(browser, server, builder, builder_name):
    from tests.conftest import log_in

    job = stored_sections_job(builder, builder_name)
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    prefix = RUN_PREFIX if builder_name == "buildkit" else ""
    try:
        log_in(page)
        open_log(page, job, builder_name)
        page.locator("#job-log").evaluate("log => { log.scrollTop = 0; }")  # a BuildKit build's log follows its end

        # [collapsed=true]: its lines hidden under its header, with how long it took.
        deps = page.locator("#L2 button.fold")
        expect(deps).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#L2 .line")).to_have_text("Installing deps")
        expect(page.locator("#L2 .line")).to_have_attribute("data-took", "6.1 s")
        page.wait_for_function(f"() => ({SHOWN})().slice(0, 3).join() === '1,2,64'")
        expect(page.locator("#L3")).to_have_count(0)
        # The others start open: "lint" in a ::group:: (shown by its name: it has no header), "unit" in "build".
        for seq, text in ((64, prefix + "::group::Checks"), (65, "lint"), (71, "Building"), (73, "Unit tests")):
            expect(page.locator(f"#L{seq} .line")).to_have_text(text)
            expect(page.locator(f"#L{seq} button.fold")).to_have_attribute("aria-expanded", "true")
        assert page.locator("#L73 .line .ansi-fg-6").text_content() == "Unit tests"
        # The end of "build" ends "unit", open inside it: both fold up to it, not past it.
        expect(page.locator("#L73 .line")).to_have_attribute("data-took", "0.2 s")
        click_fold(page, 73, [1, 2, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 76])
        click_fold(page, 71, [1, 2, 64, 65, 66, 67, 68, 69, 70, 71, 76])
        click_fold(page, 71, [1, 2, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 76])
        # The stray end closed nothing: the group runs on to its ::endgroup::.
        expect(page.locator("#L64 .line")).to_have_attribute("data-took", "0.6 s")
        click_fold(page, 64, [1, 2, 64, 71, 72, 73, 76])
        click_fold(page, 64, [1, 2, 64, 65, 66, 67, 68, 69, 70, 71])

        # Unfolded, it stays open: rows drawn anew as the reader scrolls away and back.
        click_fold(page, 2, [1, 2, 3, 4])
        expect(deps).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#L3 .line")).to_have_text(prefix + "installed package 1")
        page.locator("#job-log").evaluate("log => { log.scrollTop = log.scrollHeight; }")
        expect(page.locator("#L200 .line")).to_have_text(prefix + "tail line 200")
        page.locator("#job-log").evaluate("log => { log.scrollTop = 0; }")
        expect(page.locator("#L3 .line")).to_have_text(prefix + "installed package 1")
        expect(deps).to_have_attribute("aria-expanded", "true")

        # A link to a line inside it: the section shows it, open.
        open_log(page, job, builder_name, line=30)
        expect(page.locator("#L64 button.fold")).to_have_count(1)  # the sections are known
        expect(page.locator("#L30 .line")).to_have_text(prefix + "installed package 28")
        assert in_view(page, "L30")
        page.locator("#job-log").evaluate("log => { log.scrollTop = 0; }")
        expect(page.locator("#L2 button.fold")).to_have_attribute("aria-expanded", "true")
        # A link to a line past it: still in view once the section above it folds (200 rows, then 139).
        open_log(page, job, builder_name, line=150)
        page.wait_for_function("() => document.querySelector('#job-log .log-sizer').offsetHeight < 150 * 18")
        settle(page)
        expect(page.locator("#L150 .line")).to_have_text(prefix + "tail line 150")
        assert in_view(page, "L150")
        assert not errors, errors
    finally:
        context.close()


def test_a_collapsed_section_unfolded_stays_open_as_lines_come_and_a_runs_sections_end_with_it(tab, job_pages):
    page = open_build(tab, job_pages)
    first = ["#5 [2/2] RUN ./ci.sh", "#5 0.100 " + section_start("deps", "Installing deps", "[collapsed=true]"),
             "#5 0.200 installing", "#6 0.200 ::group::Other RUN", "#5 0.300 " + section_end("deps"),
             "#5 0.400 ::group::Tests", "#5 0.500 test failed"]
    push(page, {"type": "lines", "lines": [[seq, text, START_MS + seq * 100] for seq, text in enumerate(first, 1)]})
    wait_lines(page, len(first))
    # Vertex 6's group, printed meanwhile, is not inside vertex 5's "deps": the end of "deps" does not end it.
    assert page.evaluate(SHOWN) == [1, 2, 6, 7]
    page.locator("#L2 button.fold").click()
    page.wait_for_function(f"() => ({SHOWN})().length === 7")
    # More lines, more markers: the sections are built again, and the one unfolded stays open.
    push(page, {"type": "lines", "lines": [[8, "#5 ERROR: process did not complete", START_MS + 800],
                                           [9, "#6 0.900 ::endgroup::", START_MS + 900]]})
    wait_lines(page, 9)
    expect(page.locator("#L2 button.fold")).to_have_attribute("aria-expanded", "true")
    # The group the failed RUN left open ends before its ERROR line, which folding it leaves in sight.
    expect(page.locator("#L6 .line")).to_have_attribute("data-took", "0.2 s")
    page.locator("#L6 button.fold").click()
    page.wait_for_function(f"() => ({SHOWN})().join() === '1,2,3,4,5,6,8,9'")
    expect(page.locator("#L4 .line")).to_have_attribute("data-took", "0.5 s")
    assert not page.errors, page.errors


@pytest.mark.unaudited("the jobs are made as rows, to hold output")
def test_the_marker_pattern_finds_gitlab_sections_and_groups_after_a_runs_prefix_on_the_server(tab, builder):
    """The page sends job.js's MARKERS to the log search, which runs it with Python's `regex`."""
    source = (settings.BASE_DIR / "static/js/job.js").read_text()
    definitions = source[source.index("const BUILDKIT_PREFIX"):source.index("const MARKER =")]
    pattern = tab.evaluate(f"() => {{ {definitions} return MARKERS; }}")
    texts = [*SECTIONS[:2], *SECTIONS[62:76], "#5 [2/2] RUN ./ci.sh", "#5 DONE 1.0s", "Step 1/2 : FROM busybox",
             "#5 0.426 #6 [not a vertex", "#5 0.426 Step 1/2 : not a step", "  ::group:: indented"]
    for prefix in ("", RUN_PREFIX):
        job = Job.objects.create(kind="build", state="succeeded", target="markers", created_by=builder,
                                 output_limit=1 << 40, line_count=len(texts))
        logstore.store(job.pk, [(seq, (prefix if seq <= 16 else "") + text, START_MS + seq)
                                for seq, text in enumerate(texts, 1)])
        found = logsearch.search(job.pk, pattern, is_regex=True, case=True)
        assert [seq for seq, _text, _ms in found["lines"]] == [2, 3, 4, 5, 7, 8, 10, 11, 13, 15, 17, 18, 19]
