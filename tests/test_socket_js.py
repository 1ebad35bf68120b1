"""static/js/socket.js, the reconnecting websocket of the job page and the live
lists, in a real Chromium on a page of its own (tests/js/socket_harness.html),
with the fake WebSocket of tests/js/fake_websocket.js and Playwright's fake clock,
so that waits of seconds take none."""

import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent / "js"
HARNESS = (HERE / "socket_harness.html").resolve().as_uri()
JITTER = 1.2  # socket.js waits up to a fifth longer, so that tabs come back spread out


@pytest.fixture(autouse=True)
def _fast_passwords():
    """Shadows the suite's autouse fixture of that name: no Django here."""


@pytest.fixture(scope="module")
def tab(browser):
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(path=str(HERE / "fake_websocket.js"))
    page.clock.install()
    yield page
    context.close()


def pause_clock(page):
    """Stop the fake clock (installed, it runs with real time): from here only
    run_for moves it, however slow the machine."""
    now = page.evaluate("() => Date.now()") / 1000
    page.clock.pause_at(datetime.fromtimestamp(now + 1, tz=timezone.utc))


@pytest.fixture
def page(tab):
    tab.goto(HARNESS)
    pause_clock(tab)
    tab.evaluate("""() => {
      window.__events = [];
      window.__retry = true;
      Dockyard.follow({
        url: () => `ws://dockyard.test/${window.__sockets.length}`,
        onOpen: () => window.__events.push("open"),
        onMessage: (message) => window.__events.push(message),
        onClose: () => window.__events.push("close"),
        retry: () => window.__retry,
      });
    }""")
    tab.clock.run_for(1)  # the first socket opens
    return tab


def count(page):
    return page.evaluate("() => window.__sockets.length")


def close_and_reconnect(page, expected_wait):
    """Drop the newest socket; let at most the longest wait for `expected_wait`
    pass (too short for the new socket to count as steady); return the wait."""
    before = count(page)
    page.evaluate("() => window.__sockets.at(-1).drop()")
    page.clock.run_for(math.ceil(expected_wait * JITTER) + 1)
    assert count(page) == before + 1, f"no new socket within {expected_wait * JITTER} ms"
    return page.evaluate("() => window.__sockets.at(-1).openedAt - window.__sockets.at(-2).closedAt")


def stay_open(page, ms):
    """Let the newest socket have been open `ms` in all."""
    opened_ago = page.evaluate("() => performance.now() - window.__sockets.at(-1).openedAt")
    page.clock.run_for(max(0, math.ceil(ms - opened_ago)))


def assert_wait(wait, expected):
    assert expected <= wait <= expected * JITTER + 1, (wait, expected)


def test_each_socket_that_closes_without_a_word_doubles_the_wait(page):
    for expected in (500, 1000, 2000, 4000, 8000, 10000, 10000):
        assert_wait(close_and_reconnect(page, expected), expected)


def test_a_message_starts_the_wait_over(page):
    for expected in (500, 1000, 2000):
        close_and_reconnect(page, expected)
    page.evaluate("() => window.__sockets.at(-1).push({type: 'lines'})")
    assert_wait(close_and_reconnect(page, 500), 500)
    assert {"type": "lines"} in page.evaluate("() => window.__events")


def test_a_socket_open_for_five_seconds_starts_the_wait_over(page):
    for expected in (500, 1000):
        close_and_reconnect(page, expected)
    stay_open(page, 4900)  # silent, and not quite long enough
    assert_wait(close_and_reconnect(page, 2000), 2000)
    stay_open(page, 5050)  # the steady time counts from the open, just after the socket is made
    assert_wait(close_and_reconnect(page, 500), 500)


def test_it_asks_for_the_address_afresh_each_time(page):
    close_and_reconnect(page, 500)
    close_and_reconnect(page, 1000)
    assert page.evaluate("() => window.__sockets.map((socket) => socket.url)") == [
        "ws://dockyard.test/0", "ws://dockyard.test/1", "ws://dockyard.test/2"]
    assert page.evaluate("() => window.__events") == ["open", "close", "open", "close", "open"]


def test_it_stops_when_told_not_to_retry(page):
    page.evaluate("() => { window.__retry = false; window.__sockets.at(-1).drop(); }")
    page.clock.run_for(60_000)
    assert count(page) == 1
