"""A BuildKit build's graph on its job page (static/js/graph.js with job.js), in
a real Chromium, on the page as the job_detail view renders it for real Job
rows: a running build followed through a fake WebSocket
(tests/js/fake_websocket.js) that the tests speak through, and finished builds
opened afterwards, drawn from their stored Job.graph."""

import time

import pytest
from playwright.sync_api import expect
from django.db import transaction
from django.test import Client, override_settings

from images.jobs import logstore
from images.accounts import roles
from images.models import Job
from tests.conftest import make_user
from tests.test_job_js import ORIGIN, lines, offline_tab, push, settle

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

DOCKERFILE = """FROM busybox AS a
RUN sleep 2 && echo a
FROM busybox AS b
RUN echo b
RUN echo '<b>bold</b>' && exit 3
FROM busybox
COPY --from=a /etc/hostname /a
"""
NOW = time.time()
HOSTILE = '<img src=x onerror="window.__xss=1">'


def vertex(n, name, stage="", step="", state="done", started=NOW - 10, completed=NOW - 9, **extra):
    return {"n": n, "digest": f"sha256:{n:064x}", "name": name, "stage": stage, "step": step, "inputs": [],
            "state": state, "started": started, "completed": completed, "cached": state == "cached",
            "error": "", "line": None, "log_lines": 0, "engine_clipped": False, **extra}


# A two-stage build whose stage b fails on line 5 while a runs: as the runner stores it.
GRAPH = {"vertices": [
    vertex(1, "[internal] load build definition from Dockerfile", started=NOW - 12, completed=NOW - 11.9),
    vertex(2, "[internal] load .dockerignore", started=NOW - 12, completed=NOW - 11.9),
    vertex(3, "[a 1/2] FROM docker.io/library/busybox", "a", "1/2", "cached", NOW - 11, NOW - 11, line=1),
    vertex(4, "[b 1/3] FROM docker.io/library/busybox", "b", "1/3", "cached", NOW - 11, NOW - 11, line=3),
    vertex(5, "[a 2/2] RUN sleep 2 && echo a", "a", "2/2", "cancelled", NOW - 10.5, NOW - 9, line=2, log_lines=1),
    vertex(6, "[b 2/3] RUN echo b", "b", "2/3", "done", NOW - 10.5, NOW - 10.4, line=4, log_lines=1),
    vertex(7, f"[b 3/3] RUN echo '<b>bold</b>' && exit 3 {HOSTILE}", "b", "3/3", "failed", NOW - 10.3, NOW - 10.2,
           line=5, log_lines=1,
           error="process \"/bin/sh -c echo '<b>bold</b>' && exit 3\" did not complete successfully: exit code: 3"),
    vertex(8, "[stage-2 1/1] COPY --from=a /etc/hostname /a", "stage-2", "1/1", "waiting", None, None, line=7),
], "transfers": [
    {"vertex": 1, "id": "dockerfile", "name": "transferring dockerfile", "current": 200, "total": 0,
     "completed": True},
], "warnings": []}

GRAPH_LINES = [
    "#1 [internal] load build definition from Dockerfile",
    "#1 transferring dockerfile: 200B done",
    "#1 DONE 0.1s",
    "#2 [internal] load .dockerignore",
    "#2 DONE 0.1s",
    "#3 [a 1/2] FROM docker.io/library/busybox",
    "#3 CACHED",
    "#4 [b 1/3] FROM docker.io/library/busybox",
    "#4 CACHED",
    "#5 [a 2/2] RUN sleep 2 && echo a",
    "#6 [b 2/3] RUN echo b",
    "#6 0.052 b",
    "#6 DONE 0.1s",
    f"#7 [b 3/3] RUN echo '<b>bold</b>' && exit 3 {HOSTILE}",
    "#7 0.049 <b>bold</b>",
    "#7 ERROR: process \"/bin/sh -c echo '<b>bold</b>' && exit 3\" did not complete successfully: exit code: 3",
    "#5 0.601 a",
    "#5 CANCELED",
]


def stored_job(builder, graph, text_lines, state=Job.State.FAILED, params=None):
    job = Job.objects.create(kind=Job.Kind.BUILD, state=state, target="team/app:1", created_by=builder,
                             output_limit=10_000_000, graph=graph, line_count=len(text_lines),
                             params=params or {"builder": "buildkit", "source": "dockerfile",
                                               "dockerfile_text": DOCKERFILE, "dockerfile": "Dockerfile"})
    logstore.store(job.pk, [(seq, text, 0) for seq, text in enumerate(text_lines, 1)])
    return job


