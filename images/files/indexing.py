"""Indexing an image: its `docker save` stream read once as it passes, each
layer's tar headers recorded under the layer's diff id, nothing written to disk.

Engine 20.10 writes the save tar in name order: a directory per layer named by
a legacy v1 id (`<v1 id>/layer.tar`), the config (`<image id>.json`) wherever
its name sorts, and `manifest.json`, which says which directory holds which
layer, last. So each new layer's entries are kept, compressed, under its
directory's name until the manifest maps directories to positions, and the
config's `rootfs.diff_ids` positions to diff ids.

A layer already indexed is still sent (the engine has no call for one layer),
but not parsed: it is known by its tar's size and first 64 KiB, and the
manifest confirms it at the end (a wrong guess is read again in a second pass).

Where the engine is on this host and its data root readable, its own record
of each layer's tar (`images.engine.layer_records`) stands in for the save
stream: the same headers, without the files, and only the new layers'.
"""

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from images import refs
from images.engine import layer_records
from images.files import entries as kinds
from images.files import history
from images.files.entries import EntryWriter, LayerEntries, display
from images.files.filesystem import ImageFiles
from images.files.headers import ByteStream, DamagedArchive, RecordedStream, members
from images.models import ImageIndex, LayerIndex
from images.refs import hex_id

log = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024
_JSON_MAX = 16 * 1024 * 1024  # manifest and config; the engine's own are a few kB
_LAYER_TAR = b"/layer.tar"
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


class IndexingFailed(Exception):
    """The save stream could not be read as an image; the message says why."""


@dataclass
class _Layer:
    folder: bytes
    tar_size: int
    head_digest: str = ""
    blob: bytes = b""
    entry_count: int = 0
    total_size: int = 0
    notes: list = field(default_factory=list)
    known_as: str = ""  # a diff id already indexed, recognised by size and head
    read: int = 0


class _Progress:
    """Per-layer bars (bytes of its tar read) in the shape pulls use, so the job
    page shows them the same way; at most ten updates a second."""

    def __init__(self, output, rate=10):
        self.output = output
        self.layers = {}
        self.interval = 1 / rate
        self._sent_at = 0.0

    def update(self, folder, status, current, total, force=False):
        entry = self.layers.setdefault(folder, {"id": folder.decode()[:12], "status": "", "current": 0,
                                                "total": total})
        entry.update(status=status, current=current, total=total)
        now = time.monotonic()
        if force or now - self._sent_at >= self.interval:
            self._sent_at = now
            self.output.set_progress(self.snapshot())

    def place(self, folders, diff_ids):
        """Once the manifest has said which is which: the bars in layer order,
        named by position and diff id."""
        placed = {}
        for position, (folder, diff_id) in enumerate(zip(folders, diff_ids), 1):
            entry = self.layers.get(folder)
            if entry is not None and folder not in placed:
                entry["id"] = f"{position}: {diff_id.split(':')[-1][:12]}"
                placed[folder] = entry
        self.layers = placed

    def snapshot(self):
        return {"layers": [dict(entry) for entry in self.layers.values()], "digest": None}


