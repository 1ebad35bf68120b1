"""A person in Chromium: logs in, builds from the form, watches the output arrive."""

import pytest
from playwright.sync_api import expect

from images.engine import get_engine
from images.lifecycle import tags
from images.models import Job
from tests import dockerlib
from tests.conftest import log_in
from tests.test_accessibility import FAILING_IMPACTS, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker")]

def test_a_build_streams_into_the_job_page_before_it_ends(page):
    tag = dockerlib.unique("browser") + ":1"
    page.goto("/build/")
    page.select_option("select[name=source]", "dockerfile")
    page.fill("textarea[name=dockerfile_text]", (
        f"FROM {dockerlib.BASE_IMAGE}\n"
        "RUN echo 'first line from the build' && sleep 4 && printf '\\033[32mgreen <b>done</b>\\033[0m\\n'\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"))
    page.fill("input[name=tags]", tag)
    page.check("input[name=builder][value=classic]")  # the classic builder's steps list, counted below
    page.click("button:has-text('Build')")
    page.wait_for_url("**/jobs/*/")

    log = page.locator("#job-log")
    expect(log).to_contain_text("first line from the build", timeout=30_000)
    # Seen while the build still runs: the RUN step sleeps after printing.
    assert page.locator("#job-state").text_content() == "running"
    assert Job.objects.get().state == "running"

    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#job-cancel")).to_be_hidden()
    expect(log).to_contain_text("green <b>done</b>")
    assert page.locator("#job-log b").count() == 0
    assert page.locator("#job-log .ansi-fg-2").first.text_content().startswith("green")
    image = page.locator("#job-image")
    expect(image).to_be_visible()
    job = Job.objects.get()
    assert image.get_attribute("href") == f"/images/{job.image_hex}/"
    steps = page.locator("#job-steps li")
    expect(steps).to_have_count(3)
    image.click()
    expect(page.locator("h1")).to_have_text(tag)


def test_a_viewer_sees_what_they_may_do_and_a_sixth_live_page_says_why_it_stopped(page, builder):
    from images.accounts import roles

    roles.assign(builder, roles.VIEWER)  # each request reads the role afresh
    first, context = page, page.context
    first.goto("/")
    expect(first.locator("header nav")).to_have_text("Images Jobs Disk")  # no Build, Pull, Import, ...; Disk shows a viewer its totals
    expect(first.locator(".list-actions")).not_to_contain_text("Prune")
    first.goto("/build/")
    expect(first.locator("#refusal")).to_contain_text("Your role (viewer) does not allow this")

    # The test server allows five live pages a person (tests/live.py).
    pages = [first]
    for _ in range(4):
        pages.append(context.new_page())
    for tab in pages:
        tab.goto("/")
        expect(tab.locator("body")).to_have_attribute("data-live", "connected")
    sixth = context.new_page()
    sixth.goto("/")
    expect(sixth.locator(".stream-refused")).to_contain_text("too many Dockyard pages streaming")
    pages[0].close()  # one tab fewer, and a reload follows again
    sixth.reload()
    expect(sixth.locator("body")).to_have_attribute("data-live", "connected")
    expect(sixth.locator(".stream-refused")).to_have_count(0)


@pytest.fixture
def csp_free_page(browser, server, builder):
    """A builder's tab that lets axe-core be injected (the pages' policy allows only the site's own scripts)."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    log_in(tab)
    expect(tab.locator("h1")).to_have_text("Images")
    yield tab
    context.close()


def test_a_rollback_asks_first_so_a_second_click_moves_nothing(csp_free_page, builder, base_image):
    page = csp_free_page
    repo = dockerlib.unique("rollback")
    one = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=one-{repo}\n", tags=[f"{repo}:one"])
    two = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=two-{repo}\n", tags=[f"{repo}:two"])
    release = f"{repo}:release"
    tags.add_tag(get_engine(), one, release, builder)
    tags.add_tag(get_engine(), two, release, builder, allow_move=True)
    one12, two12 = one[7:19], two[7:19]

    page.goto(f"/images/{two[7:]}/")
    page.locator("#image-tag-history").get_by_role("link", name="Roll back").click()
    expect(page.locator("h1")).to_have_text(f"Move tag {release} from {two12} to {one12}?")
    assert dockerlib.image_id(release) == two  # asking moved nothing
    assert [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS] == []
    page.get_by_role("button", name="Move it back").click()

    expect(page.locator(".messages")).to_contain_text(f"{release} points at {one12} again.")
    expect(page.locator("h1")).to_have_text(f"{repo}:one")
    assert dockerlib.image_id(release) == one
    # The same button on this page now offers the opposite move, and only asks.
    page.locator("#image-tag-history").get_by_role("link", name="Roll back").first.click()
    expect(page.locator("h1")).to_have_text(f"Move tag {release} from {one12} to {two12}?")
    page.get_by_role("link", name=f"Keep it on {one12}").click()
    expect(page.locator("h1")).to_have_text(f"{repo}:one")
    assert dockerlib.image_id(release) == one


def test_push_beside_a_tag_with_no_registry_host_asks_naming_docker_hub(csp_free_page, base_image):
    page = csp_free_page
    repo = dockerlib.unique("hubpush")
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which={repo}\n", tags=[f"{repo}:1"])
    page.goto(f"/images/{image[7:]}/")
    page.locator("#image-tag-list li", has_text=f"{repo}:1").get_by_role("button", name="push").click()
    expect(page.locator("h1")).to_have_text(f"Push to docker.io/{repo}:1?")
    assert [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS] == []
    assert not Job.objects.exists()
