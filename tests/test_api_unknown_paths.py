"""Every /api/ answer is JSON: a path no operation takes (an id that is not a
number, a path that is none) answers 404 `{"error": …}`, or 401 to a caller
with no login where the API needs one, never a page's 404 or login redirect."""

import pytest
from django.test import Client

from tests.apiclient import bearer

NOT_OPERATIONS = [
    ("get", "/api/jobs/abc"),
    ("get", "/api/jobs/abc/log"),
    ("post", "/api/jobs/abc/cancel"),
    ("get", "/api/registries/x1"),
    ("get", "/api/no-such-area"),
    ("get", "/api/no/such/path/"),
    ("delete", "/api/secrets/abc"),
]


def answered(client, method, path):
    response = getattr(client, method)(path)
    assert response["Content-Type"].startswith("application/json"), (path, response.status_code, response["Content-Type"])
    return response.status_code, response.json()


@pytest.mark.parametrize("method,path", NOT_OPERATIONS)
def test_a_path_no_operation_takes_answers_404_in_json(builder, method, path):
    status, body = answered(bearer(builder), method, path)
    assert status == 404
    assert path in body["error"] and "/api/docs" in body["error"]


def test_without_a_login_it_answers_401_in_json(db):
    for method, path in NOT_OPERATIONS:
        assert answered(Client(), method, path) == (401, {"error": "Log in, or send Authorization: Bearer <token>."})


def test_a_hooks_path_that_is_none_answers_404_without_a_login(db):
    """A hook's delivery needs no login (its signature is checked): a wrong id is simply not found."""
    for method, path in (("post", "/api/hooks/git/abc"), ("post", "/api/hooks/git/-1"), ("get", "/api/hooks/git/x")):
        status, body = answered(Client(), method, path)
        assert status == 404 and path in body["error"]


def test_a_session_gets_json_too(builder):
    client = Client()
    client.force_login(builder)
    status, body = answered(client, "get", "/api/jobs/abc")
    assert status == 404 and "/api/jobs/abc" in body["error"]


def test_a_sessions_post_without_its_csrf_token_gets_json_too(builder):
    """Nothing is done there, so no CSRF page: the API's own 404."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(builder)
    status, body = answered(client, "post", "/api/jobs/abc/cancel")
    assert status == 404 and "/api/jobs/abc/cancel" in body["error"]
