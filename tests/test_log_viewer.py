"""The job page's log as a tool, in a real Chromium: line links and ranges in the
address, times that copying leaves out, following that pauses and resumes from
the keyboard (through the fake WebSocket of test_job_js), and the search box
against the real server's search of the stored log."""

import pytest
from playwright.sync_api import expect

from images.jobs import logstore
from images.models import Job
from tests.test_accessibility import FAILING_IMPACTS, axe_violations
from tests.test_job_js import ORIGIN, job_pages, push, settle, tab, wait_lines  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

START_MS = 1_765_000_000_000


def lines(first, last, text="line {}"):
    return {"type": "lines", "lines": [[seq, text.format(seq), START_MS + seq * 10] for seq in range(first, last + 1)]}


def open_at(tab, job_pages, fragment=""):
    pk = job_pages["build"][0]
    tab.errors.clear()
    tab.goto(f"{ORIGIN}/jobs/{pk}/{fragment}")
    tab.wait_for_function("window.__sockets.length === 1")
    return tab


def selected(page):
    return page.evaluate("() => [...document.querySelectorAll('#job-log .log-row.selected')].map((row) => row.id)")


def in_view(page, row_id):
    return page.evaluate("""id => { const row = document.getElementById(id).getBoundingClientRect();
        const log = document.getElementById('job-log').getBoundingClientRect();
        return row.top >= log.top && row.bottom <= log.bottom; }""", row_id)


def test_a_range_link_opened_before_its_lines_exist_lands_on_them_when_they_come(tab, job_pages):
    page = open_at(tab, job_pages, "#L150-L152")
    push(page, lines(1, 100))
    wait_lines(page, 100)
    assert selected(page) == []
    push(page, lines(101, 400))
    wait_lines(page, 400)
    assert selected(page) == ["L150", "L151", "L152"]
    assert in_view(page, "L151")
    assert not page.locator("#job-follow").is_checked()  # the end of the log did not pull it away
    expect(page.locator("#job-copy-link")).to_have_text("Copy link to lines 150–152")
    assert not page.errors, page.errors


def test_a_line_number_click_sets_the_address_and_a_shift_click_a_range(tab, job_pages):
    page = open_at(tab, job_pages)
    push(page, lines(1, 60))
    wait_lines(page, 60)
    link = page.locator("#L10 a.ln")
    expect(link).to_have_attribute("aria-label", "Line 10")
    link.click()
    assert page.evaluate("location.hash") == "#L10" and selected(page) == ["L10"]
    page.locator("#L20 a.ln").click(modifiers=["Shift"])
    assert page.evaluate("location.hash") == "#L10-L20"
    assert selected(page) == [f"L{n}" for n in range(10, 21)]
    assert not page.errors, page.errors


def test_times_show_as_clock_or_since_the_start_and_copying_takes_neither_them_nor_numbers(tab, job_pages):
    page = open_at(tab, job_pages)
    push(page, lines(1, 3))
    wait_lines(page, 3)
    page.select_option("#job-times", "since")
    # No start on the page (the job row has none): since the first line, which came at START_MS + 10.
    assert page.locator("#L3 .line").get_attribute("data-time") == "+0:00.020"
    page.select_option("#job-times", "clock")
    clock = page.evaluate(f"() => new Date({START_MS + 30}).toTimeString().slice(0, 8)")
    assert page.locator("#L3 .line").get_attribute("data-time") == f"{clock}.030"
    copied = page.evaluate("""() => { const range = document.createRange();
        range.selectNodeContents(document.getElementById('job-log'));
        const selection = getSelection(); selection.removeAllRanges(); selection.addRange(range);
        return selection.toString(); }""")
    assert copied.split() == ["line", "1", "line", "2", "line", "3"]
    assert not page.errors, page.errors


def test_following_pauses_when_scrolled_up_and_resumes_from_the_keyboard(tab, job_pages):
    page = open_at(tab, job_pages)
    push(page, lines(1, 300))
    wait_lines(page, 300)
    page.locator("#job-log").hover()
    page.mouse.wheel(0, -600)
    page.wait_for_function("() => !document.getElementById('job-follow').checked")
    push(page, lines(301, 305))
    wait_lines(page, 305)
    live = page.locator("#job-live")
    expect(live).to_have_text("5 new lines: jump to live")
    live.focus()
    page.keyboard.press("Enter")
    settle(page)
    assert page.locator("#job-follow").is_checked()
    expect(live).to_be_hidden()
    assert page.evaluate("() => { const log = document.getElementById('job-log');"
                         " return log.scrollHeight - log.scrollTop - log.clientHeight < 4; }")
    assert not page.errors, page.errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.unaudited("the job is made as a row, to hold output")
def test_the_search_box_finds_lines_beyond_those_drawn_and_steps_through_them(browser, server, builder):
    from tests.conftest import log_in

    texts = [f"compiling unit {n}" for n in range(1, 20001)]
    texts[0], texts[-1], texts[5] = "warning: first", "WARNING: last", "x" * 40
    job = Job.objects.create(kind="build", state="succeeded", target="searched", created_by=builder,
                             output_limit=1 << 40, line_count=len(texts))
    logstore.store(job.pk, [(seq, text, START_MS + seq) for seq, text in enumerate(texts, 1)])
    # axe is added as a script of the test's: the page's own policy forbids that.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        log_in(page)
        page.goto(f"/jobs/{job.pk}/")
        page.keyboard.press("Control+f")  # the page's search, which sees lines not drawn
        expect(page.locator("#job-search-q")).to_be_focused()
        page.keyboard.type("warning")
        page.keyboard.press("Enter")
        status = page.locator("#job-search-status")
        expect(status).to_have_text("2 matching lines: 1 of 2")
        expect(page.locator("#L1")).to_have_class("log-row match current")
        page.click("#job-search-next")
        expect(status).to_have_text("2 matching lines: 2 of 2")
        # Marked and shown once it is drawn: 20,000 lines take a while on a busy host.
        expect(page.locator("#L20000")).to_have_class("log-row match current", timeout=120_000)
        page.locator("#L19990 a.ln").click()
        page.locator("#L20000 a.ln").click(modifiers=["Shift"])
        expect(page.locator("#job-copy-link")).to_have_text("Copy link to lines 19990–20000")
        # The search, its results, a selection and the copy-link control, as axe sees them.
        serious = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
        assert not serious, serious
        assert not errors, errors
        page.fill("#job-search-q", "(x|xx)+y")
        page.check("#job-search-regex")
        page.keyboard.press("Enter")
        expect(status).to_contain_text("was stopped", timeout=30_000)
    finally:
        context.close()
