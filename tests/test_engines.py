"""Several engines (images/engines.py): DOCKYARD_ENGINES read strictly; and, with
two real engines on this machine (the shared one as `default`, the tests' own
dockerd as `b`, tests/live.SecondEngine), each engine's pages, jobs, queue,
workers, roles, event listener and health kept apart."""

import json
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from images import engines
from images.accounts import roles
from images.engine import Engine, UnknownEngine, get_engine
from images.jobs import control
from images.models import ApiToken, AuditEntry, EngineRole, Job, TagMove
from images.redis_client import shared_redis
from tests import dockerlib, live
from tests.conftest import log_in, make_user

# DOCKYARD_ENGINES ----------------------------------------------------------------


def test_it_defaults_to_one_engine_at_docker_host():
    assert engines.parse("", "tcp://10.0.0.7:2376") == {"default": "tcp://10.0.0.7:2376"}
    assert engines.parse("  ", "") == {"default": "unix:///var/run/docker.sock"}


def test_it_reads_named_engines_in_order():
    parsed = engines.parse("production=tcp://10.0.0.7:2376, staging=ssh://deploy@staging ,local=unix:///run/d.sock,")
    assert list(parsed.items()) == [("production", "tcp://10.0.0.7:2376"), ("staging", "ssh://deploy@staging"),
                                    ("local", "unix:///run/d.sock")]


@pytest.mark.parametrize("text, says", [
    ("production", "is not name=DOCKER_HOST"),
    ("production=", "is not name=DOCKER_HOST"),
    ("Prod=tcp://a:1", "'Prod' is not an engine name"),
    ("../x=tcp://a:1", "is not an engine name"),
    ("e/b=tcp://a:1", "is not an engine name"),
    ("a=tcp://x:1,a=tcp://y:1", "names the engine 'a' twice"),
    ("a=http://x:1", "which is not a unix://, tcp:// or ssh:// address"),
    ("a=tcp://", "which is not a unix://, tcp:// or ssh:// address"),
    (",,", "names no engine"),
])
def test_a_bad_engine_list_is_refused_saying_why(text, says):
    with pytest.raises(ImproperlyConfigured, match=re.escape(says)):
        engines.parse(text)


def test_tls_files_are_read_per_engine_and_checked(tmp_path):
    listed = {"production": "tcp://10.0.0.7:2376", "local": "unix:///run/d.sock"}
    assert engines.parse_tls(listed, {}) == {}
    with pytest.raises(ImproperlyConfigured, match="DOCKYARD_ENGINE_PRODUCTION_TLS=.* lacks ca.pem, cert.pem, key.pem"):
        engines.parse_tls(listed, {"DOCKYARD_ENGINE_PRODUCTION_TLS": str(tmp_path)})
    with pytest.raises(ImproperlyConfigured, match="TLS files are for tcp:// engines"):
        engines.parse_tls(listed, {"DOCKYARD_ENGINE_LOCAL_TLS": str(tmp_path)})
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("not checked here: the engine's handshake checks them")
    assert engines.parse_tls(listed, {"DOCKYARD_ENGINE_PRODUCTION_TLS": str(tmp_path)}) == {"production": str(tmp_path)}

    options = Engine("production", "tcp://10.0.0.7:2376", 5, str(tmp_path)).connection_options()
    assert options["tls"].ca_cert == f"{tmp_path}/ca.pem" and options["tls"].verify
    assert options["tls"].cert == (f"{tmp_path}/cert.pem", f"{tmp_path}/key.pem")
    assert Engine("staging", "ssh://deploy@staging", 5).connection_options() == {
        "base_url": "ssh://deploy@staging", "use_ssh_client": True}


def test_each_engine_has_its_queue_the_default_keeping_dockyard_queue(settings):
    settings.DOCKYARD_QUEUE = "dockyard"
    assert engines.queue_for("default") == "dockyard"
    assert engines.queue_for("staging") == "dockyard.staging"