@pytest.fixture(scope="module")
def graph_pages(django_db_setup, django_db_blocker):
    """{name: (pk, status, headers, html)}: a running BuildKit build with nothing
    stored yet, the failed one above opened after it ended, and a finished
    build from an uploaded context (no Dockerfile text to show)."""
    pages = {}
    with django_db_blocker.unblock(), override_settings(ALLOWED_HOSTS=["dockyard.test"]), transaction.atomic():
        builder = make_user("builder", roles.BUILDER)
        client = Client(headers={"host": "dockyard.test"})
        client.force_login(builder)
        jobs = {
            "running": stored_job(builder, {}, [], state=Job.State.RUNNING),
            "stored": stored_job(builder, GRAPH, GRAPH_LINES),
            "upload": stored_job(builder, GRAPH, GRAPH_LINES, params={
                "builder": "buildkit", "source": "upload", "dockerfile": "Dockerfile"}),
        }
        for name, job in jobs.items():
            response = client.get(job.get_absolute_url())
            assert response.status_code == 200, response.content[:500]
            pages[name] = (job.pk, response.status_code, dict(response.headers), response.content)
        transaction.set_rollback(True)
    return pages


@pytest.fixture(autouse=True)
def _fast_passwords():
    """Shadows the suite's autouse fixture: pages are rendered once for the module."""


@pytest.fixture(scope="module")
def tab(browser, graph_pages):
    yield from offline_tab(browser, graph_pages, 1280)


def open_page(tab, graph_pages, name):
    tab.errors.clear()
    tab.goto(f"{ORIGIN}/jobs/{graph_pages[name][0]}/")
    tab.wait_for_function("window.__sockets.length === 1 && document.getElementById('job-graph').dataset.ready")
    return tab


@pytest.fixture
def page(tab, graph_pages):
    """The page of the running build, nothing in its graph yet."""
    yield open_page(tab, graph_pages, "running")
    assert not tab.errors, tab.errors


@pytest.fixture
def stored(tab, graph_pages):
    """The failed build, opened after it ended; its socket replays the stored lines."""
    page = open_page(tab, graph_pages, "stored")
    push(page, {"type": "lines", "lines": [[seq, text] for seq, text in enumerate(GRAPH_LINES, 1)]})
    yield page
    assert not tab.errors, tab.errors


# What a reader sees of each lane: its heading, then each row's state, number and name.
LANES = """() => [...document.querySelectorAll('#job-graph .lane')].map((lane) => [
  lane.querySelector('.lane-name').textContent,
  ...[...lane.querySelectorAll('.vertex')].map((row) =>
    [row.querySelector('.vertex-state-text').textContent, row.querySelector('.vertex-n').textContent,
     row.querySelector('.vertex-name').textContent])])"""


def row(page, n):
    return page.locator(f"#job-graph .vertex[data-n='{n}']")


def test_the_stored_graph_in_lanes_by_stage_in_start_order(stored):
    assert stored.evaluate(LANES) == [
        ["Internal", ["done", "#1", GRAPH["vertices"][0]["name"]], ["done", "#2", GRAPH["vertices"][1]["name"]]],
        ["Stage a", ["cached", "#3", "[a 1/2] FROM docker.io/library/busybox"],
         ["cancelled", "#5", "[a 2/2] RUN sleep 2 && echo a"]],
        ["Stage b", ["cached", "#4", "[b 1/3] FROM docker.io/library/busybox"], ["done", "#6", "[b 2/3] RUN echo b"],
         ["failed", "#7", GRAPH["vertices"][6]["name"]]],
        ["Stage stage-2", ["waiting", "#8", "[stage-2 1/1] COPY --from=a /etc/hostname /a"]],
    ]
    # Engine text is text: no element, no script, from a vertex's name or log.
    assert stored.locator("#job-graph img, #job-graph b, #job-graph script").count() == 0
    assert stored.evaluate("() => window.__xss") is None
    assert row(stored, 3).locator(".badge-cached").text_content() == "cache hit"
    assert row(stored, 6).locator(".badge-cached").count() == 0
    assert row(stored, 6).locator(".vertex-duration").text_content() == "0.1 s"
    assert row(stored, 5).locator(".vertex-duration").text_content() == "1.5 s"
    assert row(stored, 8).locator(".vertex-duration").text_content() == ""
    # Each state is said in words and shown with an icon, not by colour alone.
    assert row(stored, 7).locator(".vertex-icon").text_content() == "✗"
    assert row(stored, 7).locator(".vertex-icon").get_attribute("aria-hidden") == "true"
    bar = row(stored, 1).get_by_role("progressbar", name="transferring dockerfile")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [1, 1]
    assert row(stored, 1).locator(".transfer-bytes").text_content() == "200 B · done"


