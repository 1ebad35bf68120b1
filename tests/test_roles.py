"""Roles, asked every way in: pages, the API with a token, websockets and the worker.

Each refusal must say which role the action needs, and change nothing: not the
run's own images on the engine, no image by the names it asked for, not Dockyard's rows.
"""

import contextlib
import re
import html
import io
import tarfile
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from images.accounts import roles
from images.api.app import operations as api_operations
from images.api.auth import permission_of
from images.jobs import control, running
from images.models import ApiToken, AuditEntry, Job, Registry, TagMove
from tests import dockerlib
from tests.conftest import make_user


def client_for(user):
    client = Client()
    client.force_login(user)
    return client




def dockyard_state():
    users = [(user.username, roles.role_of(user), user.is_active) for user in get_user_model().objects.order_by("pk")]
    return (list(Job.objects.values_list("pk", "state")), list(Registry.objects.values_list("pk", "address")),
            TagMove.objects.count(), list(ApiToken.objects.values_list("pk")), users)


@pytest.fixture
def scene(owner, base_image):
    """A tagged image, a job by a builder, a registry login and a tag move: something
    for every action to act on."""
    tag = dockerlib.unique("roles") + ":1"
    image_id = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo {tag} > /id\n", tags=[tag])
    builder = make_user("builder", roles.BUILDER)
    job = queued_job(builder)
    move = TagMove.record(tag, image_id, "tag")
    TagMove.record(tag, "sha256:" + "0" * 64, "tag")
    client_for(owner).post(reverse("registries-new"), {"address": "127.0.0.1:5999", "username": "u",
                                                       "password": "not-a-test-password"})
    return {"tag": tag, "hex": image_id.split(":")[1], "image_id": image_id, "job": job, "move": move,
            "registry": Registry.objects.get(), "builder": builder, "owner": owner}


def queued_job(user):
    """A job as the build page makes it. Under the `db` fixture the transaction never
    commits, so it is never sent to a worker: it stays queued."""
    return control.start_pull(user, "127.0.0.1:5000/never/sent:1")


def context_upload():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = f"FROM {dockerlib.BASE_IMAGE}\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return SimpleUploadedFile("image.tar", buffer.getvalue())