def index_image(stream, reference, output, job=None):
    """Index `reference` through an `EngineStream`; return the image's id. Layers
    already indexed are not parsed again. Raises IndexingFailed."""
    engine = stream.engine
    image_id, diff_ids, engine_history, config = _image_layers(engine, reference)
    known = {layer.diff_id: layer for layer in
             LayerIndex.objects.filter(diff_id__in=diff_ids).defer("entries")}
    missing = [diff_id for diff_id in dict.fromkeys(diff_ids) if diff_id not in known]
    output.write(f"Indexing the files of {image_id}: {len(diff_ids)} layer{'s' if len(diff_ids) != 1 else ''}, "
                 f"{len(diff_ids) - len(missing)} already indexed.")
    if not missing:
        layers = history.layer_history(engine_history(), config or engine.image_config(image_id), len(diff_ids))
        if layers is not None:
            # Nothing to read: which step made each layer is all the save stream would add.
            index = save_image_index(image_id, diff_ids, layers, job, output)
            _write_summary(output, index.summary)
            return image_id
    progress = _Progress(output)
    records = engine.layer_tar_records(diff_ids) if settings.DOCKYARD_INDEX_LAYER_RECORDS else None
    if records is not None:
        layers = history.layer_history(engine_history(), config or engine.image_config(image_id), len(diff_ids))
        if layers is not None:
            _read_layer_records(dict(zip(diff_ids, records)), missing, known, progress, output)
            progress.place([diff_id.encode() for diff_id in diff_ids], diff_ids)
            output.set_progress(progress.snapshot())
            index = save_image_index(image_id, diff_ids, layers, job, output)
            _write_summary(output, index.summary)
            return image_id
    config, placed = _read_save_stream(stream, image_id, known, progress, output)
    if config is None:
        raise IndexingFailed("The save stream held no configuration for the image.")
    config_diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    if config_diff_ids != diff_ids:
        raise IndexingFailed("The image's configuration in the save stream lists other layers than the engine's "
                             "inspect does.")
    wrong = [position for position, layer in enumerate(placed)
             if layer.known_as and layer.known_as != diff_ids[position]]
    if wrong:
        # Two layers alike in size and first 64 KiB: read the ones guessed wrong again.
        output.write(f"{len(wrong)} layer{'s' if len(wrong) != 1 else ''} recognised wrongly; reading "
                     f"{'them' if len(wrong) != 1 else 'it'} again.")
        again = {placed[position].folder for position in wrong}
        _, placed_again = _read_save_stream(stream, image_id, {}, progress, output, only=again)
        for position in wrong:
            placed[position] = placed_again[position]
    _store_layers(placed, diff_ids, output)
    progress.place([layer.folder for layer in placed], diff_ids)
    output.set_progress(progress.snapshot())
    index = save_image_index(image_id, diff_ids, _config_layers(config, diff_ids), job, output)
    _write_summary(output, index.summary)
    return image_id


def _image_layers(engine, reference):
    """(image id, diff ids, a function giving the engine's history of the
    image, its config or None). For an id whose config is at hand without a
    save stream (the engine's store on this host, or read before: its bytes
    hash to the id), one engine call, the history's, which also says the image
    is on the engine; the config lists the layers as inspect would. Else
    inspect, and the history when asked for."""
    config = engine.image_config(reference, save_stream=False) if _IMAGE_ID.fullmatch(reference) else None
    if config is not None:
        engine_history = engine.image_history(reference)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        return reference, diff_ids, lambda: engine_history, config
    inspect = engine.inspect_image(reference)
    image_id = inspect["Id"]
    return (image_id, list((inspect.get("RootFS") or {}).get("Layers") or []),
            lambda: engine.image_history(image_id), None)


def _write_summary(output, summary):
    output.write(f"Indexed: {summary['files']:,} paths, {summary['size']:,} bytes of files; efficiency "
                 f"{summary['efficiency'] * 100:.1f} %, {summary['wasted_bytes']:,} bytes wasted "
                 "(as dive counts them).")


def _read_save_stream(stream, image_id, known, progress, output, only=None):
    """Read the save tar; return (config, the layer of each manifest position).
    With `only`, parse just those layer directories (a second pass)."""
    reader = ByteStream(stream.save(image_id))
    by_head = {(layer.tar_size, layer.head_digest): diff_id for diff_id, layer in known.items()}
    ambiguous = _ambiguous_heads(known)
    layers, links = {}, {}
    manifest = config = None
    config_name = f"{hex_id(image_id)}.json".encode()
    try:
        for member in members(reader):
            name = member.name
            if name.endswith(_LAYER_TAR) and name.count(b"/") == 1:
                folder = name[:-len(_LAYER_TAR)]
                if member.type == b"2":  # the same layer again: the engine links to its first copy
                    links[folder] = kinds.normalise(folder + b"/" + member.linkname).rpartition(b"/")[0]
                elif only is None or folder in only:
                    layers[folder] = _read_layer(reader, member, folder, by_head, ambiguous, progress, output)
            elif name == b"manifest.json":
                manifest = _read_json(reader, member, "manifest.json")
            elif name == config_name:
                config = _read_json(reader, member, "the image configuration")
    except DamagedArchive as exc:
        raise IndexingFailed(f"The engine's save stream could not be read: {exc}") from exc
    folders = _manifest_folders(manifest)
    placed = []
    for folder in folders:
        folder = links.get(folder, folder)
        if folder not in layers and only is None:
            raise IndexingFailed(f"The save stream's manifest names a layer it does not hold ({display(folder)}).")
        placed.append(layers.get(folder))
    return config, placed


