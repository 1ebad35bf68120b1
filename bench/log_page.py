"""`make bench` scenario 25: the job page's log at a million lines, in Chromium.

A finished job of 1,000,000 stored lines, written straight into storage (the
page is what is timed, not a build), opened in Chromium:
- first lines: from navigation to line 1 drawn;
- `#L900000`: from navigation to line 900,000 drawn, in view;
- search: from submitting a search for the last line's text to that line drawn,
  highlighted and in view;
- while scrolling through the log the ways a reader does (the mouse wheel over
  it, dragging its scroll bar from top to bottom, then a jump to somewhere else
  every frame for 2 s): the longest main-thread task (a PerformanceObserver for
  long tasks, the target's measure) and the page's JavaScript heap afterwards.
  A long task is wall time: on a loaded machine the main thread waits for a
  core inside a task. So the scroll is also traced (Chromium's tracing), and
  the main thread's CPU time in its longest task is reported beside it: the
  page's own work, whatever the load;
and a running job's page sent 100,000 lines in one message (through the fake
socket of tests/js/fake_websocket.js, so the lines come as fast as the page can
take them): from the message to its last line drawn. Before the virtualised
list, that took 6.1 s (2.3 s before line links).

Every time is the page's own clock (performance.now()).
"""

import json
import os
from pathlib import Path

from bench.report import REPEAT, median, record
from images.jobs import logstore
from images.models import Job

LINES = 1_000_000
LINKED = 900_000
APPENDED = 100_000
START_MS = 1_765_000_000_000
LAST_TEXT = "LAST-LINE-MARKER: the build is done"
FAKE_WEBSOCKET = Path(__file__).resolve().parent.parent / "tests" / "js" / "fake_websocket.js"

# Resolves with the page's clock once line `seq` is drawn with text, in view (and, with `current`, the current match).
SHOWN = """([seq, current]) => {
  const row = document.getElementById('L' + seq);
  if (!row || !row.querySelector('.line').textContent || (current && !row.classList.contains('current'))) return false;
  const box = row.getBoundingClientRect(), log = document.getElementById('job-log').getBoundingClientRect();
  return box.height > 0 && box.top >= log.top && box.bottom <= log.bottom && performance.now();
}"""

SEARCH = """text => {
  document.getElementById('job-search-q').value = text;
  window.__searched = performance.now();
  document.getElementById('job-search').requestSubmit();
}"""

WATCH_LONG_TASKS = """() => {
  window.__longestTask = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longestTask = Math.max(window.__longestTask, entry.duration);
  }).observe({ type: 'longtask' });
}"""

# A jump to somewhere else in the log each frame for 2 s; resolves with the longest task (ms) and the heap (bytes).
JUMP_AROUND = """() => new Promise((done) => {
  const log = document.getElementById('job-log');
  const until = performance.now() + 2000;
  let step = 0;
  const jump = () => {
    step += 1;
    log.scrollTop = (log.scrollHeight * ((step * 0.37) % 1)) | 0;
    if (performance.now() < until) requestAnimationFrame(jump);
    else setTimeout(() => done([window.__longestTask, performance.memory ? performance.memory.usedJSHeapSize : 0]), 300);
  };
  requestAnimationFrame(jump);
})"""

WHEEL_TURNS = 60  # 100 px each, a frame apart: a quick flick down the log
DRAG_STEPS = 60  # the scroll bar's thumb, from the top to the bottom of its track
SCROLLBAR_INSET = 6  # px from the log's right edge: on Chromium's scroll bar (15 px wide)
THUMB_TOP = 20  # px from the log's top: on the thumb, below the bar's arrow button (15 px), when at the top
TRACED = ["devtools.timeline", "disabled-by-default-devtools.timeline"]


def _scroll_as_a_reader(page):
    """Wheel, drag and jumps over the log; (longest task ms, JS heap bytes, scrollTop the drag reached / its most)."""
    # The whole log in the window (a search's match may have scrolled it partly out), its bar in reach.
    page.evaluate("document.getElementById('job-log').scrollIntoView({block: 'start'})")
    box = page.locator("#job-log").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(WHEEL_TURNS):
        page.mouse.wheel(0, 100)
        page.wait_for_timeout(16)
    page.evaluate("document.getElementById('job-log').scrollTop = 0")
    page.wait_for_timeout(100)
    x, top = box["x"] + box["width"] - SCROLLBAR_INSET, box["y"] + THUMB_TOP
    page.mouse.move(x, top)
    page.mouse.down()
    for step in range(1, DRAG_STEPS + 1):
        page.mouse.move(x, top + (box["height"] - 2 * THUMB_TOP) * step / DRAG_STEPS)
        page.wait_for_timeout(16)
    page.mouse.up()
    dragged = page.evaluate("(log => log.scrollTop / (log.scrollHeight - log.clientHeight))"
                            "(document.getElementById('job-log'))")
    task, heap = page.evaluate(JUMP_AROUND)
    return task, heap, dragged


def _longest_task_cpu_ms(trace):
    """The main thread's CPU time (ms) in its longest task, and in its busiest, from a Chromium trace."""
    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    tasks = [e for e in events if e.get("ph") == "X" and e.get("name") == "RunTask" and (e["pid"], e["tid"]) in main
             and "dur" in e and "tdur" in e]
    if not tasks:
        return 0.0, 0.0
    longest = max(tasks, key=lambda e: e["dur"])
    return longest["tdur"] / 1000, max(e["tdur"] for e in tasks) / 1000

