import html
import re
import uuid

import pytest
from django.urls import reverse

from tests import dockerlib

DOCKERFILE = """\
FROM {base}
ARG GREETING=hello
ENV APP_HOME=/srv/app PATH=/bin
WORKDIR /srv/app
RUN echo "$GREETING" > greeting.txt && dd if=/dev/zero of=blob bs=1024 count=200
COPY notes.txt /srv/app/notes.txt
EXPOSE 8080/tcp
VOLUME /data
USER 1000
LABEL org.example.team="platform" xss="<script>alert(1)</script>"
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting.txt"]
"""


# What the page shows of each history entry (newest first, as `docker history`
# lists them): the instruction as the Dockerfile says it, and whether the step
# made no layer. Both builders record a WORKDIR that made its directory, and a
# BuildKit RUN that changed nothing, as real layers of 0 bytes.
CLASSIC_HISTORY = [
    (f"LABEL {dockerlib.TEST_LABEL}=1", True),
    ('CMD ["cat greeting.txt"]', True),
    ('ENTRYPOINT ["/bin/sh" "-c"]', True),
    ("LABEL org.example.team=platform xss=<script>alert(1)</script>", True),
    ("USER 1000", True),
    ("VOLUME [/data]", True),
    ("EXPOSE 8080/tcp", True),
    ("COPY file:5ed88e42d6271178f908da9077b081101bb265e2f6e500ffd14ebd89acbeace4 in /srv/app/notes.txt", False),
    ('RUN echo "$GREETING" > greeting.txt && dd if=/dev/zero of=blob bs=1024 count=200 '
     "with build args GREETING=bonjour", False),
    ("WORKDIR /srv/app", False),
    ("ENV APP_HOME=/srv/app PATH=/bin", True),
    ("ARG GREETING=hello", True),
    ("no instruction recorded", False),
]

BUILDKIT_DOCKERFILE = """\
FROM {base}
ARG VERSION=1
WORKDIR /app
RUN echo "$VERSION" > version.txt
RUN true
RUN ["mkdir", "-p", "/app/empty"]
ENV MODE=prod
CMD ["cat", "version.txt"]
"""
BUILDKIT_HISTORY = [
    ('CMD ["cat" "version.txt"]', True),
    ("ENV MODE=prod", True),
    ("RUN mkdir -p /app/empty with build args VERSION=1.2.3", False),
    ("RUN true with build args VERSION=1.2.3", False),
    ('RUN echo "$VERSION" > version.txt with build args VERSION=1.2.3', False),
    ("WORKDIR /app", False),
    ("ARG VERSION=1", True),
    ("no instruction recorded", False),
]


@pytest.fixture(scope="module")
def buildkit_image(base_image):
    repo = dockerlib.unique("detail-buildkit")
    image = dockerlib.build_buildkit(BUILDKIT_DOCKERFILE.format(base=dockerlib.BASE_IMAGE), tags=[f"{repo}:1"],
                                     build_args={"VERSION": "1.2.3"})
    return {"repo": repo, "id": image, "hex": image.split(":", 1)[1]}


@pytest.fixture(scope="module")
def app_image(base_image):
    repo = dockerlib.unique("detail")
    image = dockerlib.build(
        DOCKERFILE.format(base=dockerlib.BASE_IMAGE),
        tags=[f"{repo}:1.0", f"{repo}:latest"],
        build_args={"GREETING": "bonjour"},
        context_files={"notes.txt": "some notes\n"},
    )
    container = f"{repo.replace('/', '-')}-web"
    dockerlib.docker("create", "--label", f"{dockerlib.TEST_LABEL}=1", "--name", container, image)
    return {"repo": repo, "id": image, "hex": image.split(":", 1)[1], "container": container}


def detail(client, image):
    response = client.get(reverse("images-detail", args=[image["hex"]]))
    assert response.status_code == 200
    return response.content.decode()


