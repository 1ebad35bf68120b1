"""EngineStream: a long engine call that `close` (a cancel, from another thread)
stops, whichever call it is: the engine's JSON messages or a save's tar blocks."""

import threading

import pytest

from images.engine import StreamClosed
from tests import dockerlib


def test_a_closed_stream_asks_the_engine_nothing(engine, base_image):
    for call in (lambda stream: stream.save(base_image), lambda stream: stream.load(None)):
        stream = engine.stream()
        stream.close()
        with pytest.raises(StreamClosed, match="Cancelled before the engine was asked"):
            next(call(stream))


def test_closing_a_save_stops_it_midway(engine, base_image):
    stream = engine.stream()
    blocks = stream.save(base_image)
    first = next(blocks)
    assert first[257:262] == b"ustar"  # a tar, as the engine sends it
    stream.close()
    with pytest.raises(StreamClosed, match="closed before the engine finished"):
        list(blocks)


def test_closing_a_build_stops_it_while_the_engine_works(engine, base_image):
    """The build sleeps far longer than the test waits: only the close ends it."""
    stream = engine.stream()
    started = threading.Event()
    context = dockerlib.dockerfile_context(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo started && sleep 300\n")
    seen = []

    def read():
        try:
            for message in stream.build(fileobj=context, custom_context=True, labels={dockerlib.TEST_LABEL: "1"}):
                seen.append(message)
                if "started" in str(message.get("stream", "")):
                    started.set()
        except StreamClosed as exc:
            seen.append(exc)
        started.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(120)
    stream.close()
    reader.join(60)
    assert not reader.is_alive() and isinstance(seen[-1], StreamClosed), seen[-3:]
