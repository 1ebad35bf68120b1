"""The suite's own manners: a run keeps to its own images on a shared engine,
and what the test process allows itself does not reach the processes it starts."""

import os
import subprocess
import sys

from tests import dockerlib, live


def _names_in_a_fresh_run(**env):
    """The label and base image a run would use, from a fresh interpreter."""
    clean = {key: value for key, value in os.environ.items() if key != "DOCKYARD_TEST_RUN"}
    result = subprocess.run(
        [sys.executable, "-c", "from tests import dockerlib; print(dockerlib.TEST_LABEL, dockerlib.BASE_IMAGE)"],
        cwd=live.ROOT, env={**clean, **env}, capture_output=True, text=True, check=True)
    return tuple(result.stdout.split())


def test_two_runs_without_a_name_label_and_name_only_their_own_images():
    first, second = _names_in_a_fresh_run(), _names_in_a_fresh_run()
    assert first[0] != second[0] and first[1] != second[1]
    assert first[0].startswith("dockyard.test.") and first[1].startswith("dockyard-test/base-")
    # A named run keeps its name (the lead's and the helpers' runs set one).
    assert _names_in_a_fresh_run(DOCKYARD_TEST_RUN="Suite") == ("dockyard.test.suite", "dockyard-test/base-suite:latest")


def _environment_of(pid):
    entries = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    return dict(entry.decode(errors="replace").split("=", 1) for entry in entries if b"=" in entry)


def test_a_server_started_beside_a_browser_keeps_djangos_async_guard(browser, live_settings):
    # The browser is open: this process allows itself sync ORM calls beside Playwright's loop.
    assert os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE") == "true"
    with live.own_server(live_settings, "isolation") as server:
        environment = _environment_of(server.process.pid)
    assert "DJANGO_ALLOW_ASYNC_UNSAFE" not in environment
    assert environment["DOCKYARD_TEST_RUN"] == dockerlib.RUN  # it agrees with this process on the run
