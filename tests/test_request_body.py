"""The request body as the view's thread reads it from the connection
(dashboard/request_body.py): what it returns, how far ahead of the view it
receives, and what a client that leaves halfway costs."""

import asyncio
import time
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted

from dashboard import request_body
from dashboard.request_body import ReceivedBody, _Connection
from images.models import ApiToken, Job
from tests.test_request_size import answer, send_head


class Client:
    """An ASGI receive that hands out `messages` in turn and counts them."""

    def __init__(self, *messages):
        self.messages = list(messages)
        self.taken = 0

    async def receive(self):
        self.taken += 1
        return self.messages.pop(0)


def body(*parts, end=True):
    *more, last = parts
    return [*({"type": "http.request", "body": part, "more_body": True} for part in more),
            {"type": "http.request", "body": last, "more_body": not end}]


def reading(client, view, headers=((b"content-length", b"1"),)):
    """Run `view(body)` in a thread, as Django runs a sync view, with the body
    read from `client`; return what it returns and the connection."""
    connection = _Connection({"headers": list(headers)}, client.receive)

    async def serve():
        received = ReceivedBody(connection)
        try:
            return await sync_to_async(view, thread_sensitive=True)(received)
        finally:
            received.close()

    return asyncio.run(serve()), connection


def test_reads_return_what_was_asked_across_messages():
    client = Client(*body(b"abc", b"defg", b"", b"hij"))
    got, _ = reading(client, lambda received: [received.read(2), received.read(5), received.read(), received.read(1)])
    assert got == [b"ab", b"cdefg", b"hij", b""]


def test_lines_are_read_to_their_newline():
    client = Client(*body(b"one\ntw", b"o\nthr", b"ee"))
    got, _ = reading(client, lambda received: [received.readline(), received.readline(2), received.readline(),
                                               received.readline(), received.readline()])
    assert got == [b"one\n", b"tw", b"o\n", b"three", b""]


def test_it_receives_no_more_than_two_batches_ahead_of_the_view(monkeypatch):
    monkeypatch.setattr(request_body, "BATCH", 10)
    client = Client(*body(*[b"x" * 5] * 100))
    got, _ = reading(client, lambda received: received.read(1))
    assert got == b"x"
    assert client.taken <= 4  # two batches of two messages


def test_a_client_gone_halfway_aborts_every_read_after():
    client = Client(*body(b"part", end=False), {"type": "http.disconnect"})

    def view(received):
        outcomes = []
        for _ in range(2):
            try:
                received.read()
            except RequestAborted:
                outcomes.append("aborted")
        return outcomes

    got, connection = reading(client, view)
    assert got == ["aborted", "aborted"]
    # Django's disconnect listener, waiting on the connection, hears it too.
    assert asyncio.run(connection()) == {"type": "http.disconnect"}


@pytest.mark.parametrize("headers, expected", [
    ([(b"content-length", b"0")], False),
    ([], False),
    ([(b"content-length", b"12")], True),
    ([(b"transfer-encoding", b"chunked")], True),
])
def test_only_a_request_with_a_body_has_one_to_stream(headers, expected):
    assert _Connection({"headers": headers}, None).has_body is expected


def test_an_upload_cut_short_leaves_nothing_behind(server, builder):
    _, token = ApiToken.issue(builder, "ci")
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    before = set(folder.glob("*.upload*"))

    def uploads():
        return set(folder.glob("*.upload*")) - before

    head = (b'--b\r\nContent-Disposition: form-data; name="source"\r\n\r\nupload\r\n'
            b'--b\r\nContent-Disposition: form-data; name="context"; filename="c.tar"\r\n\r\n')
    sock = send_head(server.port, "/api/builds", {"Content-Type": "multipart/form-data; boundary=b",
                                                  "Content-Length": 50 * 2**20, "Authorization": f"Bearer {token}"})
    sock.sendall(head + b"\0" * (10 * 2**20))
    _wait_for(uploads, "the upload never reached the disk")
    sock.close()
    _wait_for(lambda: not uploads(), "the upload cut short is still on disk")
    assert not Job.objects.exists()
    # The server carries on.
    sock = send_head(server.port, "/api/pulls", {"Content-Type": "application/json", "Content-Length": 2,
                                                 "Authorization": f"Bearer {token}"})
    sock.sendall(b"{}")
    assert answer(sock)[0] == 400


def _wait_for(condition, failure, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)
