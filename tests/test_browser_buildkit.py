"""A person in Chromium watches BuildKit builds on their job pages, through the
real worker and engine: two stages running side by side, a vertex's log
opened while it runs, and a failed vertex opened with its Dockerfile line."""

import uuid

import pytest
from playwright.sync_api import expect

from images.models import Job
from tests import dockerlib

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker")]

BASE = dockerlib.BASE_IMAGE
LABEL = f"LABEL {dockerlib.TEST_LABEL}=1\n"


def build_from_the_form(page, dockerfile):
    page.goto("/build/")
    page.select_option("select[name=source]", "dockerfile")
    page.fill("textarea[name=dockerfile_text]", dockerfile)
    page.check("input[name=builder][value=buildkit]")
    page.click("button:has-text('Build')")
    page.wait_for_url("**/jobs/*/")
    return Job.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[1]))


def lane_vertex(page, lane, name_part):
    """The row in lane `lane` ("Stage a") whose name contains `name_part`."""
    return page.locator(".lane", has=page.locator(".lane-name", has_text=lane)).locator(
        ".vertex", has=page.locator(".vertex-name", has_text=name_part))


def test_two_stages_run_side_by_side_and_a_vertex_log_opens(page):
    token = uuid.uuid4().hex[:8]  # a step of its own: nothing cached from an earlier run
    job = build_from_the_form(page, (
        f"FROM {BASE} AS a\n"
        f"RUN echo a-starts-{token} && sleep 4 && echo a-ends-{token} > /a\n"
        f"FROM {BASE} AS b\n"
        f"RUN echo b-starts-{token} && sleep 4 && echo b-ends-{token} > /b\n"
        f"FROM {BASE}\n"
        "COPY --from=a /a /a\nCOPY --from=b /b /b\n"
        f"{LABEL}"))
    a_run, b_run = lane_vertex(page, "Stage a", "RUN echo a-starts"), lane_vertex(page, "Stage b", "RUN echo b-starts")
    # Both at once, on the page, while the build runs.
    page.wait_for_function("""() => ['a', 'b'].every((stage) => [...document.querySelectorAll('#job-graph .lane')]
        .some((lane) => lane.querySelector('.lane-name').textContent === 'Stage ' + stage
          && lane.querySelector('.vertex-running .vertex-name')?.textContent.includes('RUN echo'))
      )""", timeout=60_000)
    expect(a_run.locator(".vertex-state-text")).to_have_text("running")
    expect(b_run.locator(".vertex-state-text")).to_have_text("running")
    assert page.locator("#job-state").text_content() == "running"
    # The two lanes stand side by side (in the order they started).
    left, right = sorted((page.locator(".lane", has=page.locator(".lane-name", has_text=f"Stage {s}")).bounding_box()
                          for s in "ab"), key=lambda box: box["x"])
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 1

    a_run.locator("summary").click()
    log = a_run.locator(".vertex-log")
    expect(log).to_contain_text(f"a-starts-{token}", timeout=30_000)
    expect(log).not_to_contain_text(f"b-starts-{token}")

    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=60_000)
    expect(a_run.locator(".vertex-state-text")).to_have_text("done")
    expect(b_run.locator(".vertex-state-text")).to_have_text("done")
    assert job.pk and page.locator("#job-graph .vertex-running").count() == 0
    # The plain view is the job's lines as they are.
    page.get_by_role("radio", name="Plain log").check()
    expect(page.locator("#job-log")).to_contain_text(f"a-starts-{token}")
    assert page.locator("#job-graph").is_hidden()
    dockerlib.docker("rmi", "-f", Job.objects.get(pk=job.pk).image_id, check=False)


def test_the_failed_vertex_is_opened_with_its_dockerfile_line(page):
    token = uuid.uuid4().hex[:8]
    build_from_the_form(page, (
        f"FROM {BASE} AS quick\n"
        f"RUN echo quick-{token}\n"
        f"FROM {BASE} AS broken\n"
        # The stages run at once, and BuildKit cancels what still runs when one fails:
        # the pause lets the quick stage end first, so that it is truly done.
        f"RUN sleep 1 && echo 'about to fail <b>{token}</b>' && exit 3\n"
        f"FROM {BASE}\n"
        "COPY --from=quick /bin/sh /q\nCOPY --from=broken /bin/sh /b\n"))
    expect(page.locator("#job-state")).to_have_text("failed", timeout=60_000)
    broken = lane_vertex(page, "Stage broken", "exit 3")
    expect(broken.locator(".vertex-state-text")).to_have_text("failed")
    expect(broken.locator("details")).to_have_attribute("open", "")
    expect(broken.locator(".vertex-error")).to_contain_text("exit code: 3")
    link = broken.get_by_role("link", name="Dockerfile line 4")
    expect(link).to_have_attribute("href", "#dockerfile-line-4")
    marked = page.locator("#job-dockerfile li.dockerfile-failed")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("id", "dockerfile-line-4")
    expect(marked.locator("code")).to_have_text(f"RUN sleep 1 && echo 'about to fail <b>{token}</b>' && exit 3")
    expect(broken.locator(".vertex-log")).to_contain_text(f"about to fail <b>{token}</b>")
    assert page.locator("#job-graph b, #job-dockerfile b").count() == 0
    # The other stage says what it truly did.
    expect(lane_vertex(page, "Stage quick", "RUN echo quick").locator(".vertex-state-text")).to_have_text("done")

    # Opened again after the build: the stored graph, the same.
    page.reload()
    expect(broken.locator("details")).to_have_attribute("open", "")
    expect(page.locator("#job-dockerfile li.dockerfile-failed")).to_have_attribute("id", "dockerfile-line-4")
    expect(broken.locator(".vertex-log")).to_contain_text(f"about to fail <b>{token}</b>")
