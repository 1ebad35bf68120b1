"""static/js/job.js in a real Chromium, on the job page as the server renders
it (the job_detail view and its template, for real Job rows), with a fake
WebSocket (tests/js/fake_websocket.js) the tests speak through."""

import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from django.contrib.staticfiles import finders
from django.db import transaction
from django.test import Client, override_settings

from images.accounts import roles
from images.models import Job
from tests.conftest import make_user

# django_db: so that the session sets up the test database job_pages renders from.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ORIGIN = "http://dockyard.test"
FAKE_WEBSOCKET = Path(__file__).parent / "js" / "fake_websocket.js"


PREVIOUS_IMAGE = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def job_pages(django_db_setup, django_db_blocker):
    """{name: (pk, status, headers, html)} for a running build, a running pull
    and a queued build of a builder's, rendered once; the rows are rolled back
    afterwards."""
    pages = {}
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=["dockyard.test"]), transaction.atomic():
        builder = make_user("builder", roles.BUILDER)
        client = Client(headers={"host": "dockyard.test"})
        client.force_login(builder)
        # What the queued build of team/app:2 will be compared with when it ends.
        Job.objects.create(kind="build", state=Job.State.SUCCEEDED, target="team/app:2", created_by=builder,
                           params={"tags": ["team/app:2"]}, image_id=PREVIOUS_IMAGE, output_limit=1000)
        for name, kind, state, target in (("build", "build", Job.State.RUNNING, "team/app:1"),
                                          ("pull", "pull", Job.State.RUNNING, "127.0.0.1:5000/team/app:1"),
                                          ("queued", "build", Job.State.QUEUED, "team/app:2")):
            job = Job.objects.create(kind=kind, state=state, target=target, created_by=builder,
                                     output_limit=10_000_000, params={"tags": [target]} if kind == "build" else {})
            response = client.get(job.get_absolute_url())
            assert response.status_code == 200, response.content[:500]
            pages[name] = (job.pk, response.status_code, dict(response.headers), response.content)
        transaction.set_rollback(True)
    return pages


def serve(route, pages):
    """The rendered pages at their own paths, static files as the server serves them."""
    path = urlsplit(route.request.url).path
    for pk, status, headers, body in pages.values():
        if path == f"/jobs/{pk}/":
            return route.fulfill(status=status, headers=headers, body=body)
    found = finders.find(path.removeprefix("/static/")) if path.startswith("/static/") else None
    if found:
        return route.fulfill(path=found)
    return route.fulfill(status=404, body="not in the harness")


@pytest.fixture(autouse=True)
def _fast_passwords():
    """Shadows the suite's autouse fixture of that name: the pages are rendered
    once for the module (job_pages), with the real hashers."""


def offline_tab(browser, pages, width):
    """A tab whose requests to ORIGIN are answered with `pages` and whose
    websockets are the fake one; yields the page."""
    # The pages come with their real headers; Playwright's polling predicates
    # need eval, which their script-src 'self' forbids.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.route(f"{ORIGIN}/**", lambda route: serve(route, pages))
    page = context.new_page()
    page.set_default_timeout(5000)
    page.add_init_script(path=str(FAKE_WEBSOCKET))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(error))
    yield page
    context.close()


@pytest.fixture(scope="module")
def tab(browser, job_pages):
    """One tab for the module; each test navigates it afresh, which is much
    cheaper than a new context and just as clean: a new document, new globals."""
    yield from offline_tab(browser, job_pages, 1200)


def open_job(tab, job_pages, kind):
    pk = job_pages[kind][0]
    tab.errors.clear()
    tab.goto(f"{ORIGIN}/jobs/{pk}/")
    tab.wait_for_function("window.__sockets.length === 1")
    tab.job_pk = pk
    return tab


@pytest.fixture
def page(tab, job_pages):
    """The page of a running build."""
    yield open_job(tab, job_pages, "build")
    assert not tab.errors, tab.errors


