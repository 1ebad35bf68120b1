"""The event listener outlives its engine's restart: a tag made in a terminal
after the engine is back still reaches an open image list. On a second dockerd
of the tests' own (tests/live.SecondEngine): the shared one is never restarted."""

import json
import time

import pytest

from tests import dockerlib, live
from tests.test_live_list import images_socket


@pytest.fixture
def on_second_engine(live_settings, second_engine):
    """An event listener and a server on the second engine, with a channel
    prefix of their own so that the shared engine's events stay out."""
    env = live.process_env(live_settings["queue"], f"{live_settings['prefix']}-second",
                           DOCKER_HOST=second_engine.address)
    listener = live.EventListener(env, log_name="test-events-second.log")
    server = live.Server(env, log_name="test-server-second.log")
    yield listener, server
    server.stop()
    listener.stop()


def wait_for_tag(socket, tag, timeout):
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        if event.get("tag") == tag:
            return event


def test_a_tag_made_after_the_engine_restarts_reaches_an_open_list(second_engine, on_second_engine,
                                                                   builder_session):
    listener, server = on_second_engine
    repo = dockerlib.unique("restart")
    with images_socket(server, builder_session) as socket:
        second_engine.docker("tag", second_engine.base_image, f"{repo}:before")
        assert wait_for_tag(socket, f"{repo}:before", timeout=10)["action"] == "tag"

        second_engine.restart()
        second_engine.docker("tag", second_engine.base_image, f"{repo}:after")
        assert wait_for_tag(socket, f"{repo}:after", timeout=60)["action"] == "tag"
    assert listener.process.poll() is None
