"""Request bodies are refused before anything reads them: one over
DOCKYARD_UPLOAD_MAX from anyone, any body from someone not logged in (but a
small login form), and one the view refuses before it looks at the body."""

import json
import socket

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from images.models import ApiToken, Job
from tests import live
from tests.conftest import make_user

FIFTY_MB = 50 * 1024 * 1024
SERVER_UPLOAD_MAX = 1024 * 1024


class Unreadable:
    """A WSGI body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the request body was read")

    readline = read


def csrf_client(user=None, **headers):
    """A client that checks CSRF as a browser's requests are checked, with a CSRF
    cookie (which anyone can have), so CSRF's check would read the body."""
    client = Client(enforce_csrf_checks=True, **headers)
    client.cookies["csrftoken"] = "x" * 32
    if user is not None:
        client.force_login(user)
    return client


def post_unread(client, path, length, **extra):
    return client.generic("POST", path, b"", CONTENT_TYPE="multipart/form-data; boundary=b",
                          CONTENT_LENGTH=str(length), **{"wsgi.input": Unreadable()}, **extra)


def test_an_anonymous_body_is_refused_unread_with_the_way_to_log_in(db):
    response = post_unread(csrf_client(), reverse("jobs-build"), FIFTY_MB)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('jobs-build')}"


def test_an_anonymous_api_body_is_refused_unread_in_the_api_shape(db):
    response = post_unread(csrf_client(), "/api/builds", FIFTY_MB)
    assert response.status_code == 401
    assert response.json() == {"error": "Log in, or send Authorization: Bearer <token>."}
    # A token that is not one is no login either.
    response = post_unread(csrf_client(HTTP_AUTHORIZATION="Bearer dky_wrong"), "/api/builds", 100)
    assert response.status_code == 401


def test_a_body_over_the_upload_max_is_refused_unread(builder, settings):
    settings.DOCKYARD_UPLOAD_MAX = 10 * 1024 * 1024
    response = post_unread(csrf_client(builder), reverse("jobs-build"), settings.DOCKYARD_UPLOAD_MAX + 1)
    assert response.status_code == 413
    assert "DOCKYARD_UPLOAD_MAX" in response.content.decode()
    _, token = ApiToken.issue(builder, "ci")
    response = post_unread(csrf_client(HTTP_AUTHORIZATION=f"Bearer {token}"), "/api/builds",
                           settings.DOCKYARD_UPLOAD_MAX + 1)
    assert response.status_code == 413
    assert "10,485,761 bytes" in response.json()["error"]
    assert not Job.objects.exists()


def test_a_login_body_has_a_small_cap(db):
    response = post_unread(csrf_client(), reverse("login"), 1024 * 1024)
    assert response.status_code == 413
    assert "A login" in response.content.decode()


def test_the_upload_max_defaults_above_the_upload_limit():
    assert settings.DOCKYARD_UPLOAD_MAX > settings.DOCKYARD_UPLOAD_LIMIT


# Over a socket to the real server, which hands the application the headers
# before the body (uvicorn; daphne read whole bodies first).

@pytest.fixture(scope="module")
def asgi_server(live_settings):
    with live.own_server(live_settings, "upload-max", DOCKYARD_UPLOAD_MAX=str(SERVER_UPLOAD_MAX)) as server:
        yield server.port


def send_head(port, path, headers):
    """A POST's request line and headers, and no body; the socket, to read the answer from."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def answer(sock):
    """The status line and headers the server sends, read before any body was sent
    (a server waiting for the body never answers, and recv times out)."""
    data = b""
    with sock:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection without answering: {data!r}"
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return int(head[0].split()[1]), {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}


MULTIPART = "multipart/form-data; boundary=b"


def test_the_server_answers_an_anonymous_50_mb_build_before_the_body_is_sent(asgi_server, db):
    sock = send_head(asgi_server, reverse("jobs-build"), {"Content-Type": MULTIPART, "Content-Length": FIFTY_MB})
    status, headers = answer(sock)
    assert status == 302
    assert headers["location"].startswith(reverse("login"))


def test_the_server_answers_a_body_over_the_upload_max_before_it_is_sent(asgi_server, builder_session):
    sock = send_head(asgi_server, reverse("jobs-build"), {
        "Content-Type": MULTIPART, "Content-Length": SERVER_UPLOAD_MAX + 1, "Cookie": f"sessionid={builder_session}"})
    assert answer(sock)[0] == 413


def test_the_server_answers_a_build_it_refuses_before_the_body_is_sent(asgi_server, transactional_db):
    # The body is streamed to the view, which checks the role first: nothing
    # waits for (or stores) an upload that is refused anyway.
    _, token = ApiToken.issue(make_user("viewer", "viewer"), "ci")
    sock = send_head(asgi_server, "/api/builds", {"Content-Type": MULTIPART, "Content-Length": SERVER_UPLOAD_MAX,
                                                  "Authorization": f"Bearer {token}"})
    assert answer(sock)[0] == 403


def test_the_server_cuts_off_a_chunked_body_at_the_upload_max(asgi_server, builder):
    _, token = ApiToken.issue(builder, "ci")
    sock = send_head(asgi_server, "/api/pulls", {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                                 "Authorization": f"Bearer {token}"})
    chunk = b"x" * 65536
    try:
        for _ in range(SERVER_UPLOAD_MAX // len(chunk) + 2):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass  # the server may close once it has answered
    assert answer(sock)[0] == 413


def test_the_server_reads_a_small_body_from_someone_logged_in(asgi_server, builder):
    _, token = ApiToken.issue(builder, "ci")
    body = json.dumps({"reference": "UPPER"}).encode()
    sock = send_head(asgi_server, "/api/pulls", {"Content-Type": "application/json", "Content-Length": len(body),
                                                 "Authorization": f"Bearer {token}"})
    sock.sendall(body)
    assert answer(sock)[0] == 400  # the form's refusal: the body was read