def pause_clock(page):
    """Stop the fake clock (installed, it runs with real time): from here only
    run_for moves it, however slow the machine."""
    now = page.evaluate("() => Date.now()") / 1000
    page.clock.pause_at(datetime.fromtimestamp(now + 1, tz=timezone.utc))


@pytest.fixture
def clocked_page(browser, job_pages):
    """The page of a running build in a tab of its own on Playwright's fake
    clock, paused: waits of seconds take none, and a slow machine changes nothing."""
    tabs = offline_tab(browser, job_pages, 1200)
    tab = next(tabs)
    tab.clock.install()
    page = open_job(tab, job_pages, "build")
    pause_clock(page)
    page.clock.run_for(1)  # the socket opens
    yield page
    assert not page.errors, page.errors
    tabs.close()


@pytest.fixture
def pull_page(tab, job_pages):
    yield open_job(tab, job_pages, "pull")
    assert not tab.errors, tab.errors


def ws_url(page, after):
    return f"ws://dockyard.test/ws/jobs/{page.job_pk}/?after={after}"


LINE_TEXTS = "() => [...document.querySelectorAll('#job-log .line')].map((line) => line.textContent)"

# Each line as a list of [class, text] for its child nodes ("" for text outside a span).
LINE_PARTS = """() => [...document.querySelectorAll('#job-log .line')].map((line) =>
  [...(line.normalize(), line.childNodes)].map((node) =>
    [node.nodeType === 1 ? node.className : '', node.textContent]))"""

AT_BOTTOM = "() => { const log = document.getElementById('job-log');" \
            " return log.scrollHeight - log.scrollTop - log.clientHeight < 4; }"


def push(page, message, socket=-1):
    page.evaluate("([message, socket]) => window.__sockets.at(socket).push(message)", [message, socket])


def lines(first, last, text="line {}"):
    return {"type": "lines", "lines": [[seq, text.format(seq)] for seq in range(first, last + 1)]}


