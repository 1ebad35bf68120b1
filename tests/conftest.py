import os
import re
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from images.engine import get_engine
from tests import dockerlib, live, storage


@pytest.fixture(scope="session")
def engine():
    engine = get_engine()
    engine.ping()
    return engine


@pytest.fixture(scope="session")
def base_image(engine):
    dockerlib.remove_test_images()
    image = dockerlib.import_base_image()
    yield image
    dockerlib.remove_test_images()


def make_user(username, role):
    """A user with one of the three roles (None for no role at all)."""
    from images.accounts import roles

    user = get_user_model().objects.create_user(username, password=PASSWORDS[username])
    roles.assign(user, role)
    return user


# Every test password; `_no_secret_stored` looks for each of them in every stored row.
PASSWORDS = {
    "owner": "owner-password-1",
    "builder": "builder-password-1",
    "viewer": "viewer-password-1",
    "nobody": "nobody-password-1",
    "newcomer": "newcomer-Password-9",  # made through the users page
}


@pytest.fixture
def owner(db):
    """The host's admin."""
    return make_user("owner", "admin")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(request, settings):
    # Browser tests log in through the real server, which checks with its own hashers.
    if request.node.get_closest_marker("browser") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def live_settings(django_db_setup):
    """A queue and channel-layer prefix for this test session only."""
    from django.test import override_settings

    run = uuid.uuid4().hex[:8]
    queue, prefix = f"dockyard-test-{run}", f"dockyard-test-{run}"
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": prefix}
    override = override_settings(DOCKYARD_QUEUE=queue, CHANNEL_LAYERS=layers)
    override.enable()
    yield {"queue": queue, "prefix": prefix}
    override.disable()


@pytest.fixture(scope="session")
def worker(live_settings, base_image):
    process = live.Worker(live.process_env(live_settings["queue"], live_settings["prefix"]), "test-worker.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def server(live_settings):
    process = live.Server(live.process_env(live_settings["queue"], live_settings["prefix"]))
    yield process
    process.stop()


@pytest.fixture
def scheduler(live_settings, worker):
    """`celery beat` with Dockyard's own schedule, every task due each second
    (tests/beat_settings.py), sending to the session's worker."""
    process = live.Beat(live.process_env(live_settings["queue"], live_settings["prefix"],
                                         DJANGO_SETTINGS_MODULE="tests.beat_settings"), "test-scheduler.log")
    yield process
    process.stop()


@pytest.fixture
def builder(transactional_db):
    return make_user("builder", "builder")


@pytest.fixture
def builder_client(client, builder):
    client.force_login(builder)
    return client


@pytest.fixture
def builder_session(builder_client):
    return builder_client.cookies["sessionid"].value


@pytest.fixture(scope="session")
def event_listener(live_settings, base_image):
    process = live.EventListener(live.process_env(live_settings["queue"], live_settings["prefix"]))
    yield process
    process.stop()


@pytest.fixture(scope="session")
def second_engine():
    """A dockerd of the tests' own (see live.SecondEngine), with the base image."""
    engine = live.SecondEngine()
    try:
        engine.base_image = engine.import_base_image()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def open_registry():
    registry = live.Registry()
    yield registry
    registry.stop()


REGISTRY_PASSWORD = "s3cret-Registry-pw-4471"
# The value of the tests' build secrets: in no stored row, log, page or image layer.
BUILD_SECRET = "bUild-s3cret-value-7719"


@pytest.fixture(scope="session")
def auth_registry():
    registry = live.Registry(user="pusher", password=REGISTRY_PASSWORD)
    registry.password = REGISTRY_PASSWORD
    yield registry
    registry.stop()


@pytest.fixture(scope="session", autouse=True)
def _own_cache_keys():
    """Login throttle counters of this run only, whatever earlier runs left in Redis."""
    from django.test import override_settings

    caches = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"dockyard-test-{uuid.uuid4().hex[:8]}"}}
    with override_settings(CACHES=caches):
        yield


@pytest.fixture(scope="session", autouse=True)
def _own_run_containers():
    """Runs started by this test run are labelled with its own instance (live.RUN_INSTANCE), and
    removed, all of them, when it ends: a developer's runs from the same checkout are never touched."""
    from django.test import override_settings

    with override_settings(DOCKYARD_INSTANCE=live.RUN_INSTANCE):
        yield
    left = dockerlib.docker("ps", "-aq", "--filter", f"label=dockyard.instance={live.RUN_INSTANCE}").split()
    if left:
        dockerlib.docker("rm", "-f", *left, check=False)