def builder_actions(s):
    """(method, url, data) for everything a builder may do and a viewer may not."""
    hex_id = s["hex"]
    return [
        ("post", reverse("jobs-build"), {"source": "dockerfile", "dockerfile": "Dockerfile",
                                          "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}),
        ("post", reverse("jobs-pull"), {"reference": "127.0.0.1:5000/nothing/here:1"}),
        ("post", reverse("images-import"), {"archive": context_upload()}),
        ("post", reverse("images-rebuild", args=[hex_id]), {}),
        ("post", reverse("images-tag", args=[hex_id]), {"repository": "viewer-made", "tag": "x"}),
        ("post", reverse("images-untag", args=[hex_id]), {"tag": s["tag"], "confirm": "yes"}),
        ("post", reverse("images-push", args=[hex_id]), {"tag": s["tag"]}),
        ("get", reverse("images-export", args=[hex_id]), {}),
        ("post", reverse("tags-rollback", args=[s["move"].pk + 1]), {}),
        ("post", reverse("jobs-retry", args=[s["job"].pk]), {}),
        ("post", reverse("jobs-cancel", args=[s["job"].pk]), {}),
        ("get", reverse("build-cache"), {}),
    ]


def admin_actions(s):
    """(method, url, data) for what only an admin may do."""
    return [
        ("post", reverse("images-remove"), {"image": s["image_id"], "confirm": "yes", "force": "on"}),
        ("get", reverse("images-remove") + f"?image={s['image_id']}", {}),
        ("get", reverse("images-prune"), {}),
        # Bounded to this run's own, should a refusal ever fail: other people's are on this engine too.
        ("post", reverse("images-prune"), {"confirm": "yes", "all": "on", "label": dockerlib.TEST_LABEL}),
        ("post", reverse("build-cache-prune"), {"record": "0" * 25}),
        ("get", reverse("registries-list"), {}),
        ("post", reverse("registries-new"), {"address": "127.0.0.1:5998", "username": "u", "password": "p"}),
        ("post", reverse("registries-edit", args=[s["registry"].pk]), {"address": "10.0.0.1", "username": "x"}),
        ("post", reverse("registries-delete", args=[s["registry"].pk]), {}),
        ("post", reverse("registries-test", args=[s["registry"].pk]), {}),
        ("get", reverse("users-list"), {}),
        ("post", reverse("users-list"), {"username": "intruder", "password1": "Zx9-long-pass", "password2": "Zx9-long-pass",
                                         "role": "admin"}),
        ("post", reverse("users-role", args=[s["builder"].pk]), {"role": "admin", "active": "on"}),
    ]


def assert_refused(client, actions, role_name, needed):
    for method, url, data in actions:
        response = getattr(client, method)(url, data)
        text = html.unescape(response.content.decode())
        assert response.status_code == 403, (url, response.status_code)
        assert f"Your role ({role_name}) does not allow this" in text, url
        assert f"needs the {needed} role" in text, url


def test_a_viewer_can_browse_but_change_nothing(scene):
    viewer = make_user("viewer", roles.VIEWER)
    client = client_for(viewer)
    for url in (reverse("images-list"), reverse("images-detail", args=[scene["hex"]]), reverse("jobs-list"),
                reverse("jobs-detail", args=[scene["job"].pk]), reverse("jobs-log", args=[scene["job"].pk])):
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("images-detail", args=[scene["hex"]])).content.decode()
    assert "Rebuild" not in page and "Add tag" not in page and "Remove image" not in page
    engine_before, rows_before = dockerlib.own_images(), dockyard_state()

    assert_refused(client, builder_actions(scene), "viewer", "builder")
    assert_refused(client, admin_actions(scene), "viewer", "admin")

    assert dockerlib.own_images() == engine_before
    assert not dockerlib.existing("viewer-made:x", "127.0.0.1:5000/nothing/here:1")
    assert dockyard_state() == rows_before
    denied = AuditEntry.objects.filter(actor=viewer, outcome="denied")
    assert denied.count() == len(builder_actions(scene)) + len(admin_actions(scene))


def test_a_builder_cannot_remove_prune_or_manage(scene):
    other_job = queued_job(scene["owner"])
    client = client_for(scene["builder"])
    engine_before, rows_before = dockerlib.own_images(), dockyard_state()

    assert_refused(client, admin_actions(scene), "builder", "admin")
    assert_refused(client, [("post", reverse("jobs-cancel", args=[other_job.pk]), {})], "builder", "admin")
    # Untagging the last tag would delete the image: that is removal, an admin's.
    assert_refused(client, [("post", reverse("images-untag", args=[scene["hex"]]),
                             {"tag": scene["tag"], "confirm": "yes"})], "builder", "admin")

    assert dockerlib.own_images() == engine_before
    assert dockyard_state() == rows_before
    other_job.refresh_from_db()
    assert other_job.state == "queued"


def test_a_builder_cancels_their_own_job_and_an_admin_anyones(scene):
    builder_client = client_for(scene["builder"])
    builder_client.post(reverse("jobs-cancel", args=[scene["job"].pk]))
    scene["job"].refresh_from_db()
    assert scene["job"].state == "cancelled"
    another = queued_job(scene["builder"])
    client_for(scene["owner"]).post(reverse("jobs-cancel", args=[another.pk]))
    another.refresh_from_db()
    assert another.state == "cancelled"
    assert list(AuditEntry.objects.filter(action="cancel").values_list("actor_name", flat=True)) == ["owner", "builder"]


def test_an_account_without_a_role_sees_nothing(db):
    client = client_for(make_user("nobody", None))
    for url in (reverse("images-list"), reverse("jobs-list"), "/api/images", reverse("tokens-list")):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your account has no role yet" in html.unescape(response.content.decode())


def test_a_token_has_exactly_its_owners_permissions(scene):
    viewer = make_user("viewer", roles.VIEWER)
    _, token = ApiToken.issue(viewer, "script")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/images").status_code == 200
    assert api.get(f"/api/jobs/{scene['job'].pk}").json()["state"] == "queued"
    engine_before, rows_before = dockerlib.own_images(), dockyard_state()
    refusals = [
        api.post("/api/builds", {"source": "dockerfile", "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}),
        api.post("/api/pulls", {"reference": "127.0.0.1:5000/a:1"}),
        api.post(f"/api/jobs/{scene['job'].pk}/cancel"),
    ]
    for response in refusals:
        assert response.status_code == 403
        assert "needs the builder role" in response.json()["error"]
    assert dockerlib.own_images() == engine_before and dockyard_state() == rows_before
    assert not dockerlib.existing("127.0.0.1:5000/a:1")
    assert set(AuditEntry.objects.filter(actor=viewer, outcome="denied").values_list("via", flat=True)) == {"token"}


def test_every_page_and_endpoint_declares_the_permission_it_needs():
    undeclared = []
    for pattern in get_resolver("images.urls").url_patterns:
        if isinstance(pattern, URLResolver):  # the API: each operation names its own
            undeclared += [path for path, operation in api_operations() if permission_of(operation) is None]
            continue
        assert isinstance(pattern, URLPattern)
        if not hasattr(pattern.callback, "dockyard_permission"):
            undeclared.append(pattern.name)
    assert undeclared == []


def test_the_worker_refuses_a_job_whose_owner_lost_the_role(scene):
    # The task's own function, run here: the worker gets the job after the demotion.
    tag = dockerlib.unique("demoted") + ":1"
    job = control.start_build(scene["builder"], {"source": "dockerfile", "tags": [tag], "dockerfile": "Dockerfile",
                                              "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"})
    roles.assign(scene["builder"], roles.VIEWER)
    before = dockerlib.own_images()
    running.run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == "Not run: builder may no longer start build jobs."
    assert dockerlib.own_images() == before and not dockerlib.existing(tag)


def test_a_person_can_have_only_so_many_jobs_at_once(scene, settings, tmp_path):
    settings.DOCKYARD_MAX_ACTIVE_JOBS = 1  # the builder's queued job is their one
    settings.DOCKYARD_CONTEXT_DIR = tmp_path / "contexts"
    client = client_for(scene["builder"])
    response = client.post(reverse("jobs-build"), {"source": "dockerfile", "dockerfile": "Dockerfile",
                                                   "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"})
    assert "You already have 1 jobs queued or running" in html.unescape(response.content.decode())
    for url, data in ((reverse("jobs-pull"), {"reference": "127.0.0.1:5000/a:1"}),
                      (reverse("images-import"), {"archive": context_upload()})):
        assert "You already have 1 jobs queued or running" in html.unescape(client.post(url, data).content.decode())
    _, token = ApiToken.issue(scene["builder"], "ci")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post("/api/pulls", {"reference": "127.0.0.1:5000/a:1"})
    assert response.status_code == 429
    assert Job.objects.count() == 1
    assert AuditEntry.objects.filter(actor=scene["builder"], outcome="refused").count() == 4
    assert list(settings.DOCKYARD_CONTEXT_DIR.iterdir()) == []  # the refused import's upload is not kept


def test_make_runs_admin_is_an_admin(db, monkeypatch, capsys):
    from django.core.management import call_command

    monkeypatch.setenv("DOCKYARD_ADMIN_PASSWORD", "owner-password-1")
    call_command("ensure_admin", username="root-admin")
    admin = get_user_model().objects.get(username="root-admin")
    assert roles.role_of(admin) == roles.ADMIN and admin.is_staff
    assert "owner-password-1" not in capsys.readouterr().out


# Websockets, through the real server ------------------------------------------------

def open_socket(server, client, path, origin=None):
    return connect(f"{server.ws_url}{path}", open_timeout=10, additional_headers={
        "Cookie": f"sessionid={client.cookies['sessionid'].value}", "Origin": origin or server.url})


@pytest.mark.unaudited("the job is made directly, as one no worker has reached")
def test_streams_need_a_role_and_a_free_slot(transactional_db, server):
    nobody, viewer = make_user("nobody", None), make_user("viewer", roles.VIEWER)
    job = Job.objects.create(kind="pull", target="x:1", params={"reference": "x:1"}, output_limit=1000,
                             state="failed", created_by=viewer)
    for path in (f"/ws/jobs/{job.pk}/", "/ws/images/"):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(server, client_for(nobody), path)
        assert refused.value.response.status_code == 403
    assert AuditEntry.objects.filter(actor=nobody, action="browse", outcome="denied").count() == 2

    # A viewer may listen; what it sends changes nothing.
    client = client_for(viewer)
    with open_socket(server, client, f"/ws/jobs/{job.pk}/") as socket:
        socket.send('{"type": "cancel"}')
        assert '"state": "failed"' in socket.recv(timeout=10)
    job.refresh_from_db()
    assert job.state == "failed" and not job.cancel_requested

    # The test server allows DOCKYARD_MAX_STREAMS=5 (tests/live.py); a sixth is told why and closed.
    with contextlib.ExitStack() as five:
        for _ in range(5):
            five.enter_context(open_socket(server, client, "/ws/images/"))
        with open_socket(server, client, "/ws/images/") as sixth:
            assert "too many Dockyard pages streaming" in sixth.recv(timeout=10)
            with pytest.raises(ConnectionClosed):
                sixth.recv(timeout=10)
            assert sixth.close_code == 4429
    # Closed sockets give their slots back: five again, the fifth served its job's state.
    # (The server frees a slot as it sees the close, just after the client does.)
    with contextlib.ExitStack() as again:
        for _ in range(4):
            again.enter_context(open_socket(server, client, "/ws/images/"))
        deadline = time.monotonic() + 10
        while True:
            with open_socket(server, client, f"/ws/jobs/{job.pk}/") as fifth:
                first = fifth.recv(timeout=10)
            if '"refused"' not in first or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert '"state": "failed"' in first


def test_an_admin_gives_roles_in_the_admin_site_but_cannot_make_a_superuser(owner, owner_client):
    from django.contrib.auth.models import Group

    someone = make_user("viewer", roles.VIEWER)
    response = owner_client.post(reverse("admin:auth_user_change", args=[someone.pk]), {
        "username": "viewer", "is_active": "on", "is_superuser": "on",
        "groups": [Group.objects.get(name=roles.ADMIN).pk], "user_permissions": [],
        "date_joined_0": "2026-11-23", "date_joined_1": "10:00:00", "initial-date_joined_0": "2026-11-23",
        "initial-date_joined_1": "10:00:00",
        "engine_roles-TOTAL_FORMS": "0", "engine_roles-INITIAL_FORMS": "0",  # no role on one engine alone
    })
    assert response.status_code == 302, response.content.decode()[-3000:]
    someone.refresh_from_db()
    assert roles.role_of(someone) == roles.ADMIN and someone.is_staff  # an admin enters the admin site
    assert not someone.is_superuser
    entry = AuditEntry.objects.get(action="user-change")
    assert (entry.actor_name, entry.target, entry.detail) == ("owner", "viewer", "in the admin site; role admin")


def test_a_person_makes_lists_and_revokes_their_own_tokens(db):
    viewer, other = make_user("viewer", roles.VIEWER), make_user("builder", roles.BUILDER)
    client = client_for(viewer)
    page = client.post(reverse("tokens-list"), {"name": "laptop"}).content.decode()
    token = re.search(r"dky_[A-Za-z0-9_-]+", page).group(0)
    assert "not shown again" in page
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/images").status_code == 200
    listed = client.get(reverse("tokens-list")).content.decode()
    assert "laptop" in listed and token[:8] in listed and token not in listed  # shown once, then only its start
    _, others = ApiToken.issue(other, "theirs")
    theirs = ApiToken.objects.get(user=other)
    assert client.post(reverse("tokens-revoke", args=[theirs.pk])).status_code == 404  # not one's own
    client.post(reverse("tokens-revoke", args=[viewer.api_tokens.get().pk]))
    assert api.get("/api/images").status_code == 401
    assert Client(HTTP_AUTHORIZATION=f"Bearer {others}").get("/api/images").status_code == 200
