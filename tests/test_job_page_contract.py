"""The contract between the server's job stream and the job page, which
tests/test_job_js.py drives through a hand-written fake socket: the events a
viewer's websocket receives for a real build, recorded and replayed through that
fake socket, make the page show what the live page shows for the same build."""

import pytest
from playwright.sync_api import expect

from tests import dockerlib, live
from tests.conftest import log_in
from tests.test_job_js import FAKE_WEBSOCKET, lines

# The fields of the events tests/test_job_js.py writes by hand, which the server's must have.
HAND_WRITTEN = {"lines": set(lines(1, 1)), "state": {"type", "state", "image_id", "image_url", "error", "duration"}}

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("worker")]

# What a person sees of the job: the markup of each part shown, null for one hidden or absent.
SHOWN = """() => Object.fromEntries([
  "job-state", "job-duration", "job-elapsed", "job-image", "job-cancel", "job-error", "job-no-worker",
  "job-expired", "job-steps", "job-progress", "job-digest", "job-graph-section", "job-log",
].map((id) => {
  const part = document.getElementById(id);
  const shown = Boolean(part) && !part.hidden && part.getClientRects().length > 0;
  if (!shown) return [id, null]; // what a hidden part holds is not seen (the cancel form's token is the tab's own)
  // Nor is the data the server rendered into the page as it stood at load time.
  const seen = part.cloneNode(true);
  seen.querySelectorAll("script").forEach((script) => script.remove());
  return [id, seen.innerHTML];
}))"""


@pytest.mark.parametrize("builder_name, shows", [("classic", ("job-log", "job-steps")),
                                                  ("buildkit", ("job-graph-section",))])
def test_recorded_events_replayed_through_the_fake_socket_show_what_the_live_page_shows(
        browser, server, page, builder_client, builder_session, builder_name, shows):
    # The replaying tab loads the page as a viewer gets it while the build runs, its socket the fake one.
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    replay = context.new_page()
    replay.add_init_script(path=str(FAKE_WEBSOCKET))
    log_in(replay)
    tag = dockerlib.unique("contract") + ":1"
    job = live.start_build(builder_client, (
        f"FROM {dockerlib.BASE_IMAGE}\n"
        f"RUN echo 'first <b>line</b> of {tag}' && sleep 4 && printf '\\033[32mgreen\\033[0m\\nlast\\n'\n"
        f"LABEL {dockerlib.TEST_LABEL}=1\n"), tags=tag, builder=builder_name)
    replay.goto(f"/jobs/{job.pk}/")
    replay.wait_for_function("window.__sockets.length === 1")
    assert replay.get_attribute("#job", "data-state") in ("queued", "running")

    page.goto(f"/jobs/{job.pk}/")  # the live page, on the server's own websocket
    recorder = live.JobSocket(server, builder_session, job.pk)
    try:
        events = list(recorder.events(timeout=90))
    finally:
        recorder.close()
    assert events[-1]["state"] == "succeeded", events[-1]
    assert {"lines", "state"} <= {event["type"] for event in events}
    assert all(set(event) == HAND_WRITTEN[event["type"]] for event in events if event["type"] in HAND_WRITTEN)
    expect(page.locator("#job-state")).to_have_text("succeeded", timeout=30_000)

    for event in events:
        replay.evaluate("(message) => window.__sockets[0].push(message)", event)
    expect(replay.locator("#job-state")).to_have_text("succeeded")
    expect(replay.locator("#job-log")).to_have_attribute("data-lines", page.get_attribute("#job-log", "data-lines"))

    if builder_name == "buildkit":  # the step's output is under its vertex in the graph: open it in both
        for tab in (page, replay):
            tab.locator("#job-graph li.vertex summary", has_text="RUN echo").click()
            expect(tab.locator("#job-graph li.vertex .vertex-log", has_text="last")).to_have_count(1)
    live_view, replayed = page.evaluate(SHOWN), replay.evaluate(SHOWN)
    assert replayed == live_view
    assert live_view["job-image"] and all(live_view[part] for part in shows)
    assert "green" in " ".join(live_view[part] for part in shows)  # printed by the build: only its output has it
    context.close()