def test_a_worker_here_serves_the_local_engines_or_those_named(settings, monkeypatch):
    from io import StringIO

    from django.core.management import CommandError, call_command

    def queues():
        out = StringIO()
        call_command("engines", "--worker-queues", stdout=out)
        return out.getvalue().strip()

    settings.DOCKYARD_QUEUE = "dockyard"
    settings.DOCKYARD_ENGINES = {"default": "unix:///var/run/docker.sock", "b": "unix:///srv/b.sock",
                                 "far": "tcp://10.0.0.7:2376"}
    monkeypatch.delenv("DOCKYARD_WORKER_ENGINES", raising=False)
    assert queues() == "dockyard,dockyard.b"
    monkeypatch.setenv("DOCKYARD_WORKER_ENGINES", "far")
    assert queues() == "dockyard,dockyard.far"  # the periodic tasks' queue too
    monkeypatch.setenv("DOCKYARD_WORKER_ENGINES", "far,nope")
    with pytest.raises(CommandError, match="DOCKYARD_WORKER_ENGINES names nope"):
        queues()


def test_an_unknown_engine_is_named_in_the_error(settings):
    with pytest.raises(UnknownEngine, match="no engine named 'nope'"):
        get_engine("nope")


# Two real engines -----------------------------------------------------------------

@pytest.fixture
def two_engines(settings, second_engine, live_settings):
    """This process with both engines; what the processes it starts get in their environment."""
    shared = settings.DOCKYARD_ENGINES["default"]
    settings.DOCKYARD_ENGINES = {"default": shared, "b": second_engine.address}
    return f"default={shared},b={second_engine.address}"


@pytest.fixture(scope="module")
def module_env(live_settings, second_engine):
    """The environment of this module's server, listeners and engine-b workers: both
    engines, the session's queue, a channel prefix of their own."""
    from django.conf import settings

    shared = settings.DOCKYARD_ENGINES["default"]
    return live.process_env(live_settings["queue"], f"{live_settings['prefix']}-engines",
                            DOCKYARD_ENGINES=f"default={shared},b={second_engine.address}")


@pytest.fixture(scope="module")
def server_ab(module_env):
    server = live.Server(module_env, log_name="test-server-engines.log")
    yield server
    server.stop()


def start_worker_b(env, live_settings):
    return live.Worker(env, "test-worker-engine-b.log", queues=f"{live_settings['queue']}.b")


def build_on(client, prefix, dockerfile, tags):
    return live.job_from(client.post(f"{prefix}/build/", {
        "source": "dockerfile", "dockerfile_text": dockerfile, "tags": tags, "dockerfile": "Dockerfile",
    }))


def on_shared_engine(reference):
    return dockerlib.docker("image", "inspect", reference, check=False).strip() not in ("", "[]")


