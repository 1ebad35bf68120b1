"""Open image lists follow the engine: a tag made in a terminal shows up."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests import dockerlib
from tests.test_socket_js import pause_clock

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
def test_an_open_list_shows_a_tag_made_in_the_terminal(page, base_image):
    repo = dockerlib.unique("live-list")
    fetched = []
    page.goto(f"/?q={repo}")
    # Counted from here: the page the fixture opened before (the list unfiltered) may still send a refresh of its
    # own for another test's image event while this one loads (seen in a suite run).
    page.on("request", lambda request: fetched.append(request.url) if request.resource_type == "fetch" else None)
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    expect(page.locator(".empty")).to_have_text("No images match.")
    dockerlib.docker("tag", base_image, f"{repo}:fresh")
    row = page.locator("table.images tbody tr")
    expect(row).to_have_count(1, timeout=4000)
    expect(row.locator("td.repo")).to_have_text(repo)
    expect(row.locator("td.tag")).to_have_text("fresh")
    dockerlib.docker("rmi", f"{repo}:fresh")
    expect(page.locator(".empty")).to_have_text("No images match.", timeout=4000)
    # Each refresh asked for the list's live parts only, with the list's own query.
    queries = [(urlsplit(url).path, parse_qs(urlsplit(url).query)) for url in fetched]
    assert queries and all(query == ("/", {"q": [repo], "fragment": ["live"]}) for query in queries), fetched


@pytest.mark.browser
def test_a_server_that_closes_at_once_is_asked_less_and_less_often(page):
    """A socket that opens and closes at once has not proved the server well:
    the wait before the next attempt doubles (it used to start over on open).
    Playwright's fake clock, paused, runs the page's timers, so a busy machine
    cannot stretch the waits."""
    page.add_init_script(path=str(Path(__file__).parent / "js" / "fake_websocket.js"))
    page.clock.install()
    page.goto("/")
    page.wait_for_load_state()
    pause_clock(page)
    waits = []
    for base in (None, 500, 1000, 2000):
        # Longer than the longest wait (a fifth of jitter), too short to count as steady.
        page.clock.run_for(1 if base is None else int(base * 1.2) + 2)
        assert page.evaluate("() => window.__sockets.at(-1).readyState") == 1
        if base is not None:
            waits.append(page.evaluate("() => window.__sockets.at(-1).openedAt - window.__sockets.at(-2).closedAt"))
        page.evaluate("() => window.__sockets.at(-1).drop()")
    assert page.evaluate("() => window.__sockets.length") == 4
    assert all(base <= wait <= base * 1.2 + 1 for wait, base in zip(waits, (500, 1000, 2000))), waits