APPEND = """count => {
  const lines = [];
  for (let seq = 1; seq <= count; seq++) {
    lines.push([seq, seq % 10 ? `step ${seq}: compiling src/module_${seq}.c -O2 <ok> & done`
                              : `\\x1b[1;32mINFO\\x1b[0m ${seq} 50%\\r\\x1b[1;32mINFO\\x1b[0m ${seq} 100%`, 0]);
  }
  window.__appended = performance.now();
  window.__sockets[0].push({ type: 'lines', lines });
}"""


def _million_line_job(user):
    texts = [f"compiling unit {n} of the big build" for n in range(1, LINES + 1)]
    texts[-1] = LAST_TEXT
    job = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED, target="dockyard-bench/log:1",
                             created_by=user, output_limit=1 << 40, line_count=LINES, params={"builder": "classic"})
    logstore.store(job.pk, [(seq, text, START_MS + seq) for seq, text in enumerate(texts, 1)])
    return job


def scenario_log_page(server, session, user):
    """`session` is `user`'s session cookie, for the browser."""
    from playwright.sync_api import sync_playwright

    job = _million_line_job(user)
    running = Job.objects.create(kind=Job.Kind.BUILD, state=Job.State.RUNNING, target="dockyard-bench/log:2",
                                 created_by=user, output_limit=1 << 40, params={"builder": "classic"})
    # Playwright's sync API keeps an event loop in this thread; the ORM is done with above.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    first, linked, searched, appended, longest, heap = [], [], [], [], [], []
    longest_cpu, busiest_cpu, dragged = [], [], []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu",
                                                       "--enable-precise-memory-info"],
                                                 # Headless hides scroll bars; a reader drags one.
                                                 ignore_default_args=["--hide-scrollbars"])
            # Playwright's polling predicates need eval, which the pages' script-src 'self' forbids.
            context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900},
                                          bypass_csp=True)
            context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
            page = context.new_page()
            url = job.get_absolute_url()
            for _ in range(REPEAT + 1):  # the first warms the server and the browser's cache
                page.goto(url, wait_until="commit")
                first.append(page.wait_for_function(SHOWN, arg=[1, False], timeout=60_000).json_value() / 1000)
                page.goto("about:blank")
                page.goto(f"{url}#L{LINKED}", wait_until="commit")
                linked.append(page.wait_for_function(SHOWN, arg=[LINKED, False], timeout=60_000).json_value() / 1000)
                page.evaluate(SEARCH, "last-line-marker")
                shown = page.wait_for_function(SHOWN, arg=[LINES, True], timeout=60_000).json_value()
                searched.append((shown - page.evaluate("window.__searched")) / 1000)
                page.evaluate(WATCH_LONG_TASKS)
                browser.start_tracing(page=page, categories=TRACED)
                task, used, reached = _scroll_as_a_reader(page)
                in_longest, in_busiest = _longest_task_cpu_ms(browser.stop_tracing())
                longest.append(task)
                heap.append(used)
                longest_cpu.append(in_longest)
                busiest_cpu.append(in_busiest)
                dragged.append(reached)
            live = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
            live.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
            live.add_init_script(path=str(FAKE_WEBSOCKET))
            live_page = live.new_page()
            for _ in range(REPEAT + 1):
                live_page.goto(running.get_absolute_url())
                live_page.wait_for_function("window.__sockets.length === 1")
                live_page.evaluate(APPEND, APPENDED)
                shown = live_page.wait_for_function(SHOWN, arg=[APPENDED, False], timeout=60_000).json_value()
                appended.append((shown - live_page.evaluate("window.__appended")) / 1000)
            rows = live_page.locator("#job-log .log-row").count()
            browser.close()
    finally:
        job.delete()
        running.delete()
    first, linked, searched, appended, longest, heap, longest_cpu, busiest_cpu, dragged = (
        runs[1:] for runs in (first, linked, searched, appended, longest, heap, longest_cpu, busiest_cpu, dragged))
    load = os.getloadavg()[0]
    scroll = (f"while scrolling (wheel, a drag of the scroll bar to {min(dragged):.0%} of the way, a jump a frame): "
              f"longest main-thread task {max(longest):.0f} ms (target ≤50 ms; wall time, at load {load:.1f} on "
              f"{os.cpu_count()} cores), of which the main thread ran {max(longest_cpu):.0f} ms; the most CPU any "
              f"task took {max(busiest_cpu):.0f} ms; JS heap {max(heap) / 1e6:.0f} MB (target <300 MB)")
    name = f"25. Log page, a finished job of {LINES:,} stored lines in Chromium"
    record(f"{name}: first lines shown", first, "<1 s from navigation", median(first) < 1.0, detail=scroll)
    record(f"{name}: #L{LINKED} shown", linked, "<1 s from navigation", median(linked) < 1.0)
    record(f"{name}: search for the last line, its match shown", searched, "<1 s from submitting",
           median(searched) < 1.0)
    record(f"25. Log page, {APPENDED:,} lines appended at once to a running job's page", appended,
           "faster than before the virtualised list (6.1 s; 2.3 s before line links)", median(appended) < 2.3,
           detail=f"{rows} rows in the DOM")