def settle(page):
    """Two frames: whatever job.js queued has been rendered."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def wait_lines(page, count, timeout=5000):
    page.wait_for_function("count => document.getElementById('job-log').dataset.lines === String(count)",
                           arg=count, timeout=timeout)
    settle(page)


def sockets(page):
    return page.evaluate("() => window.__sockets.map((socket) => socket.url)")


def test_connects_after_zero(page):
    assert sockets(page) == [ws_url(page, 0)]


def test_lines_in_order_and_duplicates_ignored(page):
    push(page, lines(1, 3))
    push(page, lines(2, 5))  # 2 and 3 again
    push(page, {"type": "lines", "lines": [[4, "line 4 again"], [1, "line 1 again"], [6, "line 6"]]})
    wait_lines(page, 6)
    assert page.evaluate(LINE_TEXTS) == [f"line {n}" for n in range(1, 7)]
    assert page.get_attribute("#job", "data-last-seq") == "6"


def test_html_in_a_line_shows_literally(page):
    payload = """<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> & "quotes" 'too' &amp;"""
    push(page, {"type": "lines", "lines": [[1, payload]]})
    wait_lines(page, 1)
    assert page.evaluate(LINE_TEXTS) == [payload]
    assert page.locator("#job-log img, #job-log script").count() == 0
    assert page.evaluate("() => window.__xss") is None


def test_ansi_colours_become_classes(page):
    push(page, {"type": "lines", "lines": [
        [1, "\x1b[31mred\x1b[0m plain"],
        [2, "\x1b[1;32mbold green"],
        [3, "still\x1b[39m default \x1b[44mon blue\x1b[49;22m"],
        [4, "\x1b[38;5;196mx256\x1b[0m \x1b]0;window title\x07osc \x1b[2Kcsi\x1b[?25l \x1b(Bcharset"],
        [5, "\x1b[38;2;0;0;250mtruecolour\x1b[m \x1b[3;4;97;100mstyled\x1b[23;24m\x1b[2mdim\x1b"],
    ]})
    wait_lines(page, 5)
    assert page.evaluate(LINE_PARTS) == [
        [["ansi-fg-1", "red"], ["", " plain"]],
        [["ansi-bold ansi-fg-2", "bold green"]],
        [["ansi-bold ansi-fg-2", "still"], ["ansi-bold", " default "], ["ansi-bold ansi-bg-4", "on blue"]],
        [["ansi-fg-9", "x256"], ["", " osc csi charset"]],
        [["ansi-fg-4", "truecolour"], ["", " "], ["ansi-italic ansi-underline ansi-fg-15 ansi-bg-8", "styled"],
         ["ansi-dim ansi-fg-15 ansi-bg-8", "dim"]],
    ]
    text = page.text_content("#job-log")
    assert "\x1b" not in text and "[3" not in text and "title" not in text


def test_carriage_return_keeps_what_was_written_last(page):
    push(page, {"type": "lines", "lines": [
        [1, "Downloading 10%\rDownloading 55%\rDownloading 100%"],
        [2, "\x1b[33mwarming up\rready"],
        [3, "\x1b[0mdone\r"],
        [4, "a\r\r"],
    ]})
    wait_lines(page, 4)
    assert page.evaluate(LINE_PARTS) == [
        [["", "Downloading 100%"]],
        [["ansi-fg-3", "ready"]],  # the colour set in the overwritten part still applies
        [["", "done"]],
        [["", "a"]],
    ]


def test_clipped_marker_shown_once(page):
    clipped = {"type": "clipped", "after": 3, "before": 12349, "dropped_lines": 12345, "dropped_bytes": 4_200_000}
    push(page, lines(1, 3))
    push(page, clipped)
    push(page, clipped)
    push(page, lines(12349, 12350))
    push(page, {**clipped, "before": 12351})  # the stored log clipped again; these lines were seen live
    wait_lines(page, 5)
    texts = page.evaluate(LINE_TEXTS)
    assert texts == ["line 1", "line 2", "line 3",
                     "… 12,345 lines (4.2 MB) clipped here; download the log for what was kept …",
                     "line 12349", "line 12350"]
    assert page.locator("#job-log .log-clipped").count() == 1
    assert page.get_attribute("#job-log .log-clipped a", "href").endswith(f"/jobs/{page.job_pk}/log.txt")
    assert page.get_attribute("#job", "data-last-seq") == "12350"


def test_clipped_marker_after_a_reconnect_inside_the_gap(page):
    # Lines 1-50 were seen live; the stored log then lost 4-100, and the replay
    # after a reconnect resumes at 101.
    push(page, lines(1, 50))
    push(page, {"type": "clipped", "after": 3, "before": 101, "dropped_lines": 97, "dropped_bytes": 9700})
    push(page, lines(101, 102))
    wait_lines(page, 52)
    assert page.evaluate(LINE_TEXTS)[49:] == [
        "line 50", "… 50 lines clipped here; download the log for what was kept …", "line 101", "line 102"]


def test_state_succeeded_updates_the_page_and_ends_the_connection(clocked_page):
    page = clocked_page
    image_id = "sha256:" + "0123456789ab" * 5 + "cdef"
    assert page.locator("#job-cancel").is_visible()  # the builder's own running job
    push(page, {"type": "state", "state": "succeeded", "image_id": image_id,
                "image_url": "/images/" + image_id[7:] + "/", "error": "", "duration": 125.2})
    assert page.locator("#job-cancel").is_hidden()
    state = page.locator("#job-state")
    assert state.text_content() == "succeeded"
    assert state.get_attribute("class") == "state state-succeeded"
    assert page.get_attribute("#job", "data-state") == "succeeded"
    assert page.text_content("#job-duration") == "2 min 5 s"
    image = page.locator("#job-image")
    assert image.is_visible()
    assert image.text_content() == "0123456789ab"
    assert image.get_attribute("href") == "/images/" + image_id[7:] + "/"
    assert page.locator("#job-error").is_hidden()
    page.evaluate("() => window.__sockets[0].drop(1000)")
    page.clock.run_for(60_000)  # a minute of the page's time: far beyond the longest backoff
    assert len(sockets(page)) == 1


def test_the_state_is_read_out_when_it_changes_and_the_log_is_not(page):
    status = page.get_by_role("status").filter(has_text="Build")  # the search has a status of its own
    assert status.get_attribute("aria-live") == "polite" and status.get_attribute("aria-atomic") == "true"
    # A log to find and read, but not a live region: a replay of its lines must not be read out.
    assert page.get_by_role("log", name=f"Output of build #{page.job_pk}").get_attribute("aria-live") == "off"
    page.evaluate("""() => {
      window.__changes = 0;
      new MutationObserver((records) => { window.__changes += records.length; }).observe(
        document.getElementById("job-status"), { subtree: true, childList: true, characterData: true });
    }""")
    running = {"type": "state", "state": "running", "image_id": None, "image_url": None, "error": "", "duration": None}
    push(page, running)  # as every (re)connect sends it
    assert page.evaluate("() => new Promise((done) => setTimeout(() => done(window.__changes)))") == 0
    push(page, {**running, "state": "succeeded", "duration": 125.2})
    assert " ".join(status.text_content().split()) == "Build succeeded 2 min 5 s"


def test_state_failed_shows_the_error(page):
    push(page, {"type": "state", "state": "failed", "image_id": None, "image_url": None,
                "error": "The command '/bin/sh -c make' returned a non-zero code: 2 <b>", "duration": 12.3})
    assert page.text_content("#job-state") == "failed"
    assert page.get_attribute("#job-state", "class") == "state state-failed"
    assert page.text_content("#job-duration") == "12.3 s"
    assert page.locator("#job-image").is_hidden()
    error = page.locator("#job-error")
    assert error.is_visible()
    assert error.text_content() == "The command '/bin/sh -c make' returned a non-zero code: 2 <b>"
    assert page.locator("#job-error b").count() == 0


def test_image_url_must_be_a_web_address(page):
    push(page, {"type": "state", "state": "succeeded", "image_id": "sha256:" + "ab" * 32,
                "image_url": "javascript:alert(1)", "error": "", "duration": None})
    assert page.locator("#job-image").is_hidden()
    assert page.text_content("#job-duration") == ""


JITTER = 1.2  # socket.js waits up to a fifth longer, so that tabs come back spread out


def drop_and_reconnect(page, longest_wait):
    """Drop the newest socket, let the fake clock run past the longest wait,
    and return how long the page waited before its next socket."""
    before = len(sockets(page))
    page.evaluate("() => window.__sockets.at(-1).drop()")
    page.clock.run_for(int(longest_wait * JITTER) + 1)
    assert len(sockets(page)) == before + 1, f"no new socket within {longest_wait * JITTER} ms"
    return page.evaluate("() => window.__sockets.at(-1).openedAt - window.__sockets.at(-2).closedAt")


def test_reconnects_after_an_unexpected_close(clocked_page):
    page = clocked_page
    push(page, lines(1, 3))
    page.clock.run_for(100)  # frames too run on the fake clock
    assert page.get_attribute("#job-log", "data-lines") == "3"
    after_a_message = drop_and_reconnect(page, 500)
    assert sockets(page)[1] == ws_url(page, 3)
    push(page, lines(2, 4))  # the server replays from its own idea of where the viewer was
    page.clock.run_for(100)
    assert page.evaluate(LINE_TEXTS) == [f"line {n}" for n in range(1, 5)]

    # A socket that closes before saying anything doubles the wait; a message resets it.
    again_after_a_message = drop_and_reconnect(page, 500)
    after_a_silent_socket = drop_and_reconnect(page, 1000)
    assert 500 <= after_a_message <= 500 * JITTER + 1
    assert 500 <= again_after_a_message <= 500 * JITTER + 1
    assert 1000 <= after_a_silent_socket <= 1000 * JITTER + 1
    assert sockets(page)[3] == ws_url(page, 4)


def test_steps(page):
    steps = [
        {"number": 1, "total": 3, "instruction": "FROM debian:12", "status": "done", "duration": 0.21, "error": ""},
        {"number": 2, "total": 3, "instruction": "COPY . /src", "status": "cached", "duration": None, "error": ""},
        {"number": 3, "total": 3, "instruction": "RUN make <b>all</b>", "status": "failed", "duration": 1.52,
         "error": "make: *** [all] Error 2"},
    ]
    push(page, {"type": "steps", "steps": steps[:2]})
    push(page, {"type": "steps", "steps": steps})
    items = page.locator("#job-steps > li")
    assert items.count() == 3
    assert [items.nth(n).get_attribute("class") for n in range(3)] == [
        "step step-done", "step step-cached", "step step-failed"]
    assert items.nth(0).locator(".step-number").text_content() == "Step 1/3"
    assert items.nth(0).locator(".step-duration").text_content() == "0.2 s"
    assert items.nth(1).locator(".badge").text_content() == "cached"
    assert items.nth(0).locator(".badge").count() == 0
    failed = page.locator("#job-steps > li.step-failed")
    assert failed.locator(".step-instruction").text_content() == "RUN make <b>all</b>"
    assert failed.locator("b").count() == 0
    assert failed.locator(".step-error").text_content() == "make: *** [all] Error 2"
    assert failed.locator(".step-duration").text_content() == "1.5 s"
    push(page, {"type": "steps", "steps": steps})
    assert page.evaluate("() => window.__scrolledIntoView.length") == 1


def test_step_changes_update_the_list_from_connect(page):
    def step(number, status, instruction="RUN make"):
        return {"number": number, "total": 3, "instruction": instruction, "status": status,
                "duration": 0.5 if status != "running" else None, "error": ""}

    push(page, {"type": "steps", "steps": [step(1, "done", "FROM debian:12")]})
    push(page, {"type": "step", "step": step(2, "running")})
    push(page, {"type": "step", "step": step(2, "cached")})
    push(page, {"type": "step", "step": step(3, "running", "RUN test")})
    items = page.locator("#job-steps > li")
    assert [items.nth(n).get_attribute("class") for n in range(items.count())] == [
        "step step-done", "step step-cached", "step step-running"]
    assert items.nth(2).locator(".step-instruction").text_content() == "RUN test"
    # A reconnect sends the stored list again: it replaces what was there.
    push(page, {"type": "steps", "steps": [step(1, "done"), step(2, "cached"), step(3, "done", "RUN test")]})
    push(page, {"type": "step", "step": {"number": "x"}})
    assert [items.nth(n).get_attribute("class") for n in range(items.count())] == [
        "step step-done", "step step-cached", "step step-done"]


def test_progress(pull_page):
    page = pull_page
    layers = [
        {"id": "a1b2c3d4e5f6", "status": "Downloading", "current": 1_234_567, "total": 5_678_901},
        {"id": "0f0f0f0f0f0f", "status": "Waiting", "current": 0, "total": 0},
        {"id": "9e8d7c6b5a4f", "status": "Extracting", "current": 999, "total": 2000},
    ]
    push(page, {"type": "progress", "layers": layers, "digest": None})
    rows = page.locator("#job-progress .layer")
    assert rows.count() == 3
    assert [rows.nth(n).locator(".layer-id").text_content() for n in range(3)] == [
        "a1b2c3d4e5f6", "0f0f0f0f0f0f", "9e8d7c6b5a4f"]
    bar = rows.nth(0).get_by_role("progressbar", name="Layer a1b2c3d4e5f6")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [1_234_567, 5_678_901]
    assert rows.nth(2).get_by_role("progressbar", name="Layer 9e8d7c6b5a4f").count() == 1
    assert rows.nth(0).locator(".layer-bytes").text_content() == "1.23 MB / 5.68 MB"
    assert rows.nth(1).locator("progress").count() == 0
    assert rows.nth(1).locator(".layer-status").text_content() == "Waiting"
    assert rows.nth(2).locator(".layer-bytes").text_content() == "999 B / 2.00 kB"
    assert page.locator("#job-digest").is_hidden()

    done = [{**layer, "status": "Pull complete", "current": 0, "total": 0} for layer in layers]
    digest = "sha256:" + "fe" * 32
    push(page, {"type": "progress", "layers": done, "digest": digest})
    assert rows.count() == 3
    assert page.locator("#job-progress progress").count() == 0
    assert page.locator("#job-digest").is_visible()
    assert page.text_content("#job-digest") == "Digest: " + digest


def test_follow(page):
    push(page, lines(1, 300))
    wait_lines(page, 300)
    assert page.evaluate(AT_BOTTOM)
    page.evaluate("() => { document.getElementById('job-log').scrollTop = 0; }")
    page.wait_for_function("!document.getElementById('job-follow').checked")
    push(page, lines(301, 400))
    wait_lines(page, 400)
    assert page.evaluate("() => document.getElementById('job-log').scrollTop") == 0

    page.check("#job-follow")
    page.wait_for_function(AT_BOTTOM)
    page.evaluate("() => { document.getElementById('job-log').scrollTop -= 500; }")
    page.wait_for_function("!document.getElementById('job-follow').checked")
    page.evaluate("() => { const log = document.getElementById('job-log'); log.scrollTop = log.scrollHeight; }")
    page.wait_for_function("document.getElementById('job-follow').checked")
    push(page, lines(401, 500))
    wait_lines(page, 500)
    assert page.evaluate(AT_BOTTOM)


def test_100000_lines_stay_responsive(page):
    page.evaluate("""() => {
      window.__longestTask = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.__longestTask = Math.max(window.__longestTask, entry.duration);
      }).observe({ type: "longtask" });
    }""")
    started = time.perf_counter()
    for first in range(1, 100_001, 1000):
        # Built in the page: the cost measured is job.js's, not the test's.
        page.evaluate("""first => {
          const lines = [];
          for (let seq = first; seq < first + 1000; seq++) {
            lines.push([seq, seq % 10 ? `step ${seq}: compiling src/module_${seq}.c -O2 <ok> & done`
                                      : `\\x1b[1;32mINFO\\x1b[0m ${seq} 50%\\r\\x1b[1;32mINFO\\x1b[0m ${seq} 100%`]);
          }
          window.__sockets[0].push({ type: "lines", lines });
        }""", first)
    pushed = time.perf_counter() - started
    wait_lines(page, 100_000, timeout=60_000)
    shown = time.perf_counter() - started

    longest = page.evaluate("() => window.__longestTask")
    longest = f"{longest:.0f} ms" if longest else "none over 50 ms"
    # Printed, not asserted: how long this takes is the machine's, not job.js's (bench 25
    # times it). What keeps the page responsive is asserted: only the rows in view are drawn.
    print(f"\n100,000 lines: pushed in {pushed:.2f} s, all shown after {shown:.2f} s;"
          f" longest main-thread task: {longest}")

    assert page.locator("#job-log .log-row").count() < 200
    assert page.text_content("#L100000 .line") == "INFO 100000 100%"
    assert page.get_attribute("#job", "data-last-seq") == "100000"
    assert page.evaluate(AT_BOTTOM)
    page.evaluate("() => { document.getElementById('job-log').scrollTop = 0; }")
    expect(page.locator("#L1 .line")).to_have_text("step 1: compiling src/module_1.c -O2 <ok> & done")
    expect(page.locator("#L10 .line")).to_have_text("INFO 10 100%")
    assert page.locator("#job-log .log-row").count() < 200


def test_a_build_page_has_no_progress_and_a_pull_page_no_steps(page, tab, job_pages):
    """The job page renders the steps list only for builds, and the layers and
    digest only for pulls and pushes; a message for the other kind changes nothing."""
    step = {"number": 1, "total": 1, "instruction": "FROM scratch", "status": "done", "duration": 0.1, "error": ""}
    progress = {"type": "progress", "layers": [{"id": "abc", "status": "Waiting", "current": 0, "total": 0}],
                "digest": "sha256:" + "ab" * 32}
    for kind, missing in (("build", "#job-progress, #job-digest"), ("pull", "#job-steps")):
        page = open_job(tab, job_pages, kind)
        assert page.locator(missing).count() == 0
        push(page, {"type": "steps", "steps": [step]})
        push(page, progress)
        push(page, lines(1, 2))
        wait_lines(page, 2)
        assert page.locator("#job-steps li").count() == (1 if kind == "build" else 0)
        assert page.locator("#job-progress .layer").count() == (0 if kind == "build" else 1)
        assert not page.errors, page.errors


def test_a_queued_jobs_note_that_no_worker_serves_it_follows_the_workers_and_goes_once_it_runs(tab, job_pages):
    page = open_job(tab, job_pages, "queued")
    note = page.locator("#job-no-worker")
    push(page, {"type": "state", "state": "queued", "image_id": None, "image_url": None, "error": "",
                "duration": None})
    push(page, {"type": "workers", "present": False})
    assert note.is_visible()
    assert "No worker for engine default" in note.text_content()
    push(page, {"type": "workers", "present": True})
    assert note.is_hidden()
    push(page, {"type": "workers", "present": False})
    assert note.is_visible()
    push(page, {"type": "state", "state": "running", "image_id": None, "image_url": None, "error": "",
                "duration": 1})
    assert note.is_hidden()
    push(page, {"type": "workers", "present": False})  # late, from before it started
    assert note.is_hidden()
    assert not page.errors, page.errors


def test_a_running_jobs_clock_ticks_outside_the_status_and_the_final_duration_is_read_out(clocked_page):
    page = clocked_page
    elapsed, duration = page.locator("#job-elapsed"), page.locator("#job-duration")
    push(page, {"type": "state", "state": "running", "image_id": None, "image_url": None, "error": "", "duration": 5})
    assert elapsed.is_visible() and duration.text_content() == ""
    assert elapsed.text_content() == "5.0 s"  # where the server says it stands
    page.clock.run_for(1200)
    assert elapsed.text_content() == "6.2 s"
    assert page.locator("#job-status #job-elapsed").count() == 0  # not read out as it ticks
    push(page, {"type": "state", "state": "succeeded", "image_id": None, "image_url": None, "error": "",
                "duration": 9.5})
    assert elapsed.is_hidden() and duration.text_content() == "9.5 s"
    page.clock.run_for(60_000)  # the clock stopped with the job
    assert duration.text_content() == "9.5 s" and elapsed.is_hidden()


def test_the_compare_link_appears_when_the_build_ends_with_another_image(tab, job_pages):
    page = open_job(tab, job_pages, "queued")
    compare = page.locator("#job-compare")
    assert compare.is_hidden()  # nothing to compare while it waits
    push(page, {"type": "state", "state": "failed", "image_id": None, "image_url": None, "error": "no", "duration": 1})
    assert compare.is_hidden()
    made = "sha256:" + "b" * 64
    push(page, {"type": "state", "state": "succeeded", "image_id": made, "image_url": "/images/" + "b" * 64 + "/",
                "error": "", "duration": 2})
    expect(compare).to_be_visible()
    assert compare.get_by_role("link", name="Compare with the previous build of team/app:2").get_attribute("href") == \
        f"/images/diff?a={PREVIOUS_IMAGE.replace(':', '%3A')}&b={made.replace(':', '%3A')}"
    assert not tab.errors, tab.errors


def test_no_compare_link_when_the_build_made_the_same_image(tab, job_pages):
    page = open_job(tab, job_pages, "queued")
    push(page, {"type": "state", "state": "succeeded", "image_id": PREVIOUS_IMAGE, "image_url": "/images/x/",
                "error": "", "duration": 2})
    expect(page.locator("#job-state")).to_have_text("succeeded")
    assert page.locator("#job-compare").is_hidden()
