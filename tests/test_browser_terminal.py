"""A TTY run's terminal in the job page, in Chromium on the real server, worker
and engine: its owner types and sees the output; a viewer in a second browser
watches the same output and cannot type (not through the page, nor with frames
of their own); a shell of the owner's own; the run's end seen live
(what it changed, the commit form, no shell button); no serious or critical axe issue."""

import re

import pytest
from playwright.sync_api import expect

from images.lifecycle import runs
from tests.conftest import log_in, make_user
from tests.test_accessibility import FAILING_IMPACTS, axe_violations, report
from tests.test_terminal_socket import end, start_tty_run

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker")]


def row(page, where, pattern):
    """A row of the terminal `where` whose whole text matches `pattern`."""
    return page.locator(f"{where} .xterm-rows > div").filter(has_text=re.compile(rf"^\s*{pattern}\s*$"))


def type_into(page, where, line):
    page.locator(f"{where} .xterm").click()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


@pytest.fixture
def tty_run(builder):
    job = start_tty_run(builder)
    yield job
    end(job)


@pytest.fixture
def viewer_page(browser, server, transactional_db):
    make_user("viewer", "viewer")
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page, "viewer")
    expect(page.locator("h1")).to_have_text("Images")
    yield page
    context.close()


def test_the_terminal_is_drawn_with_its_styles(page, tty_run):
    """xterm.js writes <style> elements: the page's policy lets them apply (else
    its text is the page's dark grey on black, in no fixed width)."""
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(tty_run.get_absolute_url())
    # Keys typed before the socket is open go nowhere (seen on a loaded machine).
    expect(page.locator("#run-terminal .terminal-status")).to_contain_text("Connected")
    type_into(page, "#run-terminal", "echo drawn")
    expect(row(page, "#run-terminal", "drawn")).to_have_count(1)
    colour = row(page, "#run-terminal", "drawn").evaluate("element => getComputedStyle(element).color")
    assert (colour, refused) == ("rgb(255, 255, 255)", [])  # xterm's own foreground


def test_the_owner_types_and_a_viewer_watches_but_cannot_type(page, viewer_page, tty_run):
    page.goto(tty_run.get_absolute_url())
    viewer_page.goto(tty_run.get_absolute_url())
    expect(page.locator("#run-terminal .terminal-status")).to_contain_text("Connected")
    expect(viewer_page.locator("#run-terminal .terminal-status")).to_contain_text("Connected: you watch")

    type_into(page, "#run-terminal", "echo hi; ls /")
    for where in (page, viewer_page):
        expect(row(where, "#run-terminal", "hi")).to_have_count(1)
        expect(row(where, "#run-terminal", r"bin\s+dev\s+etc\s+proc\s+sys\s+tmp")).to_have_count(1)

    # The viewer types into the page's terminal, then sends frames of its own, as a hostile script would.
    type_into(viewer_page, "#run-terminal", "touch /viewer-was-here")
    viewer_page.evaluate("""url => new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.onopen = () => {
        socket.send(JSON.stringify(["stdin", "touch /viewer-was-here\\r"]));
        socket.send(JSON.stringify(["set_size", 5, 5]));
        resolve();
      };
      socket.onerror = reject;
    })""", viewer_page.locator("#run-terminal").get_attribute("data-ws-url"))
    type_into(page, "#run-terminal", "echo after-$((3+4)); stty size")
    expect(row(page, "#run-terminal", "after-7")).to_have_count(1)
    size = row(page, "#run-terminal", r"\d+ \d+")
    expect(size).to_have_count(1)
    assert size.inner_text().split() != ["5", "5"]
    expect(row(viewer_page, "#run-terminal", "after-7")).to_have_count(1)
    for where in (page, viewer_page):
        expect(where.locator("#run-terminal .xterm-rows")).not_to_contain_text("viewer-was-here")
    assert "/viewer-was-here" not in {change.path for change in runs.changes(tty_run)}
    expect(viewer_page.locator("#run-shell-open")).to_have_count(0)


def test_the_owner_opens_a_shell_of_their_own(page, tty_run):
    page.goto(tty_run.get_absolute_url())
    page.click("#run-shell-open")
    expect(page.locator("#run-shell .terminal-status")).to_contain_text("Connected")
    type_into(page, "#run-shell", "echo shell-$((6*7))")
    expect(row(page, "#run-shell", "shell-42")).to_have_count(1)
    expect(page.locator("#run-terminal .xterm-rows")).not_to_contain_text("shell-42")


def test_a_run_seen_ending_shows_what_it_changed_and_no_shell_button_without_a_reload(page, tty_run):
    page.goto(tty_run.get_absolute_url())
    expect(page.locator("#run-terminal .terminal-status")).to_contain_text("Connected")
    expect(page.locator("#run-shell-open")).to_be_visible()
    expect(page.locator("#run-commit")).to_have_count(0)
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    type_into(page, "#run-terminal", "touch /made-live; exit")
    expect(page.locator("#job-state")).to_have_text("succeeded")
    expect(page.locator("#run-changes")).to_contain_text("/made-live")
    expect(page.locator("#run-commit button[type=submit]")).to_have_text("Save as image")
    expect(page.locator("#run-commit input[name=csrfmiddlewaretoken]")).to_have_count(1)
    expect(page.locator("#run-shell-open")).to_have_count(0)
    assert page.evaluate("window.loadedOnce") is True


def test_the_job_page_with_its_terminal_has_no_serious_or_critical_issue(browser, server, builder, tty_run):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    log_in(page)
    page.goto(tty_run.get_absolute_url())
    expect(page.locator("#run-terminal .terminal-status")).to_contain_text("Connected")
    type_into(page, "#run-terminal", "echo a11y-$((1+1))")
    expect(row(page, "#run-terminal", "a11y-2")).to_have_count(1)
    page.click("#run-shell-open")
    expect(page.locator("#run-shell .terminal-status")).to_contain_text("Connected")
    violations = axe_violations(page)
    context.close()
    found = [("TTY run job", violation) for violation in violations if violation["impact"] in FAILING_IMPACTS]
    assert not found, "serious or critical accessibility violations:\n" + report(found)
