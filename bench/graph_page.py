"""`make bench` scenario 32: a BuildKit build's job page with a stored graph of
300 vertices (12 stages of 25 steps, each step 5 lines of log) opened in
Chromium, timed from navigation to the graph drawn and one row opened with its
log shown: what a person waits for before they can read a step's output.

The time is the page's own clock (performance.now(), which starts with the
navigation), read as the opened row shows its last line; the lines come over
the job's websocket, as on any page opened after a build.
"""

import os
import statistics

from images.jobs import logstore
from images.models import Job

STAGES, STEPS, LOG_LINES = 12, 25, 5
REPEAT = int(os.environ.get("BENCH_GRAPH_REPEAT", 5))
OPENED = 150  # the vertex opened: one in the middle


def _graph_job(user):
    """A failed build's row with its graph and lines, as the runner stores them."""
    vertices, lines, dockerfile = [], [], []
    start = 1_764_693_000.0
    for stage in range(STAGES):
        name = f"s{stage:02d}"
        dockerfile.append(f"FROM busybox AS {name}")
        for step in range(1, STEPS + 1):
            n = len(vertices) + 1
            dockerfile.append(f"RUN echo {name} step {step} && sleep 0.1")
            state = "cached" if step <= 3 else "failed" if n == 299 else "done"
            started = start + stage * 0.01 + step
            text = f"[{name} {step}/{STEPS}] RUN echo {name} step {step} && sleep 0.1"
            vertices.append({
                "n": n, "digest": f"sha256:{n:064x}", "name": text, "stage": name, "step": f"{step}/{STEPS}",
                "inputs": [n - 1] if step > 1 else [], "state": state, "started": started,
                "completed": started + 0.8, "cached": state == "cached",
                "error": "exit code: 3" if state == "failed" else "", "line": len(dockerfile),
                "log_lines": LOG_LINES, "engine_clipped": False,
            })
            lines.append(f"#{n} {text}")
            lines += [f"#{n} 0.{i}00 {name} step {step} line {i}" for i in range(1, LOG_LINES + 1)]
            lines.append(f"#{n} ERROR: exit code: 3" if state == "failed" else f"#{n} DONE 0.8s")
    job = Job.objects.create(
        kind=Job.Kind.BUILD, state=Job.State.FAILED, target="dockyard-bench/graph:1", created_by=user,
        output_limit=100_000_000, line_count=len(lines), error="exit code: 3",
        graph={"vertices": vertices, "transfers": [], "warnings": []},
        params={"builder": "buildkit", "source": "dockerfile", "dockerfile": "Dockerfile",
                "dockerfile_text": "\n".join(dockerfile) + "\n"})
    logstore.store(job.pk, [(seq, text, 0) for seq, text in enumerate(lines, 1)])
    return job, len(vertices)


# Resolves once the opened row shows its whole log, with the page's clock.
OPENED_LOG = """([n, count]) => {
  const log = document.querySelector(`#job-graph .vertex[data-n='${n}'] .vertex-log`);
  return log && log.querySelectorAll('.line').length === count && performance.now();
}"""


def scenario_graph_page(record, fmt, server, session, user):
    """`session` is `user`'s session cookie, for the browser."""
    from playwright.sync_api import sync_playwright

    job, count = _graph_job(user)
    # Playwright's sync API keeps an event loop in this thread; the ORM is done with above.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            # Playwright's polling predicates need eval, which the pages' script-src 'self' forbids.
            context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900},
                                          bypass_csp=True)
            context.add_cookies([{"name": "sessionid", "value": session, "url": server.url}])
            page = context.new_page()
            for _ in range(REPEAT + 1):  # the first warms the server and the browser's cache
                page.goto(job.get_absolute_url(), wait_until="commit")
                page.wait_for_function("count => document.getElementById('job-graph')?.dataset.vertices"
                                       " === String(count)", arg=count, timeout=30_000)
                page.locator(f"#job-graph .vertex[data-n='{OPENED}'] summary").click()
                shown = page.wait_for_function(OPENED_LOG, arg=[OPENED, LOG_LINES], timeout=30_000).json_value()
                times.append(shown / 1000)
            rows = page.locator("#job-graph .vertex").count()
            browser.close()
    finally:
        job.delete()
    times = times[1:]
    median = statistics.median(times)
    record(f"32. Graph page, {count} vertices and {count * (LOG_LINES + 2):,} lines, interactive in Chromium",
           median, None, "<1 s from navigation to the graph drawn and a row's log open",
           median < 1.0 and rows == count,
           f"runs: [{', '.join(fmt(t) for t in times)}]; {rows} rows drawn")
