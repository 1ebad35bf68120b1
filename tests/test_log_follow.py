"""Following a running job's log at 20,000 lines a second, in a real Chromium.

The lines are written the way the worker writes a build's output (JobLog:
stored in batches, then published through Redis to the real server's socket),
by a thread standing in for the build, 1,000 lines every 50 ms for 10 s. The
page follows them to the end; scrolling up pauses following, "N new lines"
counts what comes meanwhile while the view stays put, and jumping to live
follows again. How fast the page draws is bench scenario 25's, not asserted."""

import re
import threading
import time

import pytest
from playwright.sync_api import expect

from images.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BURST = 1000
BURSTS = 200
BURST_SECONDS = 0.05  # 20,000 lines a second, for 10 s
LAST = BURST * BURSTS

# The line numbers of the first and last rows wholly in the log's view.
ROWS_IN_VIEW = """() => {
  const log = document.getElementById('job-log').getBoundingClientRect();
  const seqs = [...document.querySelectorAll('#job-log .log-row')].filter((row) => {
    const box = row.getBoundingClientRect();
    return box.top >= log.top && box.bottom <= log.bottom + 1;
  }).map((row) => Number(row.id.slice(1)));
  return [Math.min(...seqs), Math.max(...seqs)];
}"""

# Following: the newest line the page holds is the last row in view, at the bottom.
AT_LIVE_END = """() => {
  const log = document.getElementById('job-log');
  const last = document.getElementById('L' + document.getElementById('job').dataset.lastSeq);
  if (!last || !last.querySelector('.line').textContent) return false;
  const box = last.getBoundingClientRect(), view = log.getBoundingClientRect();
  return box.bottom <= view.bottom + 1 && log.scrollHeight - log.scrollTop - log.clientHeight < 4;
}"""


def lines_shown(page):
    return int(page.locator("#job-log").get_attribute("data-lines") or 0)


def print_fast(job, done):
    """The worker's side: 1,000 lines each 50 ms through JobLog, then the end as `running` records it."""
    from django.db import connection

    from images.jobs.log import JobLog
    from images.jobs.publish import publish_state

    try:
        output = JobLog(job)
        start = time.monotonic()
        for burst in range(BURSTS):
            output.write_lines([f"fast line {n}" for n in range(burst * BURST + 1, (burst + 1) * BURST + 1)])
            time.sleep(max(start + (burst + 1) * BURST_SECONDS - time.monotonic(), 0))
        output.close()
        job.finish("succeeded")
        publish_state(job)
        done.append(time.monotonic() - start)
    finally:
        connection.close()


@pytest.mark.unaudited("a job row stands in for a build the worker runs")
def test_following_keeps_up_with_twenty_thousand_lines_a_second_pauses_on_scrolling_up_and_resumes(
        browser, server, builder):
    from tests.conftest import log_in

    job = Job.objects.create(kind="build", target="fast", created_by=builder, output_limit=1 << 40,
                             params={"builder": "classic"})
    assert job.claim()
    # Playwright's polling predicates need eval, which the pages' script-src 'self' forbids.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    done = []
    printer = threading.Thread(target=print_fast, args=(job, done))
    try:
        log_in(page)
        page.goto(f"/jobs/{job.pk}/")
        expect(page.locator("#job-follow")).to_be_checked()
        printer.start()

        # Following: the newest line is in view as the lines pour in.
        page.wait_for_function(f"() => Number(document.getElementById('job-log').dataset.lines) >= {LAST // 5}",
                               timeout=30_000)
        page.wait_for_function(AT_LIVE_END, timeout=10_000)

        # Scrolling up with the wheel pauses following: the view stays put while lines still come.
        page.locator("#job-log").hover()
        page.mouse.wheel(0, -1500)
        expect(page.locator("#job-follow")).not_to_be_checked()
        live = page.locator("#job-live")
        expect(live).to_be_visible()
        expect(live).to_have_text(re.compile(r"^[\d,]+ new lines?: jump to live$"))
        paused_at = page.evaluate("document.getElementById('job-log').scrollTop")
        rows = page.evaluate(ROWS_IN_VIEW)
        shown, unseen = lines_shown(page), int(live.inner_text().split()[0].replace(",", ""))
        page.wait_for_timeout(1000)
        assert lines_shown(page) > shown, "lines kept coming while paused"
        assert int(live.inner_text().split()[0].replace(",", "")) > unseen
        assert page.evaluate("document.getElementById('job-log').scrollTop") == paused_at
        assert page.evaluate(ROWS_IN_VIEW) == rows

        # Jumping to live follows again: to the end, and on as more lines come.
        live.click()
        expect(page.locator("#job-follow")).to_be_checked()
        expect(live).to_be_hidden()
        page.wait_for_function(AT_LIVE_END, timeout=10_000)
        resumed = lines_shown(page)
        assert resumed < LAST, "the stream was still running when following resumed"
        page.wait_for_function(f"() => Number(document.getElementById('job-log').dataset.lines) > {resumed}",
                               timeout=10_000)
        page.wait_for_function(AT_LIVE_END, timeout=10_000)

        # The end: every line counted, the last one in view.
        printer.join(timeout=120)
        assert done, "the printer finished"
        expect(page.locator("#job-log")).to_have_attribute("data-lines", str(LAST), timeout=30_000)
        expect(page.locator(f"#L{LAST} .line")).to_have_text(f"fast line {LAST}")
        page.wait_for_function(AT_LIVE_END, timeout=10_000)
        assert page.evaluate(ROWS_IN_VIEW)[1] == LAST
        assert not errors, errors
    finally:
        printer.join(timeout=120)
        context.close()