def test_a_build_on_b_goes_to_bs_queue_and_lands_on_b_only(two_engines, module_env, live_settings, second_engine,
                                                           builder_client, worker):
    tag = dockerlib.unique("on-b") + ":1"
    queue_b = f"{live_settings['queue']}.b"
    depth_before = shared_redis().llen(queue_b)
    job = build_on(builder_client, "/e/b", f"FROM {dockerlib.BASE_IMAGE}\nLABEL made.on=b\nENV WHERE=b\n", tag)
    assert job.engine == "b"
    # On B's queue, where no worker is yet: the default engine's worker leaves it there.
    deadline = time.monotonic() + 10
    while shared_redis().llen(queue_b) <= depth_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shared_redis().llen(queue_b) == depth_before + 1
    # The default engine's worker runs a build sent after it, and leaves B's where it is.
    later = live.wait_for_job(build_on(builder_client, "", f"FROM {dockerlib.BASE_IMAGE}\nLABEL made.on=default\n", ""))
    assert later.state == "succeeded", later.error
    job.refresh_from_db()
    assert job.state == "queued" and shared_redis().llen(queue_b) == depth_before + 1

    worker_b = start_worker_b(module_env, live_settings)
    try:
        live.wait_for_job(job)
    finally:
        worker_b.stop()
    assert job.state == "succeeded", job.error
    assert second_engine.docker("image", "inspect", "--format", "{{.Id}}", tag).strip() == job.image_id
    assert not on_shared_engine(tag)

    # Each engine's list shows its own images, and the image's page is under its engine.
    listed_b = builder_client.get("/e/b/?q=" + tag.split(":")[0]).content.decode()
    listed_a = builder_client.get("/?q=" + tag.split(":")[0]).content.decode()
    assert f"/e/b/images/{job.image_hex}/" in listed_b
    assert tag.split(":")[0] not in listed_a.split('id="image-table"', 1)[1]
    assert builder_client.get(f"/e/b/images/{job.image_hex}/").status_code == 200
    assert builder_client.get(f"/images/{job.image_hex}/").status_code == 404  # not on the default engine
    # The job's page is among B's pages, whichever prefix it is asked for under.
    assert builder_client.get(f"/jobs/{job.pk}/")["Location"] == f"/e/b/jobs/{job.pk}/"
    page = builder_client.get(f"/e/b/jobs/{job.pk}/").content.decode()
    assert 'id="job-engine">b<' in page and f'href="/e/b/images/{job.image_hex}/"' in page
    assert AuditEntry.objects.get(job=job).engine == "b"
    # The jobs list of each engine is its own.
    assert f"/e/b/jobs/{job.pk}/" in builder_client.get("/e/b/jobs/").content.decode()
    assert f"/jobs/{job.pk}/" not in builder_client.get("/jobs/").content.decode()

    # A search across engines finds it on B, by name and by id; and not on the default engine.
    for query in (tag.split(":")[0], job.image_id):
        found = builder_client.get("/search", {"q": query}).content.decode()
        b_part = found.split('id="engine-b"', 1)[1]
        default_part = found.split('id="engine-default"', 1)[1].split('id="engine-b"', 1)[0]
        assert f'href="/e/b/images/{job.image_hex}/"' in b_part
        assert "0 matching" in default_part
    _, token = ApiToken.issue(job.created_by, "search")
    answer = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/search", {"q": tag.split(":")[0]}).json()
    assert [(entry["engine"], [image["url"] for image in entry["images"]]) for entry in answer] == [
        ("default", []), ("b", [f"/e/b/images/{job.image_hex}/"])]


