"""Indexing an image's files through the worker, and the explorer's tree, marks,
sizes and wasted space checked against what `docker save`, read with tarfile,
says (tests/savedlayers.py works it out without images.files)."""

import html
import re
import tarfile

import pytest
from django.urls import reverse

from images.engine import get_engine
from images.jobs import logstore
from images.catalog.history import clean_created_by
from images.files import explorer, indexing
from images.files.entries import display
from images.files.filesystem import ImageFiles
from images.models import ImageIndex, LayerIndex
from images.monitoring.metrics import ENGINE_CALL_SECONDS
from tests import dockerlib, live, savedlayers
from tests.test_file_hostile import Recorder

pytestmark = pytest.mark.usefixtures("worker")

MARKUP = "<img src=x onerror=alert(1)>"
DOCKERFILE = f"""\
FROM {{base}}
RUN mkdir -p /app/sub/deep /app/gone/inside /opq/inner && echo one > /app/a.txt && head -c 5000 /dev/zero > /app/big \\
 && echo old > /opq/old && echo in > /opq/inner/x && echo deep > /app/sub/deep/f && echo g > /app/gone/inside/g \\
 && touch /app/empty1 /app/empty2 && ln -s a.txt /app/link && ln /app/a.txt /app/hard \\
 && touch "/app/$(printf 'caf\\351')" '/app/{MARKUP}'
RUN head -c 7000 /dev/zero > /app/big && rm /app/empty2 && rm -rf /app/gone
RUN rm -rf /opq && mkdir /opq && echo new > /opq/new && echo again > /opq/old
"""
KINDS = {tarfile.REGTYPE: "file", tarfile.DIRTYPE: "directory", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hard link"}


@pytest.fixture(scope="module")
def image(base_image):
    tag = dockerlib.unique("files") + ":1"
    # A label of its own: the same steps on the same base make the same image id, and a tag of another run's (or
    # another module's) copy would then be the name the index job is called by.
    image_id = dockerlib.build(DOCKERFILE.format(base=dockerlib.BASE_IMAGE) + f"LABEL files.fixture={tag}\n",
                               tags=[tag])
    return {"tag": tag, "id": image_id, "hex": image_id.split(":")[1], "layers": savedlayers.saved_layers(tag),
            "diff_ids": get_engine().inspect_image(tag)["RootFS"]["Layers"]}


def index_through_the_worker(client, image_hex):
    job = live.job_from(client.post(reverse("files-index", args=[image_hex])))
    assert job.kind == "index" and job.params["image_id"] == f"sha256:{image_hex}"
    assert job.target.endswith(f" ({image_hex[:12]})") or job.target == f"untagged image {image_hex[:12]}"
    live.wait_for_job(job)
    assert job.state == "succeeded", job.error
    return job


def test_it_indexes_every_layer_once_and_reads_them_as_the_save_stream_says(builder_client, image):
    job = index_through_the_worker(builder_client, image["hex"])
    assert job.target == f"{image['tag']} ({image['hex'][:12]})"
    index = ImageIndex.objects.get(image_id=image["id"])
    assert index.job == job and len(index.diff_ids) == len(image["layers"]) == 4
    assert [clean_created_by(layer["created_by"]).arguments[:12] for layer in index.layers[1:]] == [
        "mkdir -p /ap", "head -c 7000", "rm -rf /opq "]
    for diff_id, saved in zip(index.diff_ids, image["layers"]):
        stored = LayerIndex.objects.get(diff_id=diff_id)
        assert stored.entry_count == len([e for e in saved if not e[0].endswith(b".wh..wh.plnk")])
        assert stored.total_size == sum(entry[2] for entry in saved)
        assert len(stored.entries) < 64 * 1024  # a few hundred entries: a few kB
    log = "\n".join(logstore.texts(job))
    assert "Indexed: " in log
    assert {entry["status"] for entry in job.progress["layers"]} == {
        f"Indexed {LayerIndex.objects.get(diff_id=diff_id).entry_count} entries" for diff_id in index.diff_ids}
    assert all(entry["current"] == entry["total"] > 0 for entry in job.progress["layers"])

    # A second image on the same layers plus one: only the new one is parsed.
    child = dockerlib.build(f"FROM {image['tag']}\nRUN echo more > /more\n")
    second = index_through_the_worker(builder_client, child.split(":")[1])
    statuses = [entry["status"] for entry in second.progress["layers"]]
    assert statuses.count("Already indexed") == 4 and statuses.count("Indexed 1 entry") == 1
    assert LayerIndex.objects.count() == 5


def engine_calls(call):
    """How many `call`s this process has made to the default engine (its metrics' count)."""
    name = get_engine().name
    return sum(sample.value for metric in ENGINE_CALL_SECONDS.collect() for sample in metric.samples
               if sample.name.endswith("_count") and sample.labels == {"engine": name, "call": call})


def test_an_image_on_this_hosts_engine_is_asked_of_it_once(db, image):
    """Its config, read from the engine's own store, lists its layers: the
    history (which also says the image is there) is the only engine call."""
    ImageIndex.objects.filter(image_id=image["id"]).delete()
    LayerIndex.objects.filter(diff_id__in=image["diff_ids"][-1:]).delete()  # one layer read, as bench 21 does
    before = {call: engine_calls(call) for call in ("inspect_image", "image_history")}
    image_id = indexing.index_image(get_engine().stream(), image["id"], Recorder())
    assert image_id == image["id"]
    assert ImageIndex.objects.get(image_id=image_id).diff_ids == image["diff_ids"]
    assert {call: engine_calls(call) - count for call, count in before.items()} == {
        "inspect_image": 0, "image_history": 1}


def test_the_tree_and_its_marks_after_each_layer_are_what_the_layers_say(builder_client, image):
    index_through_the_worker(builder_client, image["hex"])
    index = ImageIndex.objects.get(image_id=image["id"])
    layers = image["layers"]
    checked = 0
    for number in range(len(layers)):
        for directory in (b"", b"app", b"app/sub", b"app/sub/deep", b"app/gone", b"app/gone/inside", b"opq",
                          b"opq/inner"):
            expected = savedlayers.view(layers, number, directory)
            if not expected:
                continue
            listing = explorer.directory(index, number + 1, "/" + display(directory))
            got = {entry.name: (entry.mark, entry.size, entry.kind, int(entry.octal_mode, 8), entry.uid, entry.gid,
                                entry.link.lstrip("/") if entry.kind == "hard link" else entry.link)
                   for entry in listing.entries}
            assert got == {display(name): (mark, size, KINDS[kind], mode, uid, gid, display(link))
                           for name, (mark, size, kind, mode, uid, gid, link) in expected.items()}, (number, directory)
            checked += 1
    assert checked > 15

    # What each step did, in words.
    def marks(layer, path):
        return {entry.name: entry.mark for entry in explorer.directory(index, layer, path).entries}

    assert marks(2, "/app") == {"a.txt": "added", "big": "added", "empty1": "added", "empty2": "added",
                                "gone": "added", "hard": "added", "link": "added", "sub": "added",
                                "caf\\xe9": "added", MARKUP: "added"}
    assert marks(3, "/app") == {**{name: "unchanged" for name in marks(2, "/app")},
                                "big": "modified", "empty2": "removed", "gone": "removed"}
    assert marks(4, "/opq") == {"inner": "removed", "new": "added", "old": "modified"}
    assert marks(4, "/opq/inner") == {"x": "removed"}
    zero = {entry.name: entry.size for entry in explorer.directory(index, 2, "/app").entries}
    assert zero["empty1"] == zero["empty2"] == 0 and zero["big"] == 5000
    entries = {entry.name: entry for entry in explorer.directory(index, 4, "/app").entries}
    assert entries["link"].kind == "symlink" and entries["link"].link == "a.txt"
    assert entries["hard"].kind == "hard link" and entries["hard"].link == "/app/a.txt"
    changed = explorer.directory(index, 3, "/app", changed_only=True).entries
    assert {entry.name for entry in changed} == {"big", "empty2", "gone"}


def test_wasted_space_and_efficiency_are_dives(builder_client, image):
    index_through_the_worker(builder_client, image["hex"])
    summary = ImageIndex.objects.get(image_id=image["id"]).summary
    expected = savedlayers.dive_efficiency(image["layers"])
    assert summary["efficiency"] == pytest.approx(expected["efficiency"])
    # app/big written twice (5000 + 7000 bytes); opq/old hidden by the opaque
    # directory and written again (4 + 6); app/empty2 removed, but it weighed 0.
    # Whole directories removed (app/gone, opq/inner) weigh what they held once:
    # dive counts no waste for them.
    assert summary["wasted_bytes"] == expected["wasted_bytes"] == 12000 + 10
    assert summary["user_size"] == expected["user_size"]
    assert [(waster["path"], waster["size"], waster["layers"]) for waster in summary["wasters"]] == [
        (display(path), size, layers) for path, size, layers in expected["wasters"]] == [
        ("app/big", 12000, [1, 2]), ("opq/old", 10, [1, 3])]
    assert summary["wasted_share"] == pytest.approx(12010 / expected["user_size"])


def test_an_image_built_on_an_indexed_one_carries_its_summary_on(builder_client, image):
    index_through_the_worker(builder_client, image["hex"])
    child_tag = dockerlib.unique("files-child") + ":1"
    child = dockerlib.build(f"FROM {image['tag']}\nRUN rm /app/a.txt && head -c 9000 /dev/zero > /app/big "
                            "&& rm -rf /opq && mkdir /opq && echo newer > /opq/new\n", tags=[child_tag])
    job = index_through_the_worker(builder_client, child.split(":")[1])
    log = "\n".join(logstore.texts(job))
    assert f"Summary carried on from the index of {image['id']}, whose 4 layers this image shares." in log
    # What it carried on to is what the whole stack, and docker save read with tarfile, say.
    index = ImageIndex.objects.get(image_id=child)
    whole = indexing.summarize(ImageFiles(indexing.load_layers(index.diff_ids), weigh_waste=True), index.diff_ids)
    assert index.summary == whole
    layers = savedlayers.saved_layers(child_tag)
    expected = savedlayers.dive_efficiency(layers)
    assert index.summary["efficiency"] == pytest.approx(expected["efficiency"])
    # app/big three times; opq/old and opq/new each written twice (old hidden again, weighing 0);
    # app/a.txt removed (4 + 0).
    assert index.summary["wasted_bytes"] == expected["wasted_bytes"] == 5000 + 7000 + 9000 + 10 + 10 + 4
    assert index.summary["files"] == len(savedlayers.filesystems(layers)[-1])


def test_the_image_page_shows_the_explorer_with_names_escaped(builder_client, image):
    index_through_the_worker(builder_client, image["hex"])
    page = builder_client.get(reverse("images-detail", args=[image["hex"]])).content.decode()
    assert 'id="files-explorer"' in page and "as dive counts them" in page
    fragment = builder_client.get(reverse("files-directory", args=[image["hex"]]),
                                  {"layer": 2, "path": "/app", "fragment": "1"}).content.decode()
    assert html.escape(MARKUP, quote=False) in fragment and MARKUP not in fragment
    assert "caf\\xe9" in fragment
    nested = builder_client.get(reverse("files-directory", args=[image["hex"]]),
                                {"path": "/app/sub/deep", "layer": 2}).content.decode()
    assert "<h1>Files" in nested and "deep" in nested
    found = builder_client.get(reverse("files-search", args=[image["hex"]]), {"q": "caf\\xe9", "fragment": "1"})
    assert "/app/caf\\xe9" in found.content.decode()
    hits, _ = explorer.search(ImageIndex.objects.get(image_id=image["id"]), "opq/old")
    assert [(hit.path, hit.present, hit.changes) for hit in hits] == [("/opq/old", True, [(2, "added"), (4, "modified")])]


def test_an_image_not_indexed_offers_the_button_and_has_no_files_yet(builder_client, client, image):
    page = builder_client.get(reverse("images-detail", args=[image["hex"]])).content.decode()
    assert 'id="files-index"' in page and "not indexed yet" in page
    assert builder_client.get(reverse("files-directory", args=[image["hex"]])).status_code == 404
    assert builder_client.get(reverse("files-index", args=[image["hex"]])).status_code == 405


def test_a_viewer_may_browse_files_but_not_start_an_index(builder, builder_client, image, client):
    from images.accounts import roles

    index_through_the_worker(builder_client, image["hex"])
    roles.assign(builder, roles.VIEWER)
    assert builder_client.get(reverse("files-directory", args=[image["hex"]]), {"path": "/app"}).status_code == 200
    assert builder_client.post(reverse("files-index", args=[image["hex"]])).status_code == 403
    page = builder_client.get(reverse("images-detail", args=[image["hex"]])).content.decode()
    assert 'id="files-explorer"' in page
    client.logout()
    assert client.get(reverse("files-directory", args=[image["hex"]])).status_code == 302  # to the login


def opened(client, href):
    """The directory page a link opens: its layer, its path, and the entry it points at."""
    page = client.get(html.unescape(href))
    assert page.status_code == 200, href
    text = page.content.decode()
    layer = re.search(r"<h1>Files <span class=\"subtle\">after layer (\d+) of", text)[1]
    path = re.search(r'<ul class="tree" data-path="([^"]*)"', text)[1]
    focus = re.findall(r'<li class="[^"]*" aria-current="true"><div class="tree-row"><span class="tree-name">([^<]*)<', text)
    return int(layer), html.unescape(path), [html.unescape(name) for name in focus]


def test_a_wasters_path_and_a_search_hit_open_the_explorer_there(builder_client, image):
    index_through_the_worker(builder_client, image["hex"])
    page = builder_client.get(reverse("images-detail", args=[image["hex"]])).content.decode()
    waste = page.split('id="files-waste"', 1)[1].split("</details>", 1)[0]
    links = dict((path, href) for href, path in re.findall(r'<a href="([^"]+)"><code>([^<]+)</code></a>', waste))
    # One spelling of a path everywhere: the page's, the API's waste, search and directory.
    wasters = builder_client.get(f"/api/images/{image['hex']}/waste").json()["wasters"]
    assert [waster["path"] for waster in wasters] == list(links) == ["/app/big", "/opq/old"]
    assert opened(builder_client, links["/app/big"]) == (4, "/app", ["big"])

    def hit_link(query):
        found = builder_client.get(reverse("files-search", args=[image["hex"]]), {"q": query, "fragment": "1"})
        return re.findall(r'<a href="([^"]+)"><code>([^<]+)</code></a>', found.content.decode())

    assert [path for _, path in hit_link("opq/old")] == ["/opq/old"]
    assert opened(builder_client, hit_link("opq/old")[0][0]) == (4, "/opq", ["old"])
    # Removed by layer 3: its directory as layer 2 left it.
    (href, path), = hit_link("gone/inside/g")
    assert path == "/app/gone/inside/g" and opened(builder_client, href) == (2, "/app/gone/inside", ["g"])
    (href, path), = [link for link in hit_link("app/sub") if link[1] == "/app/sub/"]
    assert opened(builder_client, href) == (4, "/app/sub", [])
