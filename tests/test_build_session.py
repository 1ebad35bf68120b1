"""BuildKit sessions against the real engine: base images behind registry auth
(the tests' own htpasswd registry), secret mounts, and a session that ends with
its build. Classic builds get the stored logins too, through X-Registry-Config."""

import hashlib
import io
import json
import tarfile
import threading
import time

import pytest
from django.test import Client
from django.urls import reverse

from images.jobs import logstore
from images.accounts import registries
from images.builds import secrets, sessions
from images.engine import BuildSession, EngineError, StreamClosed, get_engine
from images.jobs import control
from images.models import BuildSecret
from tests import dockerlib
from tests.conftest import BUILD_SECRET, REGISTRY_PASSWORD
from tests.live import start_build, wait_for_job


def buildkit(dockerfile, credentials=None, secrets=None, **options):
    """Build with BuildKit and a session; return (image id or None, the engine's error, the session)."""
    engine = get_engine()
    session = BuildSession(engine, credentials=credentials or (lambda host: None), secrets=secrets or {})
    image_id, error = None, ""
    with session:
        assert session.serving
        for message in engine.stream().build_buildkit(dockerlib.dockerfile_context(dockerfile), session=session.id, nocache=True,
                                                      labels={dockerlib.TEST_LABEL: "1"}, **options):
            if message.get("id") == "moby.image.id":
                image_id = message["aux"]["ID"]
            elif "error" in message:
                error = message["error"]
    assert not session.serving
    return image_id, error, session


@pytest.fixture(scope="module")
def private_image(auth_registry, base_image):
    """An image pushed to the htpasswd registry, kept there only."""
    reference = f"{auth_registry.address}/{dockerlib.unique('private-base')}:1"
    image_id = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN echo private > /private\n", tags=[reference])
    name, tag = reference.rsplit(":", 1)
    login = {"username": "pusher", "password": REGISTRY_PASSWORD, "serveraddress": auth_registry.address}
    pushed = list(get_engine().stream().push(name, tag, auth_config=login))
    assert not any("error" in message for message in pushed), pushed
    return {"reference": reference, "image_id": image_id}


@pytest.fixture
def only_in_registry(private_image):
    dockerlib.docker("rmi", "-f", private_image["reference"], check=False)
    assert dockerlib.docker("images", "-q", private_image["reference"]).strip() == ""
    return private_image["reference"]


@pytest.fixture
def stored_login(transactional_db, owner, auth_registry):
    """The registry's login, stored as an admin stores it on the Registries page."""
    admin = Client()
    admin.force_login(owner)
    response = admin.post(reverse("registries-new"), {
        "address": auth_registry.address, "username": "pusher", "password": REGISTRY_PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize("pull", [False, True])
def test_a_buildkit_build_pulls_a_private_base_image_with_the_stored_login(stored_login, only_in_registry, pull):
    dockerfile = f"FROM {only_in_registry}\nRUN cat /private\n"
    image_id, error, _ = buildkit(dockerfile, credentials=lambda host: None, pull=pull)
    assert image_id is None and ("401" in error or "unauthorized" in error.lower()), error

    image_id, error, _ = buildkit(dockerfile, credentials=registries.login_for_host, pull=pull)
    assert image_id and not error, error
    dockerlib.docker("rmi", image_id)


def test_a_secret_mount_reads_the_chosen_value_which_no_layer_keeps(base_image, tmp_path):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  "RUN --mount=type=secret,id=npm_token sha256sum /run/secrets/npm_token > /hash\n")
    image_id, error, _ = buildkit(dockerfile, secrets={"npm_token": BUILD_SECRET.encode()})
    assert image_id and not error, error
    files = image_files(image_id, tmp_path / "image.tar")
    assert files["hash"].split()[0].decode() == hashlib.sha256(BUILD_SECRET.encode()).hexdigest()
    assert not [name for name, data in files.items() if BUILD_SECRET.encode() in data]
    assert BUILD_SECRET not in json.dumps(dockerlib.history(image_id))
    dockerlib.docker("rmi", image_id)


def image_files(image_id, path):
    """Every file of every layer of `docker save`, and the archive's own
    (config, manifest), by name: {name: bytes}."""
    with open(path, "wb") as out:
        for chunk in get_engine().save_images([image_id]):
            out.write(chunk)
    files = {}
    with tarfile.open(path) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            data = archive.extractfile(member).read()
            files[member.name] = data
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                    for entry in layer.getmembers():
                        if entry.isfile():
                            files[entry.name] = layer.extractfile(entry).read()
    return files


@pytest.mark.parametrize("required", ["", ",required=true"])
def test_a_secret_not_chosen_fails_the_build_naming_it(base_image, required):
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  f"RUN --mount=type=secret,id=aws_key{required} echo should not run\n")
    image_id, error, _ = buildkit(dockerfile, secrets={"npm_token": BUILD_SECRET.encode()})
    assert image_id is None
    assert "'aws_key' was not chosen for this build" in error, error


