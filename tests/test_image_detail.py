import html
import re
import uuid

import pytest
from django.urls import reverse

from images.catalog.history import clean_created_by
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


def test_its_history_matches_docker_history(owner_client, app_image):
    page = detail(owner_client, app_image)
    ours = history_rows(page)
    cli = dockerlib.history(app_image["id"])
    assert len(ours) == len(cli)
    for (instruction, size, empty), layer in zip(ours, cli):
        expected = clean_created_by(layer["CreatedBy"])
        shown = (str(expected) or "no instruction recorded") + (
            f" with build args {expected.build_args}" if expected.build_args else "")
        assert instruction == " ".join(shown.split())
        assert size == layer["Size"]
        assert empty == (layer["Size"] == "0B")


def test_its_history_reads_like_the_dockerfile(owner_client, app_image):
    instructions = [row[0] for row in history_rows(detail(owner_client, app_image))]
    assert instructions[:2] == [f'LABEL {dockerlib.TEST_LABEL}=1', 'CMD ["cat greeting.txt"]']
    assert 'ENTRYPOINT ["/bin/sh" "-c"]' in instructions
    assert "USER 1000" in instructions
    assert "EXPOSE 8080/tcp" in instructions
    assert "WORKDIR /srv/app" in instructions
    run = next(i for i in instructions if i.startswith("RUN "))
    assert run.startswith('RUN echo "$GREETING" > greeting.txt')
    assert "with build args GREETING=bonjour" in run
    assert not any("#(nop)" in i or "/bin/sh -c" in i for i in instructions)


def test_it_marks_empty_layers(owner_client, app_image):
    found = history_rows(detail(owner_client, app_image))
    marked = {row[0] for row in found if row[2]}
    assert "USER 1000" in marked
    assert not any(row[0].startswith("RUN ") for row in found if row[2])


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
