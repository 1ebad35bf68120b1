"""Images made to hurt an indexer: a layer of very many members, paths of 4,000
characters, names with markup. The index stays within its caps and says what
they left out.

The suite's many-members layer holds 30,000 files against a cap of 20,000: the
cap logic is the same at any size, and `make bench` (scenario 14) indexes a
layer of 1,000,000 members against the default cap and times it."""

import html

import pytest
from django.urls import reverse

from images.engine import get_engine
from images.files import explorer, indexing
from images.models import ImageIndex, LayerIndex
from tests import dockerlib, savedlayers

LONG_PART = "d" + "123456789" * 5  # 46 characters
MANY = 30_000


class Recorder:
    """Stands in for a job's log: keeps what the indexer writes."""

    def __init__(self):
        self.lines, self.progress = [], None

    def write(self, text):
        self.lines.append(text)

    def write_lines(self, texts):
        self.lines.extend(texts)

    def set_progress(self, progress):
        self.progress = progress


def index_here(reference):
    output = Recorder()
    image_id = indexing.index_image(get_engine().stream(), reference, output)
    return ImageIndex.objects.get(image_id=image_id), output


@pytest.fixture(params=[True, False], ids=["layer records", "save stream"])
def read_from(request, settings):
    """Both ways an index reads a layer: the engine's records of it, and the save stream."""
    settings.DOCKYARD_INDEX_LAYER_RECORDS = request.param


@pytest.fixture(scope="module")
def many(base_image):
    return dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN mkdir /many && cd /many && seq {MANY} | xargs touch\n")


@pytest.fixture(scope="module")
def deep(base_image):
    # 85 parts of 47 bytes: a directory 4,000 bytes deep (/deep/d123…), a file below it.
    return dockerlib.build(
        f"FROM {dockerlib.BASE_IMAGE}\n"
        f"RUN mkdir /deep && cd /deep && for i in $(seq 85); do mkdir {LONG_PART} && cd {LONG_PART}; done "
        "&& touch bottom && echo ok > /deep/short\n")


def test_a_layer_over_the_file_cap_is_indexed_up_to_it_and_says_so(db, settings, many, read_from):
    settings.DOCKYARD_INDEX_MAX_FILES = 20_000
    index, output = index_here(many)
    top = LayerIndex.objects.get(diff_id=index.diff_ids[-1])
    assert top.entry_count == 20_000
    assert top.notes == ["The layer holds more than 20,000 entries: only the first 20,000 are indexed "
                         "(DOCKYARD_INDEX_MAX_FILES)."]
    assert f"  {top.notes[0]}" in output.lines
    assert explorer.layers(index)[-1].notes == top.notes
    listing = explorer.directory(index, 2, "/many")
    assert listing.total == 20_000 - 1 and len(listing.entries) == explorer.PAGE  # "many" itself is one entry
    assert listing.more == listing.total - explorer.PAGE


def test_the_page_says_what_the_cap_left_out(db, settings, many, builder_client):
    settings.DOCKYARD_INDEX_MAX_FILES = 20_000
    index_here(many)
    page = builder_client.get(reverse("images-detail", args=[many.split(":")[1]])).content.decode()
    assert 'class="files-note">The layer holds more than 20,000 entries' in page
    rows = builder_client.get(reverse("files-directory", args=[many.split(":")[1]]),
                              {"path": "/many", "fragment": "1"}).content.decode()
    assert rows.count('class="tree-node') == explorer.PAGE and "19,499 more entries" not in rows
    assert f"{20_000 - 1 - explorer.PAGE} more entries" in rows


def test_paths_past_the_length_cap_are_left_out_and_counted(db, deep, read_from):
    index, output = index_here(deep)
    top = LayerIndex.objects.get(diff_id=index.diff_ids[-1])
    saved = savedlayers.saved_layers(deep)[-1]
    too_long = [path for path, *_ in saved if len(path) > 1024]
    assert max(len(path) for path in too_long) > 3900 and len(too_long) > 60
    assert top.notes == [f"{len(too_long)} entries with a path or link target over 1,024 bytes are not indexed "
                         "(DOCKYARD_INDEX_MAX_PATH)."]
    assert top.entry_count == len(saved) - len(too_long)
    assert {entry.name for entry in explorer.directory(index, 2, "/deep").entries} == {LONG_PART, "short"}
    assert any("DOCKYARD_INDEX_MAX_PATH" in line for line in output.lines)


def test_names_with_markup_stay_text_in_the_diff_and_search(db, base_image, builder_client):
    markup = "<script>alert(1)</script>"
    name = "<b onmouseover=alert(1)>x"
    image = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nLABEL note=\"{markup}\"\nRUN touch '/{name}'\n")
    index_here(image)
    index_here(dockerlib.BASE_IMAGE)
    page = builder_client.get(reverse("images-diff"), {"a": dockerlib.BASE_IMAGE, "b": image}).content.decode()
    assert html.escape(markup) in page and markup not in page
    assert html.escape(name, quote=False) in page and name not in page
    found = builder_client.get(reverse("files-search", args=[image.split(":")[1]]), {"q": "onmouseover"}).content.decode()
    assert html.escape(name, quote=False) in found and name not in found