def _ambiguous_heads(known):
    seen, ambiguous = set(), set()
    for layer in known.values():
        key = (layer.tar_size, layer.head_digest)
        (ambiguous if key in seen else seen).add(key)
    return ambiguous


def _read_layer(reader, member, folder, by_head, ambiguous, progress, output):
    layer = _Layer(folder, member.size)
    head = reader.read(min(member.size, HEAD_BYTES))
    layer.head_digest = hashlib.sha256(head).hexdigest()
    key = (layer.tar_size, layer.head_digest)
    if key in by_head and key not in ambiguous:
        layer.known_as = by_head[key]
        progress.update(folder, "Already indexed", member.size, member.size, force=True)
        return layer  # the rest of its tar is skipped by members()
    reader.unread(head)
    writer = EntryWriter(settings.DOCKYARD_INDEX_MAX_FILES, settings.DOCKYARD_INDEX_MAX_PATH)
    end = member.start + member.size
    progress.update(folder, "Reading", 0, member.size, force=True)
    for count, entry in enumerate(members(reader, end=end), 1):
        if not writer.add(entry):
            break  # over the cap: the rest of the layer's tar is skipped unread
        if count % 2048 == 0:
            progress.update(folder, f"Reading: {count:,} entries", reader.position - member.start, member.size)
    entries = writer.entries()
    layer.blob = entries.encode()
    layer.entry_count, layer.total_size, layer.notes = len(entries), writer.total_size, writer.notes()
    progress.update(folder, f"Indexed {_entries(layer.entry_count)}", member.size, member.size, force=True)
    _write_layer(output, display(folder), layer)
    return layer


def _read_layer_records(records, missing, known, progress, output):
    """Index the missing layers from the engine's records of their tars."""
    output.write("Reading the new layers' headers from the engine's own records of them, not the save stream.")
    for diff_id, layer in known.items():
        progress.update(diff_id.encode(), "Already indexed", layer.tar_size, layer.tar_size)
    for diff_id in missing:
        folder = diff_id.encode()
        stream = RecordedStream(layer_records.tar_pieces(records[diff_id]))
        writer = EntryWriter(settings.DOCKYARD_INDEX_MAX_FILES, settings.DOCKYARD_INDEX_MAX_PATH)
        progress.update(folder, "Reading", 0, 0, force=True)
        try:
            for count, entry in enumerate(members(stream), 1):
                if not writer.add(entry):
                    break
                if count % 2048 == 0:
                    progress.update(folder, f"Reading: {count:,} entries", 0, 0)
            tar_size = stream.position + stream.rest()
        except (DamagedArchive, OSError, ValueError) as exc:
            raise IndexingFailed(f"The engine's record of layer {diff_id} could not be read: {exc}") from exc
        layer = _Layer(folder, tar_size)
        entries = writer.entries()
        layer.blob = entries.encode()
        layer.entry_count, layer.total_size, layer.notes = len(entries), writer.total_size, writer.notes()
        progress.update(folder, f"Indexed {_entries(layer.entry_count)}", tar_size, tar_size, force=True)
        _write_layer(output, diff_id.split(":")[-1], layer)
        _store_layers([layer], [diff_id], output)


def _write_layer(output, name, layer):
    output.write(f"Layer {name[:12]}: {_entries(layer.entry_count)}, {layer.total_size:,} bytes of files, "
                 f"{layer.tar_size:,} bytes of tar.")
    for note in layer.notes:
        output.write(f"  {note}")


def _entries(count):
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def _read_json(reader, member, what):
    if member.size > _JSON_MAX:
        raise IndexingFailed(f"The save stream's {what} is {member.size:,} bytes, more than Dockyard reads "
                             f"({_JSON_MAX:,}).")
    try:
        return json.loads(reader.read(member.size))
    except ValueError as exc:
        raise IndexingFailed(f"The save stream's {what} is not valid JSON.") from exc


