"""Hostile input, every way it can come in. Each case must get a clear message and
change nothing: no job, no image, no tag, and no call to the engine naming it.

(Archive members and bombs are in test_archive_safety.py; a viewer calling every
builder and admin endpoint and websocket is in test_roles.py.)
"""

import html
import io
import json
import os
import tarfile
from urllib.parse import quote

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from images.jobs import logstore
from images.models import ApiToken, Job
from tests import dockerlib
from tests.live import build_root, job_from, wait_for_job

BAD_REFERENCES = [
    "",
    "name:",
    "name:tag:extra",
    "-leading-dash",
    "name/../etc",
    "name//double",
    "name@sha256:short",
    "a" * 256,
    "name:" + "t" * 129,
    "name:tag with space",
    "name;rm -rf /",
    "$(touch /tmp/pwned)",
    "<script>alert(1)</script>",
    "name\nnewline",
    "name\x00nul",
    "--help",
    "http://127.0.0.1:5000/x",
    "name:-tag",
    "127.0.0.1:5000/",
    "ｎａｍｅ",
    "name..sub",
    "__name",
    "name:tag@sha256:" + "z" * 64,
    "name:ta\tg",
    "/abs/name",
]
CLEAR = ("not a valid image reference", "is not valid", "cannot contain spaces", "cannot be empty",
         "the limit is 255", "must look like sha256", "This field is required", "Give a repository and a tag", "Null characters are not allowed",
         "has a space, which no tag may have", "followed by 64 lowercase hex digits")