def wait_for_page(client, url, text, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(url, follow=True).content.decode()
        if text in page:
            return page
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never said {text!r}")
        time.sleep(0.5)


def sample(text, name, **labels):
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    for line in text.splitlines():
        match = re.match(r"^(\w+)\{([^}]*)\} (\S+)$", line)
        if match and match.group(1) == name and wanted <= set(match.group(2).split(",")):
            return float(match.group(3))
    return None


def test_with_every_worker_of_b_gone_a_runs_and_bs_jobs_say_so(two_engines, module_env, live_settings, server_ab,
                                                               builder_client, builder_session, builder, worker,
                                                               client):
    worker_b = start_worker_b(module_env, live_settings)
    worker_b.kill()  # as a crash of B's host would
    worker_b.stop()

    job_b = build_on(builder_client, "/e/b", f"FROM {dockerlib.BASE_IMAGE}\nLABEL stranded=1\n",
                     dockerlib.unique("stranded") + ":1")
    tag_a = dockerlib.unique("on-a") + ":1"
    job_a = build_on(builder_client, "", f"FROM {dockerlib.BASE_IMAGE}\nLABEL made.on=default\n", tag_a)
    assert (job_a.engine, job_b.engine) == ("default", "b")
    live.wait_for_job(job_a)
    assert job_a.state == "succeeded", job_a.error
    assert on_shared_engine(tag_a)

    page = wait_for_page(builder_client, f"/e/b/jobs/{job_b.pk}/", "No worker for engine b")
    assert f"no live worker consumes its queue ({live_settings['queue']}.b)" in page
    job_b.refresh_from_db()
    assert job_b.state == "queued"
    assert "No worker for engine" not in builder_client.get(f"/jobs/{job_a.pk}/").content.decode()
    # An open page hears it too, from the job's stream: no reload needed.
    watching = live.JobSocket(server_ab, builder_session, job_b.pk)
    try:
        heard = [json.loads(watching.conn.recv(timeout=15)) for _ in range(2)]
    finally:
        watching.close()
    assert {"type": "workers", "present": False} in heard, heard

    health = client.get("/healthz")
    checks = health.json()["checks"]
    assert health.status_code == 503
    assert checks["engine default"]["ok"] and checks["engine b"]["ok"]
    assert checks[f"workers for {live_settings['queue']}"]["ok"]
    assert checks[f"workers for {live_settings['queue']}.b"] == {
        "ok": False, "detail": f"no worker for engine b (queue {live_settings['queue']}.b)"}

    scraped = client.get("/metrics").content.decode()
    assert sample(scraped, "dockyard_queue_depth", engine="b", queue=f"{live_settings['queue']}.b") >= 1
    assert sample(scraped, "dockyard_jobs", engine="b", state="queued", kind="build") >= 1
    assert sample(scraped, "dockyard_jobs", engine="default", state="succeeded", kind="build") >= 1

    control.cancel(job_b, builder)  # nothing of it is left for a later worker of B


def test_a_role_on_one_engine_is_refused_on_the_other(two_engines, db):
    """Viewer everywhere, builder on b alone."""
    viewer = make_user("viewer", roles.VIEWER)
    EngineRole.objects.create(user=viewer, engine="b", role=roles.BUILDER)
    client = Client()
    client.force_login(viewer)
    pull = {"reference": "127.0.0.1:5000/engines/never-sent:1"}

    refused = client.post("/pull/", pull)
    assert refused.status_code == 403
    assert "does not allow this on the engine default: pull images needs the builder role" in refused.content.decode()
    started = client.post("/e/b/pull/", pull)
    assert started.status_code == 302
    assert list(Job.objects.values_list("engine", "kind", "state")) == [("b", "pull", "queued")]
    assert AuditEntry.objects.get(outcome="denied").engine == "default"

    # The API, by the engine its URL names.
    _, token = ApiToken.issue(viewer, "ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.post("/api/pulls", pull, content_type="application/json").status_code == 403
    assert api.post("/e/b/api/pulls", pull, content_type="application/json").status_code == 201
    # The header offers what the engine's role allows, and the other engine.
    page_b, page_a = client.get("/e/b/jobs/").content.decode(), client.get("/jobs/").content.decode()
    assert 'href="/e/b/pull/"' in page_b and 'href="/pull/"' not in page_a
    assert '<a href="/e/b/" aria-current="page">b</a>' in page_b and '<a href="/">default</a>' in page_b
    # Their own job on b they may cancel; on b only.
    job = Job.objects.filter(engine="b").first()
    assert roles.may_cancel(viewer, job)
    assert not roles.may(viewer, "pull", "default") and roles.may(viewer, "pull", "b")
    assert not roles.may(AnonymousUser(), "browse", "b")


def test_an_unknown_engine_in_a_url_is_a_404(two_engines, builder_client, server_ab, builder_session):
    for path in ("/e/nope/", "/e/nope/images/x/", "/e/nope/api/images", "/e/NOPE/jobs/", "/e/../", "/e/"):
        assert builder_client.get(path).status_code == 404, path
    with pytest.raises(InvalidStatus):
        connect(f"{server_ab.ws_url}/ws/e/nope/images/", open_timeout=10,
                additional_headers={"Cookie": f"sessionid={builder_session}", "Origin": server_ab.url})


def images_socket(server, session, prefix=""):
    return connect(f"{server.ws_url}/ws/{prefix}images/", open_timeout=10,
                   additional_headers={"Cookie": f"sessionid={session}", "Origin": server.url})


def tags_seen(socket, last, timeout=30):
    """The tags a list's socket hears, up to and with `last`."""
    seen, deadline = [], time.monotonic() + timeout
    while last not in seen:
        seen.append(json.loads(socket.recv(timeout=max(0.05, deadline - time.monotonic()))).get("tag"))
    return seen


def test_each_engines_listener_feeds_only_its_own_lists(two_engines, module_env, server_ab, second_engine,
                                                        base_image, builder_session):
    listeners = [live.EventListener(module_env, log_name=f"test-events-engines-{name}.log", engine=name)
                 for name in ("default", "b")]
    try:
        with images_socket(server_ab, builder_session) as list_a, \
                images_socket(server_ab, builder_session, "e/b/") as list_b:
            tag_b, tag_a = dockerlib.unique("heard-on-b") + ":1", dockerlib.unique("heard-on-a") + ":1"
            second_engine.docker("tag", second_engine.base_image, tag_b)
            dockerlib.docker("tag", base_image, tag_a)
            # Each list is read until a tag made after both on its own engine: what it heard of the other's, it has.
            end_b, end_a = dockerlib.unique("end-on-b") + ":1", dockerlib.unique("end-on-a") + ":1"
            second_engine.docker("tag", second_engine.base_image, end_b)
            dockerlib.docker("tag", base_image, end_a)
            seen_b, seen_a = tags_seen(list_b, end_b), tags_seen(list_a, end_a)
        assert tag_b in seen_b and tag_a not in seen_b
        assert tag_a in seen_a and tag_b not in seen_a
        assert list(TagMove.objects.filter(tag__in=(tag_a, tag_b)).order_by("tag").values_list("tag", "engine")) == [
            (tag_a, "default"), (tag_b, "b")]
    finally:
        for listener in listeners:
            listener.stop()


@pytest.mark.unaudited("the jobs are made directly, as ones that ended")
def test_streams_admit_by_the_role_on_their_engine(two_engines, server_ab, transactional_db):
    """A builder on b alone: b's live list and b's job streams open, the default engine's do not."""
    someone = make_user("nobody", None)
    EngineRole.objects.create(user=someone, engine="b", role=roles.BUILDER)
    client = Client()
    client.force_login(someone)
    session = client.cookies["sessionid"].value
    on_b = Job.objects.create(engine="b", kind="pull", target="x:1", params={"reference": "x:1"}, output_limit=1000,
                              state="failed", created_by=someone)
    on_default = Job.objects.create(kind="pull", target="x:1", params={"reference": "x:1"}, output_limit=1000,
                                    state="failed", created_by=someone)
    headers = {"Cookie": f"sessionid={session}", "Origin": server_ab.url}
    for path in ("/ws/e/b/images/", f"/ws/jobs/{on_b.pk}/"):
        with connect(f"{server_ab.ws_url}{path}", open_timeout=10, additional_headers=headers) as socket:
            if "jobs" in path:
                assert json.loads(socket.recv(timeout=10))["type"] in ("lines", "steps", "state")
    for path in ("/ws/images/", f"/ws/jobs/{on_default.pk}/"):
        with pytest.raises(InvalidStatus):
            connect(f"{server_ab.ws_url}{path}", open_timeout=10, additional_headers=headers)
    assert client.get("/").status_code == 403 and client.get("/e/b/").status_code == 200
    assert client.get(f"/jobs/{on_default.pk}/").status_code == 403  # no role on the default engine
    assert client.get(f"/e/b/jobs/{on_default.pk}/").status_code == 404  # and not among the jobs they may see


def test_the_sweep_sends_an_unclaimed_job_again_to_its_engines_queue(two_engines, live_settings, builder):
    queue_b = f"{live_settings['queue']}.b"
    with engines.activated("b"):
        job = control.start_pull(builder, "127.0.0.1:5000/engines/unclaimed:1")
    before = shared_redis().llen(queue_b)
    Job.objects.filter(pk=job.pk).update(dispatched_at=job.queued_at - timedelta(hours=1))
    control.requeue_unclaimed()
    assert shared_redis().llen(queue_b) == before + 1
    control.cancel(job, builder)


@pytest.mark.browser
def test_the_header_switches_engine_and_finds_an_image_on_any(two_engines, browser, server_ab, builder,
                                                              second_engine):
    from playwright.sync_api import expect

    repo = dockerlib.unique("picked")
    second_engine.docker("tag", second_engine.base_image, f"{repo}:1")
    context = browser.new_context(base_url=server_ab.url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        log_in(page)
        expect(page.locator("#engine-picker summary")).to_have_text("Engine: default")
        expect(page.locator("#image-table")).not_to_contain_text(repo)

        page.click("#engine-picker summary")
        page.click("#engine-picker a:text-is('b')")
        expect(page).to_have_url(f"{server_ab.url}/e/b/")
        expect(page.locator("#engine-picker summary")).to_have_text("Engine: b")
        expect(page.locator("#image-table")).to_contain_text(repo)

        page.goto("/")  # the search is of every engine, from any engine's page
        page.fill(".engine-search input", repo)
        page.press(".engine-search input", "Enter")
        expect(page.locator("#engine-b")).to_contain_text(repo)
        expect(page.locator("#engine-default")).to_contain_text("0 matching")
        page.click(f"#engine-b a:text-is('{repo}')")
        expect(page).to_have_url(re.compile(rf"{re.escape(server_ab.url)}/e/b/images/[0-9a-f]{{64}}/$"))
        expect(page.locator(".image-id")).to_have_text(second_engine.base_image)
    finally:
        context.close()


def test_a_file_index_stays_while_any_engine_has_the_image(two_engines, second_engine, db):
    from images.models import ImageIndex
    from images.tasks import remove_unused_file_indexes

    only_on_b = ImageIndex.objects.create(image_id=second_engine.base_image)
    nowhere = ImageIndex.objects.create(image_id="sha256:" + "e" * 64)
    remove_unused_file_indexes()  # the scheduled task's own function
    assert list(ImageIndex.objects.values_list("pk", flat=True)) == [only_on_b.pk]
    assert not ImageIndex.objects.filter(pk=nowhere.pk).exists()


def test_an_admin_grants_a_role_on_one_engine_in_the_admin_site(two_engines, owner_client):
    from django.contrib.auth.models import Group
    from django.urls import reverse

    someone = make_user("viewer", roles.VIEWER)
    response = owner_client.post(reverse("admin:auth_user_change", args=[someone.pk]), {
        "username": "viewer", "is_active": "on", "groups": [Group.objects.get(name=roles.VIEWER).pk],
        "user_permissions": [], "date_joined_0": "2026-11-23", "date_joined_1": "10:00:00",
        "initial-date_joined_0": "2026-11-23", "initial-date_joined_1": "10:00:00",
        "engine_roles-TOTAL_FORMS": "1", "engine_roles-INITIAL_FORMS": "0",
        "engine_roles-0-engine": "b", "engine_roles-0-role": roles.BUILDER,
    })
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert list(EngineRole.objects.values_list("user__username", "engine", "role")) == [("viewer", "b", "builder")]
    assert AuditEntry.objects.get(action="user-change").detail == "in the admin site; role viewer; builder on b"
    someone = type(someone).objects.get(pk=someone.pk)
    assert roles.may(someone, "build", "b") and not roles.may(someone, "build", "default")
    listed = owner_client.get(reverse("users-list")).content.decode()
    assert '<span class="badge engine-role">builder on b</span>' in listed
    assert f'href="/admin/auth/user/{someone.pk}/change/#engine_roles-group"' in listed

    # Only an engine Dockyard manages can be chosen.
    page = owner_client.get(reverse("admin:images_enginerole_add")).content.decode()
    assert '<option value="b">b</option>' in page
    refused = owner_client.post(reverse("admin:images_enginerole_add"),
                                {"user": someone.pk, "engine": "nope", "role": roles.VIEWER})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert EngineRole.objects.count() == 1