def test_a_cancelled_build_closes_its_session(base_image):
    engine = get_engine()
    stream = engine.stream()
    session = BuildSession(engine, credentials=lambda host: None, secrets={"x": BUILD_SECRET.encode()})
    started, outcome = threading.Event(), {}

    def build():
        try:
            with session:
                for message in stream.build_buildkit(dockerlib.dockerfile_context(
                        f"FROM {dockerlib.BASE_IMAGE}\nRUN --mount=type=secret,id=x sleep 60\n"),
                        session=session.id, nocache=True, labels={dockerlib.TEST_LABEL: "1"}):
                    started.set()
        except StreamClosed as exc:
            outcome["closed"] = exc

    thread = threading.Thread(target=build)
    thread.start()
    assert started.wait(30)
    time.sleep(1)  # into the RUN step, which read the secret
    stream.close()
    thread.join(10)
    assert not thread.is_alive() and "closed" in outcome
    assert not session.serving and session._thread is not None and not session._thread.is_alive()
    assert engine_dropped(engine, session.id)


def engine_dropped(engine, session_id, timeout=5):
    """Whether the engine has let go of the session: it refuses a second session
    with the id of one it holds ("session ... already exists")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock, _ = engine.open_session(session_id, "probe", "probe", [])
        except EngineError as exc:
            assert "already exists" in str(exc), exc
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
            continue
        sock.close()
        return True


def test_a_session_lives_while_its_build_runs(base_image):
    engine = get_engine()
    with BuildSession(engine, credentials=lambda host: None, secrets={}) as session:
        assert not engine_dropped(engine, session.id, timeout=0)
    assert engine_dropped(engine, session.id)


@pytest.mark.usefixtures("worker")
def test_a_classic_build_pulls_a_private_base_image_with_the_stored_login(builder_client, builder, stored_login,
                                                                          only_in_registry):
    job = wait_for_job(start_build(builder_client, f"FROM {only_in_registry}\nRUN cat /private\n", builder="classic"))
    assert job.state == "succeeded", job.error
    assert "private" in logstore.texts(job)
    dockerlib.docker("rmi", "-f", only_in_registry, check=False)


def test_a_jobs_session_answers_its_owners_secrets_and_the_stored_logins(live_settings, builder, stored_login,
                                                                         only_in_registry, tmp_path):
    # live_settings: the job is queued on this run's own queue, which no worker here reads.
    secrets.add_secret(builder, "npm_token", BUILD_SECRET)
    job = control.start_build(builder, {"source": "dockerfile", "dockerfile": "Dockerfile", "secrets": ["npm_token"],
                                        "dockerfile_text": "FROM scratch\n"})
    dockerfile = (f"FROM {only_in_registry}\n"
                  "RUN --mount=type=secret,id=npm_token sha256sum /run/secrets/npm_token > /hash\n")
    engine = get_engine()
    with sessions.for_job(job, engine) as session:
        messages = list(engine.stream().build_buildkit(dockerlib.dockerfile_context(dockerfile), session=session.id, nocache=True))
    assert not session.serving
    image_id = next(m["aux"]["ID"] for m in messages if m.get("id") == "moby.image.id")
    assert image_files(image_id, tmp_path / "image.tar")["hash"].startswith(
        hashlib.sha256(BUILD_SECRET.encode()).hexdigest().encode())
    dockerlib.docker("rmi", image_id)

    secrets.delete_secret(builder, BuildSecret.objects.get())
    with pytest.raises(secrets.SecretUnavailable, match="chose the secret npm_token"):
        sessions.for_job(job, engine)
