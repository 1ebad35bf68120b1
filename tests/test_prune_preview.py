"""The prune page's preview against what the prune then does: the images it
lists are those the engine removes for the same filters, and its bytes are
the engine's SpaceReclaimed (layers that kept images share stay)."""

import html
import re
import uuid

import pytest
from django.urls import reverse

from tests import dockerlib
from tests.apiclient import bearer


def exists(image_id):
    return dockerlib.docker("image", "inspect", "--format", "{{.Id}}", image_id, check=False).strip() == image_id


@pytest.fixture
def prunable(base_image):
    """Two labelled dangling images: both on a 400 kB layer that a kept, tagged
    image and a foreign dangling image (without the label) have too, sharing a
    300 kB layer no kept image has, the second with a 200 kB layer of its own."""
    run = uuid.uuid4().hex[:8]
    # The run's own label with a value of this test's: a prune of the shared engine takes only the run's images.
    label = f"{dockerlib.TEST_LABEL}=prune-{run}"
    kept_layer = f"FROM {dockerlib.BASE_IMAGE}\nRUN dd if=/dev/zero of=/kept bs=1024 count=400\n"
    shared_layer = kept_layer + "RUN dd if=/dev/zero of=/shared bs=1024 count=300\n"
    own = {
        "kept": dockerlib.build(kept_layer + f"LABEL which=kept-{run}\n", tags=[f"{dockerlib.PREFIX}/kept-{run}:1"]),
        "first": dockerlib.build(shared_layer + f"LABEL which=first-{run}\n", label_value=f"prune-{run}"),
        "second": dockerlib.build(shared_layer + f"RUN dd if=/dev/zero of=/own bs=1024 count=200\n"
                                  f"LABEL which=second-{run}\n", label_value=f"prune-{run}"),
    }
    foreign = dockerlib.build(kept_layer + f"RUN dd if=/dev/zero of=/foreign bs=1024 count=100\n"
                              f"LABEL which=foreign-{run}\n")
    return {"label": label, "foreign": foreign, **own}


def preview(client, **filters):
    page = html.unescape(client.get(reverse("images-prune"), filters).content.decode())
    listed = set(re.findall(r'data-image-id="(sha256:[0-9a-f]{64})"', page))
    freed = re.search(r'id="prune-bytes"[^>]*>.*?\(([\d,]+) bytes\)', page, re.S)
    return page, listed, int(freed[1].replace(",", "")) if freed else None


def test_the_preview_lists_only_what_the_filters_prune_and_the_bytes_it_frees(owner, owner_client, prunable):
    page, listed, freed = preview(owner_client, label=prunable["label"])
    assert listed == {prunable["first"], prunable["second"]}
    by_api = bearer(owner).get("/api/prune", {"label": prunable["label"]}).json()
    assert (set(by_api["images"]), by_api["bytes_freed"]) == (listed, freed)
    response = owner_client.post(reverse("images-prune"), {"confirm": "yes", "label": prunable["label"]},
                                 follow=True)
    done = re.search(r"Pruned (\d+) image\(s\), reclaiming .*? \(([\d,]+) bytes\)", response.content.decode())
    reclaimed = int(done[2].replace(",", ""))
    assert int(done[1]) == 2
    # The 300 kB layer once and the 200 kB one; not the 400 kB one that kept images share.
    assert 500_000 < reclaimed < 560_000
    assert abs(freed - reclaimed) <= reclaimed / 100, (freed, reclaimed)
    assert not exists(prunable["first"]) and not exists(prunable["second"])
    assert exists(prunable["foreign"]) and exists(prunable["kept"])


def test_the_filters_come_before_the_list(owner_client, prunable):
    page, _, _ = preview(owner_client)
    assert page.index('name="label"') < page.index('data-image-id=')
    assert prunable["foreign"] in page


def test_a_bad_label_filter_is_refused_and_prunes_nothing(owner_client, prunable):
    page, listed, _ = preview(owner_client, label="a b")
    assert "A label filter is key or key=value" in page and not listed
    response = owner_client.post(reverse("images-prune"), {"confirm": "yes", "label": "a b"}, follow=True)
    assert "Nothing pruned" in response.content.decode()
    assert exists(prunable["first"])


@pytest.mark.browser
def test_an_admin_sees_the_bytes_a_labelled_prune_frees_then_reclaims(browser, server, transactional_db, prunable):
    from playwright.sync_api import expect

    from tests.conftest import log_in, make_user
    from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report

    make_user("owner", "admin")
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    log_in(page, "owner")
    page.goto(reverse("images-prune"))
    page.get_by_label("Only images with the label").fill(prunable["label"])
    page.get_by_role("button", name="Show what would go").click()
    expect(page.locator("#prune-count")).to_have_text("2")
    expect(page.locator("#prune-images li")).to_have_count(2)
    shown = page.locator("#prune-bytes").inner_text()
    freed = int(re.search(r"\(([\d,]+) bytes\)", shown)[1].replace(",", ""))
    serious = [("prune page", v) for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS]
    assert not serious, report(serious)
    page.get_by_role("button", name="Prune").click()
    message = page.get_by_text(re.compile(r"Pruned 2 image\(s\), reclaiming"))
    expect(message).to_be_visible()
    reclaimed = int(re.search(r"\(([\d,]+) bytes\)", message.inner_text())[1].replace(",", ""))
    assert reclaimed > 500_000 and abs(freed - reclaimed) <= reclaimed / 100, (freed, reclaimed)
    assert exists(prunable["foreign"]) and exists(prunable["kept"])
    context.close()
