"""Indexing from the engine's own records of its layers' tars (their tar-split)
instead of the save stream: the same entries as the save stream gives, read
from the real engine's data root; only the new layers of an image are read;
and a record that is not the layer's is never used."""

import gzip
import hashlib

import pytest

from images.jobs import logstore
from images import refs
from images.engine import Engine, get_engine, layer_records
from images.models import ImageIndex, LayerIndex
from tests import dockerlib, savedlayers
from tests.test_file_hostile import index_here
from tests.test_file_index import DOCKERFILE, index_through_the_worker


@pytest.fixture(scope="module")
def image(base_image):
    return dockerlib.build(DOCKERFILE.format(base=dockerlib.BASE_IMAGE))


def _stored(diff_ids):
    stored = {layer.diff_id: bytes(layer.entries) for layer in LayerIndex.objects.filter(diff_id__in=diff_ids)}
    return [stored[diff_id] for diff_id in diff_ids]


def _forget(image_id):
    index = ImageIndex.objects.get(image_id=image_id)
    LayerIndex.objects.filter(diff_id__in=index.diff_ids).delete()
    index.delete()


def test_the_records_give_every_layer_the_entries_the_save_stream_gives(db, settings, image):
    # The base layer came from `docker import`, whose tar is not in the order a
    # walk of the directory would give; the others from the builder's commits.
    settings.DOCKYARD_INDEX_LAYER_RECORDS = False
    index, output = index_here(image)
    from_save = _stored(index.diff_ids)
    assert not any("own records" in line for line in output.lines)
    _forget(index.image_id)
    settings.DOCKYARD_INDEX_LAYER_RECORDS = True
    index, output = index_here(image)
    assert "Reading the new layers' headers from the engine's own records of them, not the save stream." in output.lines
    assert _stored(index.diff_ids) == from_save
    saved = savedlayers.saved_layers(image)
    for diff_id, layer in zip(index.diff_ids, saved):
        assert LayerIndex.objects.get(diff_id=diff_id).entry_count == len(
            [entry for entry in layer if not entry[0].endswith(b".wh..wh.plnk")])


def test_a_second_image_reads_only_its_new_layer(worker, builder_client, image):
    first = index_through_the_worker(builder_client, image.split(":")[1])
    child = dockerlib.build(f"FROM {image}\nRUN echo small > /small\n")
    job = index_through_the_worker(builder_client, child.split(":")[1])
    log = list(logstore.texts(job))
    assert f"Indexing the files of {child}: 5 layers, 4 already indexed." in log
    assert "Reading the new layers' headers from the engine's own records of them, not the save stream." in log
    read = [line for line in log if line.startswith("Layer ")]
    new_layer = get_engine().inspect_image(child)["RootFS"]["Layers"][-1]
    assert len(read) == 1 and read[0].startswith(f"Layer {new_layer.split(':')[1][:12]}: 1 entry,"), read
    assert ImageIndex.objects.get(image_id=child).summary["files"] == \
        ImageIndex.objects.get(image_id=first.params["image_id"]).summary["files"] + 1


def _layerdb(tmp_path, diff_ids, recorded=None, tar_split=True):
    """A data root whose layer database holds a record per layer."""
    folder = tmp_path / "image" / "overlay2" / "layerdb" / "sha256"
    for diff_id, chain_id, written in zip(diff_ids, refs.chain_ids(diff_ids), recorded or diff_ids):
        record = folder / chain_id.split(":")[1]
        record.mkdir(parents=True)
        (record / "diff").write_text(written)
        if tar_split:
            with gzip.open(record / "tar-split.json.gz", "wt") as out:
                out.write('{"type":2,"payload":""}\n')
    return tmp_path


DIFF_IDS = ["sha256:" + hashlib.sha256(text).hexdigest() for text in (b"one", b"two")]


def test_the_chain_ids_are_the_engines(base_image):
    # The engine's own layer database is named by chain id: each record found is the oracle.
    child = dockerlib.build(f"FROM {dockerlib.BASE_IMAGE}\nRUN touch /a\nRUN touch /b\n")
    diff_ids = get_engine().inspect_image(child)["RootFS"]["Layers"]
    assert len(diff_ids) == 3
    assert get_engine().layer_tar_records(diff_ids) is not None


def test_a_record_that_names_another_layer_is_not_used(tmp_path):
    root = _layerdb(tmp_path, DIFF_IDS, recorded=[DIFF_IDS[0], DIFF_IDS[0]])
    assert layer_records.tar_split_files(root, "overlay2", DIFF_IDS) is None


def test_a_missing_record_or_an_odd_driver_name_means_the_save_stream(tmp_path):
    root = _layerdb(tmp_path, DIFF_IDS, tar_split=False)
    assert layer_records.tar_split_files(root, "overlay2", DIFF_IDS) is None
    assert layer_records.tar_split_files(_layerdb(tmp_path / "2", DIFF_IDS), "../overlay2", DIFF_IDS) is None
    assert len(layer_records.tar_split_files(tmp_path / "2", "overlay2", DIFF_IDS)) == 2


def test_an_engine_on_another_host_is_never_asked(db):
    # Its data root names that host's files, not this one's: no call is made at all.
    engine = Engine("remote", "tcp://127.0.0.1:1", timeout=1)
    assert engine.layer_tar_records(DIFF_IDS) is None