@pytest.fixture
def engine_calls(monkeypatch):
    """Every request the SDK sends to the engine during the test (passed through
    unchanged), to show a rejected string never reached it."""
    sent = []
    original = requests.Session.send

    def send(session, request, **kwargs):
        sent.append(f"{request.method} {request.url} {request.body if isinstance(request.body, (str, bytes)) else ''}")
        return original(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    return sent


@pytest.fixture
def image(base_image):
    tag = dockerlib.unique("hostile") + ":1"
    return {"tag": tag, "hex": dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\n", tags=[tag]).split(":")[1]}


def shown(response):
    return html.unescape(response.content.decode())


def assert_untouched_by(bad, calls):
    for needle in {bad, quote(bad, safe=""), quote(bad)} - {""}:
        assert not any(needle in call for call in calls), (bad, needle)


@pytest.mark.parametrize("bad", BAD_REFERENCES, ids=[repr(bad)[:30] for bad in BAD_REFERENCES])
def test_a_bad_reference_is_refused_everywhere_before_the_engine(bad, owner, owner_client, image, engine_calls):
    before = dockerlib.own_images()
    engine_calls.clear()
    _, token = ApiToken.issue(owner, "ci")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    answers = [
        owner_client.post(reverse("jobs-pull"), {"reference": bad}),
        api.post("/api/pulls", json.dumps({"reference": bad}), content_type="application/json"),
        owner_client.post(reverse("images-push", args=[image["hex"]]), {"tag": bad}, follow=True),
        owner_client.post(reverse("images-untag", args=[image["hex"]]), {"tag": bad, "confirm": "yes"}, follow=True),
        owner_client.post(reverse("images-tag", args=[image["hex"]]), {"repository": bad, "tag": "1"}, follow=True),
    ]
    if bad and not any(char in ",\r\n" for char in bad):  # the tags field splits on those
        answers.append(owner_client.post(reverse("jobs-build"), {
            "source": "dockerfile", "dockerfile": "Dockerfile", "tags": bad,
            "dockerfile_text": f"FROM {dockerlib.BASE_IMAGE}\n"}))
    for number, answer in enumerate(answers):
        text = shown(answer)
        assert any(phrase in text for phrase in CLEAR), (number, text[-600:])
        assert "<script>alert(1)</script>" not in answer.content.decode()
    if bad and "\x00" not in bad and "/" not in bad:
        # Image pages: the reference is the path; an invalid one is "not found" without asking.
        assert owner_client.get(f"/images/{quote(bad)}/").status_code == 404
    assert any(image["hex"] in call for call in engine_calls)  # the spy sees what does reach the engine
    assert_untouched_by(bad, engine_calls)
    assert not Job.objects.exists()
    assert dockerlib.own_images() == before


def test_a_dockerfile_path_outside_the_context_is_refused(builder_client, base_image, settings):
    settings.DOCKYARD_BUILD_ROOTS = [str(build_root())]
    build_root().mkdir(parents=True, exist_ok=True)
    before = dockerlib.own_images()
    for path in ("../Dockerfile", "/etc/passwd", "sub/../../Dockerfile", "..\\Dockerfile"):
        response = builder_client.post(reverse("jobs-build"), {
            "source": "directory", "directory": str(build_root()), "dockerfile": path})
        assert "must be a relative path inside the context" in shown(response), path
    assert not Job.objects.exists() and dockerlib.own_images() == before


def test_a_server_directory_escaping_its_root_through_a_symlink_is_refused(builder_client, tmp_path, settings):
    root = build_root()
    settings.DOCKYARD_BUILD_ROOTS = [str(root)]
    root.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Dockerfile").write_text(f"FROM {dockerlib.BASE_IMAGE}\nRUN cat /etc/shadow\n")
    link = root / f"escape-{os.getpid()}"
    link.symlink_to(outside)
    try:
        before = dockerlib.own_images()
        for path in (str(link), f"{root}/../{tmp_path.name}", "/etc"):
            response = builder_client.post(reverse("jobs-build"), {
                "source": "directory", "directory": path, "dockerfile": "Dockerfile"})
            assert "is not inside an allowed build root" in shown(response), path
        assert not Job.objects.exists() and dockerlib.own_images() == before
    finally:
        link.unlink()


@pytest.mark.parametrize("url, message", [
    ("http://127.0.0.1:2375/x.git", "Git URLs must use https or ssh"),
    ("https://169.254.169.254/latest.git", "Builds from 169.254.169.254 are not allowed"),
    ("https://github.com.evil.example/x.git", "Builds from github.com.evil.example are not allowed"),
    ("file:///etc", "Git URLs must use https or ssh"),
    ("ext::sh -c touch% /tmp/pwned", "cannot contain spaces"),
    ("https://github.com/x/y.git#--upload-pack=/tmp/x", "cannot start with '-'"),
    ("https://github.com/x/y.git#main:-sub", "cannot start with '-'"),
])
def test_git_urls_are_limited_to_allowed_schemes_and_hosts(builder_client, url, message, settings):
    settings.DOCKYARD_GIT_SCHEMES, settings.DOCKYARD_GIT_HOSTS = ["https", "ssh"], ["github.com"]
    response = builder_client.post(reverse("jobs-build"), {"source": "git", "git_url": url, "dockerfile": "Dockerfile"})
    assert message in shown(response)
    assert not Job.objects.exists()


XSS = """<img src=x onerror="alert(1)"><script>alert(2)</script>"""


@pytest.mark.usefixtures("worker")
def test_markup_from_the_engine_and_the_build_is_escaped_everywhere(builder_client, base_image):
    """A label, an env value, a history command and a log line all carry markup."""
    tag = dockerlib.unique("xss") + ":1"
    dockerfile = (f"FROM {dockerlib.BASE_IMAGE}\n"
                  f"LABEL evil='{XSS}' {dockerlib.TEST_LABEL}=1\n"
                  f"ENV EVIL='{XSS}'\n"
                  f"RUN echo '{XSS}'\n")
    response = builder_client.post(reverse("jobs-build"), {"source": "dockerfile", "dockerfile": "Dockerfile",
                                                           "tags": tag, "dockerfile_text": dockerfile,
                                                           "no_cache": "on"})  # a cached RUN prints nothing
    job = wait_for_job(job_from(response))
    assert job.state == "succeeded", job.error
    assert any(text.endswith(XSS) for text in logstore.texts(job))  # the build really printed it (BuildKit: "#6 0.2 " first)

    pages = [builder_client.get(reverse("images-detail", args=[job.image_hex])),
             builder_client.get(reverse("jobs-detail", args=[job.pk])),
             builder_client.get(reverse("jobs-list")),
             builder_client.get(reverse("images-list"))]
    for page in pages:
        text = page.content.decode()
        assert "<script>alert(2)</script>" not in text and '<img src=x onerror="alert(1)">' not in text
    detail = pages[0].content.decode()
    assert detail.count("&lt;script&gt;alert(2)&lt;/script&gt;") >= 3  # label, env and the RUN line at least

    log = builder_client.get(reverse("jobs-log", args=[job.pk]))
    assert log["Content-Type"] == "text/plain; charset=utf-8" and log["X-Content-Type-Options"] == "nosniff"
    assert log["Content-Disposition"].startswith("attachment")


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_a_page_on_another_origin_cannot_open_any_stream(builder_client, builder_session, server, origin):
    for path in ("/ws/images/", "/ws/jobs/1/"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{server.ws_url}{path}", open_timeout=10,
                    additional_headers={"Cookie": f"sessionid={builder_session}", "Origin": origin})
        assert refused.value.response.status_code == 403


def test_an_import_archive_that_escapes_is_refused_before_a_job(builder_client, settings, tmp_path):
    settings.DOCKYARD_CONTEXT_DIR = tmp_path / "contexts"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        link = tarfile.TarInfo("manifest.json")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        tar.addfile(link)
    before = dockerlib.own_images()
    response = builder_client.post(reverse("images-import"), {
        "archive": SimpleUploadedFile("image.tar", buffer.getvalue())})
    assert "is a symlink to '../../../../etc/passwd', outside the archive" in shown(response)
    assert not Job.objects.exists() and dockerlib.own_images() == before
    assert not any(settings.DOCKYARD_CONTEXT_DIR.glob("*"))
