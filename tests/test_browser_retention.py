"""An admin in Chromium: adds a retention rule, reads its dry run with the bytes,
applies it, restores the image from the quarantine; the Disk page still draws
its plots and links here; axe-core finds nothing serious on the new page."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from images.models import QuarantinedImage
from images.lifecycle import quarantine
from tests import dockerlib
from tests.conftest import log_in
from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report
from tests.test_disk import sampled

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker", "base_image")]


@pytest.fixture
def admin_tab(browser, server, transactional_db, owner):
    # axe is injected inline, which the pages' policy would refuse.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    log_in(page, "owner")
    expect(page.locator("h1")).to_have_text("Images")
    yield page
    context.close()
    for engine_name, name in QuarantinedImage.objects.exclude(file="").values_list("engine", "file"):
        (quarantine.directory(engine_name) / name).unlink(missing_ok=True)


def serious(page):
    return [("retention", violation) for violation in axe_violations(page) if violation["impact"] in FAILING_IMPACTS]


def test_a_rule_its_dry_run_apply_and_restore(admin_tab):
    page = admin_tab
    repository = f"{dockerlib.PREFIX}/ret-ui-{uuid.uuid4().hex[:8]}"
    layer = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/k bs=1024 count=100 && echo {repository}\n"
    dockerlib.build(layer + "LABEL which=keep\n", tags=[f"{repository}:keep"])
    old = dockerlib.build(layer + "RUN dd if=/dev/zero of=/o bs=1024 count=150\n", tags=[f"{repository}:old"])

    page.goto("/disk/retention/")
    page.get_by_label("Repositories (glob)").fill(repository)
    page.get_by_label("Keep tags matching (regular expression)").fill("keep")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator(".messages")).to_contain_text("added")
    expect(page.locator(f'#retention-images tr[data-image-id="{old}"]')).to_contain_text(f"{repository}:old")
    freed = int(page.locator("#retention-bytes").get_attribute("data-bytes"))
    assert 150_000 <= freed < 170_000, freed  # the 150 kB layer; not the 100 kB one `keep` holds
    expect(page.locator("#retention-bytes")).to_contain_text(f"{freed:,} bytes")
    found = serious(page)

    page.get_by_role("button", name=re.compile("^Apply: remove 1 image")).click()
    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=60_000)
    assert not dockerlib.existing(f"{repository}:old")

    page.goto("/disk/retention/")
    row = page.locator(f'#quarantine tr[data-image-id="{old}"]')
    expect(row).to_have_attribute("data-state", "kept")
    found += serious(page)
    row.get_by_role("button", name="Restore").click()
    expect(page.locator(".messages")).to_contain_text("Restored")
    expect(page.locator(f'#quarantine tr[data-image-id="{old}"]')).to_have_attribute("data-state", "restored")
    assert dockerlib.image_id(f"{repository}:old") == old

    sampled(2)
    page.goto("/disk/")
    expect(page.locator('.disk-chart[data-series="total"] canvas')).to_have_count(1)
    expect(page.locator("#disk-retention a")).to_have_attribute("href", "/disk/retention/")
    assert not found, "serious or critical accessibility violations:\n" + report(found)
