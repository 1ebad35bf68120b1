"""A person in Chromium looking inside images: the explorer on the image page,
opened three directories down, filtered to one layer's changes, and the diff
opened from the tag history."""

import re

import pytest
from playwright.sync_api import expect

from images.jobs import control
from images.models import TagMove
from tests import dockerlib, live

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker")]


def indexed(builder, image_id):
    job = live.wait_for_job(control.start_index(builder, image_id))
    assert job.state == "succeeded", job.error
    return job


def test_the_explorer_walks_down_filters_and_opens_a_diff(page, builder):
    repo = dockerlib.unique("browsefiles")
    first = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN mkdir -p /a/b/c && echo deep > /a/b/c/file "
                            "&& echo top > /top\n", tags=[f"{repo}:1"])
    second = dockerlib.build(f"FROM {repo}:1\nRUN echo more > /a/b/c/new && rm /top\n", tags=[f"{repo}:2"])
    indexed(builder, first)
    job = indexed(builder, second)
    # The tag pointed at the first image, then at the second.
    TagMove.record(f"{repo}:2", first, "tag")
    TagMove.record(f"{repo}:2", second, "tag")

    # The index job's page: a bar per layer, with the bytes of its tar read.
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("#job-progress .layer")).to_have_count(3)
    expect(page.locator("#job-progress .layer-status")).to_have_text(["Already indexed", "Already indexed",
                                                                       "Indexed 5 entries"])
    expect(page.locator("#job-progress .layer-bytes").last).to_contain_text(" / ")

    page.goto(f"/images/{second.split(':')[1]}/")
    tree = page.locator("#files-tree")
    expect(tree.locator("> ul.tree > li")).to_have_count(5)  # a, bin, etc, tmp, and /top shown as removed
    for name in ("a", "b", "c"):
        folder = tree.locator("a.tree-dir").filter(has_text=re.compile(f"^{name}/$"))
        folder.click()
        expect(folder).to_have_attribute("aria-expanded", "true")
    deepest = page.locator("#files-tree li li li ul.tree")
    expect(deepest.locator(".tree-name")).to_have_text(["file", "new"])
    expect(deepest.locator(".mark-added .tree-name")).to_have_text(["new"])

    # Only what the top layer changed: /a (something inside it) and /top (removed).
    page.check("#files-changed")
    expect(tree.locator("> ul.tree > li .tree-name")).to_have_text(["a/", "top"])
    expect(tree.locator("> ul.tree > li.mark-removed .tree-name")).to_have_text(["top"])
    # The layer before it changed /a and /top too, by adding them.
    page.locator("input[name=files-layer]").nth(1).check()
    expect(tree.locator("> ul.tree > li.mark-added .tree-name")).to_have_text(["a/", "top"])

    page.locator("a.what-changed").first.click()
    page.wait_for_url("**/images/diff?*")
    expect(page.locator("h1")).to_have_text("Compare images")
    expect(page.locator("#diff-file-totals")).to_contain_text("1 added")
    rows = page.locator("table.diff-files tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.diff-files")).to_contain_text("/a/b/c/new")
    expect(page.locator("table.diff-files")).to_contain_text("/top")
