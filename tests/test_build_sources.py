"""Each build source: an uploaded archive, a server directory, a git URL, with
each builder (BuildKit, the default here, and the classic one)."""

import functools
import html
import http.server
import io
import re
import shutil
import subprocess
import tarfile
import threading
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from images.jobs import logstore
from images.models import Job
from tests import dockerlib, live
from tests.live import job_from, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")

DOCKERFILE = f"FROM {dockerlib.BASE_IMAGE}\nCOPY app/hello.txt /hello.txt\nRUN cat /hello.txt\nLABEL {dockerlib.TEST_LABEL}=1\n"
FILES = {"build/Dockerfile": DOCKERFILE, "app/hello.txt": "hello from the context\n"}


def tar_bytes(files, mode="w"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def build(client, **fields):
    response = client.post(reverse("jobs-build"), {"dockerfile": "build/Dockerfile", "no_cache": "on", **fields})
    assert response.status_code == 302, response.content.decode()[:3000]
    return wait_for_job(job_from(response))


BUILDERS = pytest.mark.parametrize("builder_name", ["buildkit", "classic"])
TEXT = "hello from the context"


def printed(job):
    """The RUN's line, as the classic builder prints it or in BuildKit's plain form ("#6 0.104 hello ...")."""
    lines = list(logstore.texts(job))
    if job.params["builder"] == "classic":
        return TEXT in lines
    return any(re.fullmatch(rf"#\d+ \d+\.\d{{3}} {TEXT}", line) for line in lines)


@BUILDERS
@pytest.mark.parametrize("filename, payload", [
    ("context.tar", lambda: tar_bytes(FILES)),
    ("context.tar.gz", lambda: tar_bytes(FILES, "w:gz")),
    ("context.zip", lambda: zip_bytes(FILES)),
])
def test_it_builds_an_uploaded_context(builder_client, filename, payload, builder_name):
    job = build(builder_client, source="upload", context=SimpleUploadedFile(filename, payload()), builder=builder_name)
    assert job.state == "succeeded", job.error
    assert printed(job)
    assert job.params["context_name"] == filename


def test_it_refuses_an_upload_that_is_not_an_archive(builder_client):
    response = builder_client.post(reverse("jobs-build"), {
        "source": "upload", "dockerfile": "Dockerfile", "context": SimpleUploadedFile("notes.txt", b"hi")})
    assert response.status_code == 200
    assert ".tar, .tar.gz (.tgz) or .zip" in response.content.decode()
    assert not Job.objects.exists()


def test_it_refuses_a_dockerfile_path_outside_the_context(builder_client):
    response = builder_client.post(reverse("jobs-build"), {
        "source": "upload", "dockerfile": "../Dockerfile", "context": SimpleUploadedFile("c.tar", tar_bytes(FILES))})
    assert "must be a relative path inside the context" in response.content.decode()
    assert not Job.objects.exists()


@pytest.fixture
def build_dir(settings):
    root = live.build_root()
    project = root / "project"
    shutil.rmtree(root, ignore_errors=True)
    for name, text in FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    settings.DOCKYARD_BUILD_ROOTS = [str(root)]
    yield project
    shutil.rmtree(root, ignore_errors=True)


@BUILDERS
def test_it_builds_a_directory_under_a_build_root(builder_client, build_dir, builder_name):
    job = build(builder_client, source="directory", directory=str(build_dir), builder=builder_name)
    assert job.state == "succeeded", job.error
    assert printed(job)


def test_it_refuses_a_directory_outside_the_build_roots(builder_client, build_dir, tmp_path):
    (build_dir / "escape").symlink_to(tmp_path)
    for path in (tmp_path, build_dir / "escape", build_dir / ".." / ".." ):
        response = builder_client.post(reverse("jobs-build"), {
            "source": "directory", "directory": str(path), "dockerfile": "Dockerfile"})
        assert "is not inside an allowed build root" in response.content.decode(), path
    assert not Job.objects.exists()


@pytest.fixture
def git_server(tmp_path, settings):
    """A bare repository served over plain HTTP on loopback, which the engine clones.
    Loopback http is allowed here only (and in the test worker's environment)."""
    settings.DOCKYARD_GIT_SCHEMES = live.LOOPBACK_GIT["DOCKYARD_GIT_SCHEMES"].split(",")
    settings.DOCKYARD_GIT_HOSTS = live.LOOPBACK_GIT["DOCKYARD_GIT_HOSTS"].split(",")
    work = tmp_path / "work"
    work.mkdir()
    for name, text in FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git = functools.partial(subprocess.run, check=True, capture_output=True)
    git(["git", "init", "-q", "-b", "main", str(work)])
    git(["git", "-C", str(work), "add", "."])
    git(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "context"])
    bare = tmp_path / "served" / "context.git"
    git(["git", "clone", "-q", "--bare", str(work), str(bare)])
    git(["git", "-C", str(bare), "update-server-info"])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/context.git"
    httpd.shutdown()


@BUILDERS
def test_it_builds_a_git_url(builder_client, git_server, builder_name):
    # Engine 20.10 clones "master" unless the URL names a ref; BuildKit's engine clones it too.
    job = build(builder_client, source="git", git_url=f"{git_server}#main", builder=builder_name)
    assert job.state == "succeeded", job.error
    assert printed(job)


def test_it_refuses_a_git_ref_that_looks_like_an_option(builder_client):
    response = builder_client.post(reverse("jobs-build"), {
        "source": "git", "git_url": "https://github.com/x/x.git#--upload-pack=/tmp/pwned",
        "dockerfile": "Dockerfile"})
    assert "cannot start with '-'" in html.unescape(response.content.decode())
    assert not Job.objects.exists()


def test_a_secret_looking_build_arg_needs_a_confirmation(builder_client):
    fields = {"source": "dockerfile", "dockerfile": "Dockerfile", "build_args": "API_TOKEN=abc\nREGION=eu",
              "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\nARG API_TOKEN\n"}
    response = builder_client.post(reverse("jobs-build"), fields)
    assert "API_TOKEN looks like a secret" in html.unescape(response.content.decode())
    assert not Job.objects.exists()
    response = builder_client.post(reverse("jobs-build"), {**fields, "secret_args_ok": "on"})
    assert response.status_code == 302
    assert wait_for_job(Job.objects.get()).state == "succeeded"
