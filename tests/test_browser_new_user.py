"""The new user's path once more, in Chromium on the real server, on an engine
that holds other people's images: find an image by repo:tag, prune by a label
with the bytes shown before equal (within 1%) to the bytes the engine reports
freed, remove three tags of one image as one image, roll a tag back through its
confirmation, and change one's own password."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from images.engine import get_engine
from images.lifecycle import tags
from tests import dockerlib
from tests.conftest import CHROMIUM_ARGS, PASSWORDS, log_in, make_user  # noqa: F401

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-Fresh-passw0rd-for-owner"


def exists(reference):
    return dockerlib.docker("image", "inspect", "--format", "{{.Id}}", reference, check=False).strip() != ""


def bytes_in(text):
    return int(re.search(r"\(([\d,]+) bytes\)", text)[1].replace(",", ""))


@pytest.fixture
def admin(browser, server, transactional_db):
    owner = make_user("owner", "admin")
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, "owner")
    expect(page.locator("h1")).to_have_text("Images")
    yield page, owner
    context.close()


def test_the_new_users_path(admin, base_image, event_listener):
    page, owner = admin
    repo = dockerlib.unique("newcomer")
    value = f"newcomer-{repo.rsplit('-', 1)[1]}"
    label = f"{dockerlib.TEST_LABEL}={value}"
    # Someone else's dangling image, and one image with three tags.
    foreign = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo someone else > /f\n")
    three = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo three > /t\n",
                            tags=[f"{repo}:a", f"{repo}:b", f"{repo}:c"])
    # Two dangling images of this test's, labelled, sharing a layer with each other but with no kept image.
    shared = f"FROM {dockerlib.BASE_IMAGE}\nRUN head -c 300000 /dev/urandom > /shared\n"
    doomed = [dockerlib.build(shared + f"RUN head -c 200000 /dev/urandom > /own{n}\n", label_value=value)
              for n in range(2)]

    # 1. Find by repo:tag.
    page.get_by_label("Search").fill(f"{repo}:b")
    page.get_by_label("Search").press("Enter")
    rows = page.locator("table.images tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"{repo}")
    expect(rows.first).to_contain_text("b")

    # 2. Prune by a label: what the preview says it frees is what the engine reclaims.
    page.goto(reverse("images-prune"))
    page.get_by_label("Only images with the label").fill(label)
    page.get_by_role("button", name="Show what would go").click()
    expect(page.locator("#prune-images li")).to_have_count(2)
    promised = bytes_in(page.locator("#prune-bytes").inner_text())
    page.get_by_role("button", name="Prune").click()
    message = page.get_by_text(re.compile(r"Pruned 2 image\(s\), reclaiming"))
    expect(message).to_be_visible()
    reclaimed = bytes_in(message.inner_text())
    assert reclaimed > 300_000 and abs(promised - reclaimed) <= reclaimed / 100, (promised, reclaimed)
    assert not any(exists(image) for image in doomed) and exists(foreign) and exists(three)

    # 3. Three tags of one image, ticked on the list, are one image to remove.
    page.goto(f"/?q={repo}")
    for tag in "abc":
        page.get_by_label(f"Select {repo}:{tag}").check()
    page.get_by_role("button", name="Remove selected…").click()
    expect(page.locator("h1")).to_have_text("Remove 1 image?")
    page.get_by_role("button", name="Remove").click()
    expect(page.locator(".messages")).not_to_contain_text("Not removed")
    assert not exists(three) and exists(foreign)

    # 4. A rollback asks first, naming what moves from where to where.
    one = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=one-{repo}\n", tags=[f"{repo}:one"])
    two = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL which=two-{repo}\n", tags=[f"{repo}:two"])
    release = f"{repo}:release"
    tags.add_tag(get_engine(), one, release, owner)
    tags.add_tag(get_engine(), two, release, owner, allow_move=True)
    page.goto(f"/images/{two[7:]}/")
    page.locator("#image-tag-history").get_by_role("link", name="Roll back").click()
    expect(page.locator("h1")).to_have_text(f"Move tag {release} from {two[7:19]} to {one[7:19]}?")
    assert dockerlib.image_id(release) == two
    page.get_by_role("button", name="Move it back").click()
    expect(page.locator(".messages")).to_contain_text(f"{release} points at {one[7:19]} again.")
    assert dockerlib.image_id(release) == one

    # 5. One's own password, on the account page.
    page.get_by_role("link", name="owner").click()
    page.get_by_role("link", name="Change your password").click()
    page.locator("input[name=old_password]").fill(PASSWORDS["owner"])
    page.locator("input[name=new_password1]").fill(NEW_PASSWORD)
    page.locator("input[name=new_password2]").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.locator(".messages")).to_contain_text("Your password is changed.")
    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Images")
