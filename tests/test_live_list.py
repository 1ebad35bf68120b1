"""Open image lists follow the engine: a tag made in a terminal shows up."""

import json

import pytest
from playwright.sync_api import expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests import dockerlib
from tests.test_browser import browser, page  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("event_listener")


def images_socket(server, session):
    return connect(f"{server.ws_url}/ws/images/", open_timeout=10,
                   additional_headers={"Cookie": f"sessionid={session}", "Origin": server.url})


def test_a_tag_from_the_terminal_reaches_an_open_socket(builder_session, server, base_image):
    tag = dockerlib.unique("live") + ":1"
    with images_socket(server, builder_session) as socket:
        dockerlib.docker("tag", base_image, tag)
        events = []
        while not any(event.get("tag") == tag for event in events):
            events.append(json.loads(socket.recv(timeout=5)))
    assert [e for e in events if e.get("tag") == tag][0]["action"] == "tag"


def test_anonymous_sockets_are_refused(server, transactional_db):
    with pytest.raises(InvalidStatus):
        images_socket(server, "nobody")


@pytest.mark.browser
def test_an_open_list_shows_a_tag_made_in_the_terminal(page, base_image):  # noqa: F811
    repo = dockerlib.unique("live-list")
    page.goto(f"/?q={repo}")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    expect(page.locator(".empty")).to_have_text("No images match.")
    dockerlib.docker("tag", base_image, f"{repo}:fresh")
    row = page.locator("table.images tbody tr")
    expect(row).to_have_count(1, timeout=4000)
    expect(row.locator("td.repo")).to_have_text(repo)
    expect(row.locator("td.tag")).to_have_text("fresh")
    dockerlib.docker("rmi", f"{repo}:fresh")
    expect(page.locator(".empty")).to_have_text("No images match.", timeout=4000)
