"""Every refusal says what was refused and which role would do, once: each page
and each API operation, asked by someone whose role lacks its permission, and
the answers to a reference that is not one."""

import html
import re
import subprocess

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from images.accounts import roles
from images.api.app import operations
from images.api.auth import SIGNED, permission_of
from images.models import ApiToken
from tests import dockerlib
from tests.conftest import make_user

# Where a permission allows more than its description says, the refusal names
# what was asked for: page names, and API operations as "METHOD path".
ACTION_NAMED = {
    "build-cache": "see the build cache",
    "GET /api/build-cache": "see the build cache",
    "build-cache-prune": "prune the build cache",
    "POST /api/build-cache/prune": "prune the build cache",
    "files-index": "index an image's files",
    "POST /api/images/{imageid:image_id}/index": "index an image's files",
    "images-pin": "pin images",
    "PUT /api/images/{imageid:image_id}/pin": "pin images",
    "DELETE /api/images/{imageid:image_id}/pin": "pin images",
    "tokens-list": "keep API tokens",
    "tokens-revoke": "keep API tokens",
    "GET /api/tokens": "keep API tokens",
    "POST /api/tokens": "keep API tokens",
    "DELETE /api/tokens/{int:pk}": "keep API tokens",
}


def named(permission, route):
    description = roles.PERMISSIONS[permission]
    return ACTION_NAMED.get(route, description[0].lower() + description[1:])


def needed_role(permission):
    return next(role for role in (roles.VIEWER, roles.BUILDER, roles.ADMIN) if permission in roles.ROLES[role])


ROLE_BELOW = {roles.VIEWER: None, roles.BUILDER: roles.VIEWER, roles.ADMIN: roles.BUILDER}
USER_OF = {None: "nobody", roles.VIEWER: "viewer", roles.BUILDER: "builder"}


@pytest.fixture
def people(db):
    return {role: make_user(USER_OF[role], role) for role in USER_OF}


@pytest.fixture
def image_hex(base_image):
    return dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL refusals=1\n").split(":")[1]


def filled(route, image_hex):
    """A route's address with its parameters filled in, in Django's <> or ninja's {} spelling."""
    route = re.sub(r"[<{](?:str|path|imageid):\w+[>}]", image_hex, route)
    return re.sub(r"[<{]int:\w+[>}]", "1", route)


def assert_named_once(text, permission, route):
    assert text.strip(), f"{route}: an empty refusal"
    what, role = named(permission, route), needed_role(permission)
    assert text.count(f"does not allow this: {what} needs the {role} role.") == 1, (route, text)
    assert text.count("needs the") == 1 and text.count("does not allow") == 1, (route, text)


def test_every_page_refusal_names_what_was_asked_and_the_role_once(people, image_hex):
    walked = 0
    for pattern in get_resolver("images.urls").url_patterns:
        if isinstance(pattern, URLResolver):
            continue  # the API: below
        assert isinstance(pattern, URLPattern)
        permission = pattern.callback.dockyard_permission
        client = Client()
        client.force_login(people[ROLE_BELOW[needed_role(permission)]])
        url = "/" + filled(str(pattern.pattern), image_hex)
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url)
        assert response.status_code == 403, (pattern.name, response.status_code)
        refusal = re.search(r'<p id="refusal">(.*?)</p>', response.content.decode(), re.DOTALL)
        assert refusal, (pattern.name, response.content[:500])
        assert_named_once(html.unescape(refusal[1]), permission, pattern.name)
        walked += 1
    assert walked >= 35


def test_every_api_refusal_names_what_was_asked_and_the_role_once(people, image_hex):
    clients = {}
    for user in people.values():
        _, token = ApiToken.issue(user, "walk")
        clients[user.username] = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    walked = 0
    for path, operation in operations():
        permission = permission_of(operation)
        if permission == SIGNED:
            continue  # no role: a hook's delivery proves itself by its signature (tests/test_webhooks.py)
        api = clients[USER_OF[ROLE_BELOW[needed_role(permission)]]]
        for method in operation.methods:
            route = f"{method} {path}"
            response = getattr(api, method.lower())(filled(path, image_hex))
            assert response.status_code == 403, (route, response.status_code)
            assert response["Content-Type"] == "application/json", route
            assert_named_once(response.json()["error"], permission, route)
            walked += 1
    assert walked >= 45


def test_the_schema_and_reference_name_browsing(people):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(people[None], 'x')[1]}").get("/api/schema")
    assert response.status_code == 403
    assert_named_once(response.json()["error"], "browse", "GET /api/schema")


def test_a_viewers_export_is_told_why_through_the_real_server(transactional_db, server, image_hex):
    """Through uvicorn, as a browser and curl meet it: the export is a streamed
    response where it is allowed, and its refusal must not lose its body."""
    viewer = make_user("viewer", roles.VIEWER)
    _, token = ApiToken.issue(viewer, "curl")
    client = Client()
    client.force_login(viewer)
    for path, headers in ((f"/api/images/{image_hex}/export", ["-H", f"Authorization: Bearer {token}"]),
                          (f"/api/images/{image_hex}/export", ["-b", f"sessionid={client.cookies['sessionid'].value}"]),
                          (f"/images/{image_hex}/export", ["-b", f"sessionid={client.cookies['sessionid'].value}"])):
        answer = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *headers, server.url + path],
                                capture_output=True, text=True, check=True).stdout
        body, _, status = answer.rpartition("\n")
        assert status == "403", (path, answer)
        assert_named_once(html.unescape(body), "export", path)


@pytest.mark.parametrize("reference", ["Bad!!ref", "a..b", "app:-tag", "x@sha256:12"])
def test_a_reference_that_is_not_one_is_told_why_once(people, reference):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(people[roles.VIEWER], 'x')[1]}")
    error = api.get(f"/api/images/{reference}").json()["error"]
    assert error.startswith(f"No image {reference!r} on this engine. ")
    assert error.count("not a valid image reference") == 1, error
    client = Client()
    client.force_login(people[roles.VIEWER])
    page = html.unescape(client.get(f"/images/{reference}/").content.decode())
    sentence = re.search(r"<p>The engine has no image.*?</p>", page, re.DOTALL)[0]
    assert sentence.count("not a valid image reference") == 1, sentence


def test_the_audit_export_in_the_admin_site_names_the_role(people):
    """Someone made staff by hand, with no admin role: the admin site lets them
    in, and its audit export refuses them saying which role reads the log."""
    staff = people[roles.VIEWER]
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(staff)
    for name in ("export.csv", "export.jsonl"):
        response = client.get(f"/admin/images/auditentry/{name}")
        assert response.status_code == 403, (name, response.status_code)
        refusal = re.search(r'<p id="refusal">(.*?)</p>', response.content.decode(), re.DOTALL)
        assert_named_once(html.unescape(refusal[1]), "read_audit", name)


def test_a_form_without_its_csrf_token_is_told_so_on_a_page_of_dockyards(people, image_hex):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people[roles.BUILDER])
    response = client.post(f"/images/{image_hex}/tag", {"repository": "x", "tag": "1"})
    assert response.status_code == 403
    page = html.unescape(response.content.decode())
    refusal = re.search(r'<p id="refusal">(.*?)</p>', page, re.DOTALL)
    assert refusal and "reload the page" in refusal[1] and 'href="/"' in page, page[:2000]