def test_the_failed_vertex_is_open_with_its_error_and_dockerfile_line(stored):
    failed = row(stored, 7)
    assert failed.locator("details").get_attribute("open") == ""
    assert failed.locator(".vertex-error").text_content() == GRAPH["vertices"][6]["error"]
    link = failed.get_by_role("link", name="Dockerfile line 5")
    assert link.get_attribute("href") == "#dockerfile-line-5"
    assert failed.locator(".vertex-source code").text_content() == "RUN echo '<b>bold</b>' && exit 3"
    marked = stored.locator("#job-dockerfile li.dockerfile-failed")
    assert marked.count() == 1
    assert marked.get_attribute("id") == "dockerfile-line-5"
    assert marked.locator(".dockerfile-mark").text_content() == "failed: #7"
    assert stored.locator("#job-dockerfile li").count() == len(DOCKERFILE.splitlines())
    # Only the failed one is open; the others are folded.
    assert stored.locator("#job-graph details[open]").count() == 1
    scrolled = stored.evaluate("() => window.__scrolledIntoView")
    assert len(scrolled) == 1 and scrolled[0].startswith("✗failed#7")
    # Its own log, without its header or ERROR line, and the other stage's truth beside it.
    expect_log(stored, 7, ["0.049 <b>bold</b>"])
    assert row(stored, 5).get_attribute("data-state") == "cancelled"


def test_a_source_without_dockerfile_text_names_the_line(tab, graph_pages):
    page = open_page(tab, graph_pages, "upload")
    assert page.locator("#job-dockerfile").count() == 0
    failed = row(page, 7)
    assert failed.locator(".vertex-source").text_content() == "Dockerfile line 5"
    assert failed.get_by_role("link").count() == 0
    assert not page.errors, page.errors


def expect_log(page, n, texts):
    page.wait_for_function("([n, count]) => document.querySelector(`#job-graph .vertex[data-n='${n}'] .vertex-log`)"
                           ".querySelectorAll('.line').length === count", arg=[n, len(texts)])
    settle(page)
    assert row(page, n).locator(".vertex-log .line").all_text_contents() == texts


def test_a_vertex_log_expands_and_the_plain_view_is_the_lines_as_they_are(stored):
    log = row(stored, 6).locator(".vertex-log")
    assert log.is_hidden()
    row(stored, 6).locator("summary").click()
    assert log.is_visible()
    expect_log(stored, 6, ["0.052 b"])
    assert row(stored, 6).locator(".vertex-log .line-time").text_content() == "0.052 "
    row(stored, 6).locator("summary").click()
    assert log.is_hidden()

    assert stored.locator("#job-log").is_hidden()
    stored.get_by_role("radio", name="Plain log").check()
    assert stored.locator("#job-graph").is_hidden()
    stored.wait_for_function("count => document.getElementById('job-log').dataset.lines === String(count)",
                             arg=len(GRAPH_LINES))
    expect(stored.locator("#job-log .line")).to_have_text(GRAPH_LINES)
    stored.get_by_role("radio", name="Graph").check()
    assert stored.locator("#job-graph").is_visible() and stored.locator("#job-log").is_hidden()


def test_live_events_change_only_the_vertices_they_carry(page):
    started = NOW - 1
    push(page, {"type": "graph", "vertices": [
        vertex(1, "[internal] load build definition from Dockerfile", started=started - 1, completed=started - 0.9),
        vertex(3, "[a 1/2] FROM busybox", "a", "1/2", "running", started, None),
        vertex(4, "[b 1/2] FROM busybox", "b", "1/2", "waiting", None, None),
    ], "transfers": [{"vertex": 1, "id": "context", "name": "transferring context", "current": 1000,
                      "total": 4000, "completed": False}]})
    assert page.get_attribute("#job-graph", "data-vertices") == "3"
    page.evaluate("() => document.querySelectorAll('#job-graph .vertex').forEach((row) => { row.__mark = 1; })")
    first = row(page, 1).locator("summary")
    first.evaluate("summary => { summary.__mark = 1; }")
    bar = row(page, 1).get_by_role("progressbar", name="transferring context")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [1000, 4000]
    assert row(page, 1).locator(".transfer-bytes").text_content() == "1.00 kB / 4.00 kB"

    # #4 starts, in parallel with #3; a new #5 is added; #1 is not in the event.
    push(page, {"type": "graph", "vertices": [
        vertex(4, "[b 1/2] FROM busybox", "b", "1/2", "running", started + 0.1, None),
        vertex(5, "[a 2/2] RUN sleep 2", "a", "2/2", "waiting", None, None),
    ], "transfers": []})
    assert first.evaluate("summary => summary.__mark") == 1  # untouched
    assert page.evaluate("() => [...document.querySelectorAll('#job-graph .vertex')].map((row) => "
                         "[row.dataset.n, row.__mark || 0])") == [["1", 1], ["3", 1], ["5", 0], ["4", 1]]
    assert page.locator("#job-graph .vertex-running").count() == 2
    assert page.evaluate(LANES)[1:] == [
        ["Stage a", ["running", "#3", "[a 1/2] FROM busybox"], ["waiting", "#5", "[a 2/2] RUN sleep 2"]],
        ["Stage b", ["running", "#4", "[b 1/2] FROM busybox"]],
    ]
    # A running vertex's duration ticks on the page between events.
    duration = row(page, 3).locator(".vertex-duration")
    shown = duration.text_content()
    assert shown.endswith(" s")
    page.wait_for_function("([n, shown]) => document.querySelector(`#job-graph .vertex[data-n='${n}'] "
                           ".vertex-duration`).textContent !== shown", arg=[3, shown])

    push(page, {"type": "graph", "vertices": [], "transfers": [
        {"vertex": 1, "id": "context", "name": "transferring context", "current": 4000, "total": 4000,
         "completed": True}]})
    assert bar.evaluate("bar => [bar.value, bar.max]") == [4000, 4000]
    assert row(page, 1).locator(".transfer-bytes").text_content() == "4.00 kB / 4.00 kB · done"