@pytest.fixture(scope="session", autouse=True)
def _loopback_registries():
    """This process pulls and pushes through the tests' loopback registries too, as
    the worker and server do (live.LOOPBACK_REGISTRIES)."""
    from django.test import override_settings

    hosts = live.LOOPBACK_REGISTRIES["DOCKYARD_REGISTRY_HOSTS"].split(",")
    with override_settings(DOCKYARD_REGISTRY_HOSTS=hosts):
        yield


# The engine everyone on this host uses (the tests' own engines are elsewhere), as
# configured before any test overrides the engines.
SHARED_ENGINE = settings.DOCKYARD_ENGINES["default"]


@pytest.fixture(scope="session")
def shared_engine_address():
    return SHARED_ENGINE


@pytest.fixture(autouse=True)
def _prunes_touch_only_the_runs_own(monkeypatch, shared_engine_address):
    """A prune of the shared engine takes only what this run made: one
    build-cache record by id, or images with the run's label. The engine holds
    other people's images and build cache (a developer's, a team's), which no
    test may take; the tests' own engine (live.SecondEngine) is theirs to prune."""
    from images.engine import Engine

    prune_images, prune_build_cache = Engine.prune_images, Engine.prune_build_cache

    def refused(what):
        def refuse(*args, **kwargs):
            pytest.fail(f"a test asked the shared engine to prune {what}: {args} {kwargs}")
        return refuse

    def own_images_only(engine, all_unused=False, label=None):
        if engine.address == shared_engine_address and (label or "").split("=", 1)[0] != dockerlib.TEST_LABEL:
            # What reaches the engine fails the test; what Dockyard refuses itself first, it still refuses.
            with monkeypatch.context() as patch:
                patch.setattr(engine.api, "prune_images", refused("images beyond the run's label"))
                return prune_images(engine, all_unused=all_unused, label=label)
        return prune_images(engine, all_unused=all_unused, label=label)

    def own_records_only(engine, *args, **kwargs):
        if engine.address == shared_engine_address and (args or not kwargs.get("record_id")):
            with monkeypatch.context() as patch:
                patch.setattr(engine.api, "prune_builds", refused("build cache beyond one record"))
                return prune_build_cache(engine, *args, **kwargs)
        return prune_build_cache(engine, *args, **kwargs)

    monkeypatch.setattr(Engine, "prune_images", own_images_only)
    monkeypatch.setattr(Engine, "prune_build_cache", own_records_only)


# What no stored row may ever hold: the test passwords, and any whole API token.
TOKEN_TEXT = re.compile(r"dky_[A-Za-z0-9_-]{20,}")


@pytest.fixture(autouse=True)
def _stored_rows_are_clean(request, monkeypatch):
    """After every test that used the database: no secret in any stored row, and
    every change the test made through Dockyard is in the audit log: its jobs,
    tag moves and registries, and each change this process asked of the engine."""
    names = request.fixturenames
    if "transactional_db" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    else:
        yield
        return
    engine_changes = storage.watch_engine_changes(monkeypatch)
    yield
    secrets = [*PASSWORDS.values(), REGISTRY_PASSWORD, BUILD_SECRET]
    found = [hit for hit in storage.search_text_columns(secrets, TOKEN_TEXT)]
    assert not found, f"secrets stored: {found}"
    if request.node.get_closest_marker("unaudited") is None:
        missing = storage.unaudited_changes(engine_changes)
        assert not missing, f"changes missing from the audit log: {missing}"


@pytest.fixture(scope="session", autouse=True)
def _logs_are_clean():
    """After the whole run: no secret in what Dockyard's own processes logged."""
    yield
    secrets = [*PASSWORDS.values(), REGISTRY_PASSWORD, BUILD_SECRET]
    for path in (Path(settings.DATA_DIR) / "log").glob("test-*.log"):
        text = path.read_text(errors="replace")
        leaked = [secret for secret in secrets if secret in text] + TOKEN_TEXT.findall(text)
        assert not leaked, f"{path} holds {leaked}"


# Browsers ------------------------------------------------------------------------

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (Debian's, never a downloaded one)."""
    # Playwright's sync API keeps an event loop running in this thread, which
    # Django's ORM takes for async code; the ORM calls here are plain sync ones.
    # Allowed in this process while the browser is open, and never in the
    # processes it starts (live.process_env leaves it out).
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


def log_in(page, username="builder"):
    """Log a tab in through the login form."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")


@pytest.fixture
def page(browser, server, builder):
    """A tab logged in as the builder, on the suite's server."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log_in(page)
    expect(page.locator("h1")).to_have_text("Images")
    yield page
    context.close()
