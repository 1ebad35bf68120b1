"""The parent of an image Dockyard did not build, inferred from the layer chain:
the local image whose layers are the longest prefix of this image's.

The engine's image list does not carry layers, so each candidate's layers come
from, in turn: the file index (ImageIndex keeps them for indexed images), a
cache kept by image id (an id is the hash of its config, which holds its layers,
so what was read once holds for ever), and last an inspect of the candidate.
A page view costs one list call and, for images never seen before, one inspect
each, at most INSPECT_LIMIT of them: later views go on where it stopped.
Candidates bigger than the image cannot be below it (a prefix of its layers
weighs no more than all of them), so they are never inspected.
"""

from dataclasses import dataclass

from django.core.cache import cache

from images.catalog.inspect import parse_engine_time
from images.engine import ImageNotFound
from images.models import ImageIndex

INSPECT_LIMIT = 100
CACHE_SECONDS = 30 * 24 * 3600


@dataclass
class InferredParent:
    image_id: str
    tags: list
    shared_layers: int  # its layers, all of them the first of this image's
    layers: int  # this image's


@dataclass
class Lineage:
    parent: InferredParent | None
    candidates: int
    unchecked: int  # candidates whose layers are not known yet: a longer prefix may be among them


def infer_parent(engine, image):
    """The Lineage of `image` (an engine inspect): its inferred parent, if any
    local image's layers are a prefix of its own."""
    layers = _layers(image)
    size = image.get("Size") or 0
    rows = [row for row in engine.list_images() if row["Id"] != image["Id"] and (row.get("Size") or 0) <= size]
    known = known_layers([row["Id"] for row in rows])
    unknown = sorted((row for row in rows if row["Id"] not in known), key=lambda row: -(row.get("Size") or 0))
    read = {}
    for row in unknown[:INSPECT_LIMIT]:
        try:
            found = engine.inspect_image(row["Id"])
        except ImageNotFound:
            continue  # removed since the list
        read[row["Id"]] = {"layers": _layers(found), "created": _created(found)}
    if read:
        cache.set_many({_key(image_id): found for image_id, found in read.items()}, timeout=CACHE_SECONDS)
    known.update(read)
    unchecked = max(len(unknown) - INSPECT_LIMIT, 0)
    created = _created(image)
    best = None
    for row in rows:
        theirs = known.get(row["Id"])
        if not theirs or not theirs["layers"] or layers[:len(theirs["layers"])] != theirs["layers"]:
            continue
        their_created = theirs["created"] if theirs["created"] is not None else row.get("Created") or 0
        # The same layers may be a child that changed only its config: a parent came before.
        if len(theirs["layers"]) == len(layers) and their_created >= created:
            continue
        # Longest prefix first; then one made before this image (a later one with those
        # layers, built on the same parent, is a sibling); then the newer, built on the other.
        rank = (len(theirs["layers"]), their_created < created, their_created)
        if best is None or rank > best[1]:
            best = (row, rank)
    parent = None
    if best is not None:
        row, (shared, _, _) = best
        parent = InferredParent(image_id=row["Id"], tags=row.get("RepoTags") or [], shared_layers=shared,
                                layers=len(layers))
    return Lineage(parent=parent, candidates=len(rows), unchecked=unchecked)


def known_layers(image_ids):
    """{image id: {layers, created}} for those the file index or the cache
    knows; the index keeps no creation time (None)."""
    known = {image_id: {"layers": diff_ids, "created": None} for image_id, diff_ids in
             ImageIndex.objects.filter(image_id__in=image_ids).values_list("image_id", "diff_ids")}
    rest = [image_id for image_id in image_ids if image_id not in known]
    cached = cache.get_many([_key(image_id) for image_id in rest])
    known.update((image_id, cached[_key(image_id)]) for image_id in rest if _key(image_id) in cached)
    return known


def _layers(image):
    return (image.get("RootFS") or {}).get("Layers") or []


def _created(image):
    created = parse_engine_time(image.get("Created"))
    return created.timestamp() if created else 0


def _key(image_id):
    return f"dockyard:image-layers:{image_id}"