def test_an_open_vertex_log_follows_the_lines_once_across_reconnects(page):
    push(page, {"type": "graph", "vertices": [vertex(2, "[a 2/2] RUN make", "a", "2/2", "running", NOW, None)]})
    push(page, {"type": "lines", "lines": [[1, "#2 [a 2/2] RUN make"], [2, "#2 0.100 one"], [3, "#9 0.1 other"]]})
    row(page, 2).locator("summary").click()
    expect_log(page, 2, ["0.100 one"])
    page.evaluate("() => window.__sockets[0].drop()")
    page.wait_for_function("window.__sockets.length === 2", timeout=3000)
    # The server replays from where it believes the page was: lines 2 and 3 come again.
    push(page, lines(2, 3, "#2 0.200 again {}"))
    push(page, {"type": "lines", "lines": [[4, "#2 0.300 two \x1b[31mred\x1b[0m"], [5, "#2 DONE 0.4s"]]})
    expect_log(page, 2, ["0.100 one", "0.300 two red"])
    assert row(page, 2).locator(".vertex-log .ansi-fg-1").text_content() == "red"


def test_the_engines_clip_is_named_as_the_engines(page):
    push(page, {"type": "graph", "vertices": [
        vertex(2, "[a 2/2] RUN yes | head -c 5000000", "a", "2/2", "done", NOW - 3, NOW - 1, log_lines=40_000,
               engine_clipped=True)]})
    clipped = row(page, 2)
    assert clipped.locator(".badge-engine-clipped").text_content() == "log clipped by BuildKit"
    assert clipped.locator(".vertex-lines").text_content() == "40,000 lines"
    clipped.locator("summary").click()
    assert clipped.locator(".vertex-engine-clipped").text_content().startswith("BuildKit clipped this step's log")
    assert page.locator(".log-clipped").count() == 0  # Dockyard's own cap is another thing


def test_the_plain_view_is_kept_in_the_address_across_a_reload(tab, graph_pages):
    page = open_page(tab, graph_pages, "stored")
    page.get_by_role("radio", name="Plain log").check()
    assert page.url.endswith(f"/jobs/{graph_pages['stored'][0]}/?view=plain")
    page.reload()
    page.wait_for_function("document.getElementById('job-graph').dataset.ready")
    assert page.get_by_role("radio", name="Plain log").is_checked()
    assert page.locator("#job-graph").is_hidden() and page.locator("#job-log").is_visible()
    page.get_by_role("radio", name="Graph").check()
    assert page.url.endswith(f"/jobs/{graph_pages['stored'][0]}/")
    assert not tab.errors, tab.errors


def test_a_single_stage_takes_the_graphs_whole_width(page):
    push(page, {"type": "graph", "vertices": [
        vertex(1, "[internal] load build definition from Dockerfile"),
        vertex(2, "[1/2] FROM docker.io/library/busybox", step="1/2"),
        vertex(3, "[2/2] RUN echo one", step="2/2", state="running", completed=None, inputs=[2])]})
    page.wait_for_function("document.getElementById('job-graph').dataset.stages === '1'")
    graph_width = page.locator("#job-graph").bounding_box()["width"]
    for lane in page.locator("#job-graph .lane").all():
        assert lane.bounding_box()["width"] > 0.95 * graph_width