def history_rows(page):
    body = page.split('<table class="history">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    found = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        instruction = " ".join(cells[0].split())
        found.append((instruction, cells[1].replace("empty", "").strip(), "badge\">empty" in row))
    return found


def test_it_redirects_a_tag_to_the_image_id(owner_client, app_image):
    response = owner_client.get(reverse("images-detail", args=[f"{app_image['repo']}:1.0"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("images-detail", args=[app_image["hex"]])


def test_it_redirects_a_short_id(owner_client, app_image):
    response = owner_client.get(reverse("images-detail", args=[app_image["hex"][:12]]))
    assert response["Location"] == reverse("images-detail", args=[app_image["hex"]])


def test_it_shows_every_tag_and_the_config(owner_client, app_image):
    page = detail(owner_client, app_image)
    for tag in (f"{app_image['repo']}:1.0", f"{app_image['repo']}:latest"):
        assert f"<code>{tag}</code>" in page
    text = html.unescape(page)
    assert "linux/amd64" in text or "linux/arm64" in text
    assert "APP_HOME=/srv/app" in text
    assert "<code>/srv/app</code>" in page  # workdir
    assert "<code>1000</code>" in page  # user
    assert "8080/tcp" in page and "/data" in page
    assert '["/bin/sh", "-c"]' in text and '["cat greeting.txt"]' in text
    assert "org.example.team=platform" in text


def test_it_escapes_what_the_image_controls(owner_client, app_image):
    page = detail(owner_client, app_image)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def history_heading(page):
    heading = re.search(r"<h2>Layer history (.*?)</h2>", page, re.S)[1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", heading)).split())


@pytest.mark.parametrize("image_fixture, expected", [("app_image", CLASSIC_HISTORY),
                                                     ("buildkit_image", BUILDKIT_HISTORY)])
def test_its_history_reads_like_the_dockerfile(request, owner_client, image_fixture, expected):
    image = request.getfixturevalue(image_fixture)
    rows = history_rows(detail(owner_client, image))
    assert [(instruction, empty) for instruction, _, empty in rows] == expected


@pytest.mark.parametrize("image_fixture", ["app_image", "buildkit_image"])
def test_its_empty_marks_are_the_image_configs(request, owner_client, image_fixture):
    """"Empty" is the config's `empty_layer`, read here from `docker save`; the
    other entries are the image's layers, one each; sizes are the CLI's."""
    image = request.getfixturevalue(image_fixture)
    page = detail(owner_client, image)
    rows = history_rows(page)
    config = dockerlib.image_config(image["id"])
    marks = [bool(entry.get("empty_layer")) for entry in reversed(config["history"])]
    assert [empty for _, _, empty in rows] == marks
    layers = len(config["rootfs"]["diff_ids"])
    assert marks.count(False) == layers
    assert [size for _, size, _ in rows] == [layer["Size"] for layer in dockerlib.history(image["id"])]
    assert history_heading(page) == f"{len(rows)} steps: {layers} layers, {marks.count(True)} empty"


def test_it_marks_a_real_layer_of_0_bytes_as_a_layer(owner_client, buildkit_image):
    page = detail(owner_client, buildkit_image)
    rows = {instruction: (size, empty) for instruction, size, empty in history_rows(page)}
    assert rows["WORKDIR /app"] == ("0B", False)
    assert rows["ENV MODE=prod"] == ("0B", True)


def test_it_lists_the_containers_using_it(owner_client, app_image):
    assert app_image["container"] in detail(owner_client, app_image)


def test_it_has_the_raw_inspect_json(owner_client, app_image):
    page = detail(owner_client, app_image)
    assert "<summary>Raw inspect JSON</summary>" in page
    assert f"&quot;Id&quot;: &quot;{app_image['id']}&quot;" in page


def test_it_answers_404_for_an_unknown_image(owner_client, engine):
    missing = uuid.uuid4().hex + uuid.uuid4().hex
    response = owner_client.get(reverse("images-detail", args=[missing]))
    assert response.status_code == 404
    assert missing in response.content.decode()
    assert "No such image" in response.content.decode()


def test_it_answers_404_for_an_unknown_tag(owner_client, engine):
    response = owner_client.get(reverse("images-detail", args=["dockyard-test/never-built:nope"]))
    assert response.status_code == 404
    assert "dockyard-test/never-built:nope" in response.content.decode()


def test_it_answers_404_without_asking_the_engine_for_an_invalid_reference(owner_client, settings):
    # An unreachable engine proves the engine was never asked: asking would give 503.
    settings.DOCKYARD_ENGINES = {"default": "unix:///nonexistent/docker.sock"}
    response = owner_client.get(reverse("images-detail", args=["UPPER/Case::bad"]))
    assert response.status_code == 404
    assert "not a valid image reference" in html.unescape(response.content.decode())


def test_it_needs_a_login(client, app_image):
    response = client.get(reverse("images-detail", args=[app_image["hex"]]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_its_live_fragment_is_the_pages_live_parts_only(owner_client, app_image):
    from images.models import TagMove

    TagMove.record(f"{app_image['repo']}:1.0", app_image["id"], "tag")  # a tag history to show
    page = detail(owner_client, app_image)
    response = owner_client.get(reverse("images-detail", args=[app_image["hex"]]), {"fragment": "live"})
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment and "Layer history" not in fragment and "Raw inspect JSON" not in fragment
    for element_id, tag in (("image-tag-list", "ul"), ("image-tag-history", "div"), ("image-containers", "section")):
        part = re.compile(rf'<{tag} [^>]*id="{element_id}".*?</{tag}>', re.S)
        # CSRF tokens differ from one response to the next; the rest is the page's own markup.
        same = [re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", part.search(text)[0]) for text in (page, fragment)]
        assert same[0] == same[1]
    assert f"{app_image['repo']}:latest" in fragment and app_image["container"] in fragment
    assert "Tag history" in fragment


def test_it_reads_the_config_from_the_save_stream_as_from_the_engines_store(engine, buildkit_image):
    """An engine on another host has no store here: its save stream gives the same config."""
    from images.engine import image_configs

    expected = dockerlib.image_config(buildkit_image["id"])
    assert image_configs.from_save_stream(engine.save_images([buildkit_image["id"]]), buildkit_image["id"]) == expected
    assert engine.image_config(buildkit_image["id"]) == expected
    assert image_configs.from_save_stream(engine.save_images([buildkit_image["id"]]), "sha256:" + "0" * 64) is None