def _manifest_folders(manifest):
    try:
        (entry,) = manifest
        return [path.encode().removesuffix(_LAYER_TAR) for path in entry["Layers"]]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise IndexingFailed("The save stream's manifest.json is missing or is not one image's manifest.") from exc


def _store_layers(placed, diff_ids, output):
    stored = set()
    for position, layer in enumerate(placed):
        diff_id = diff_ids[position]
        if layer.known_as or diff_id in stored:
            continue
        stored.add(diff_id)
        try:
            with transaction.atomic():
                LayerIndex.objects.create(diff_id=diff_id, entry_count=layer.entry_count,
                                          total_size=layer.total_size, tar_size=layer.tar_size,
                                          head_digest=layer.head_digest, notes=layer.notes, entries=layer.blob)
        except IntegrityError:
            pass  # another job indexed the same layer meanwhile: its index is as good


def _config_layers(config, diff_ids):
    """The config's history entries that made each layer (those not marked
    empty_layer), in the shape `history.layer_history` gives."""
    made = [entry for entry in (config.get("history") or []) if not entry.get("empty_layer")]
    if len(made) != len(diff_ids):
        made = [{} for _ in diff_ids]  # a history that does not match the layers says nothing of them
    return [{"created_by": entry.get("created_by") or "", "created": entry.get("created") or "",
             "comment": entry.get("comment") or ""} for entry in made]


def save_image_index(image_id, diff_ids, layers, job=None, output=None):
    """Record the image's layers and compute its summary (files, wasted space),
    carried on from the index of an image it is built on where there is one."""
    chains = refs.chain_ids(diff_ids)
    entries = load_layers(diff_ids)
    below = _checkpoint_below(chains)
    files = None
    if below is not None:
        try:
            files = ImageFiles(entries, weigh_waste=True, checkpoint=below.checkpoint)
        except ValueError:
            log.warning("The checkpoint of image index %s does not fit its layers; stacking them all.", below.pk)
        else:
            if output is not None:
                shared = len(below.diff_ids)
                output.write(f"Summary carried on from the index of {below.image_id}, whose {shared} "
                             f"layer{'s' if shared != 1 else ''} this image shares.")
    if files is None:
        files = ImageFiles(entries, weigh_waste=True)
    summary = summarize(files, diff_ids)
    index, _ = ImageIndex.objects.update_or_create(
        image_id=image_id,
        defaults={"diff_ids": diff_ids, "chain_id": chains[-1] if chains else "", "layers": layers,
                  "summary": summary, "indexed_at": timezone.now(), "job": job, "checkpoint": files.checkpoint()})
    return index


def _checkpoint_below(chains):
    """The index of an image whose layers are the first of these (the most of
    them, fewer than all), with a checkpoint; or None. The checkpoint (a few
    MB for a large image) is read for that one only."""
    position = {chain: at for at, chain in enumerate(chains[:-1])}
    candidates = (ImageIndex.objects.filter(chain_id__in=position).exclude(checkpoint=b"")
                  .values_list("pk", "chain_id"))
    best = max(candidates, key=lambda candidate: position[candidate[1]], default=None)
    if best is None:
        return None
    return ImageIndex.objects.only("image_id", "diff_ids", "checkpoint").filter(pk=best[0]).first()


def load_layers(diff_ids):
    """The stored entries of each layer, in order."""
    stored = {layer.diff_id: layer.entries for layer in LayerIndex.objects.filter(diff_id__in=diff_ids)}
    missing = [diff_id for diff_id in diff_ids if diff_id not in stored]
    if missing:
        raise IndexingFailed(f"Layer {missing[0]} is not indexed.")
    decoded = {diff_id: LayerEntries.decode(blob) for diff_id, blob in stored.items()}
    return [decoded[diff_id] for diff_id in diff_ids]


def summarize(files, diff_ids):
    last = len(files.layers) - 1
    report = files.efficiency.report(files.layer_sizes, files.paths)
    return {
        "files": files.file_count(last),
        "size": files.total_size(last),
        "efficiency": report["efficiency"],
        "wasted_bytes": report["wasted_bytes"],
        "wasted_share": report["wasted_share"],
        "user_size": report["user_size"],
        "inefficient_paths": report["inefficient_paths"],
        "wasters": [{"path": display(path), "size": size, "layers": layers}
                    for path, size, layers in report["wasters"]],
    }
