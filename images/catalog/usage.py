"""What the image list's totals count as the engine does: dangling images as
`docker images -f dangling=true`, bytes on disk as `docker system df` (each
layer once, however many images share it).

The engine's `LayersSize` depends only on which images there are (an image's
layers never change, and hidden parents' layers are their children's): it is
the sum of the sizes of the listed images' layers, each once. Each image's
layers are kept in the cache (`layers`), so a view after a build asks about the
new images only; and the figure is kept under the set of image ids it counts.
`GET /system/df` says it in one call, but sizes every container and volume too
(2-4 times the image list's time on the shared test engine): it is asked only
while many images are new (a first view) or their layers cannot be placed.
"""

import hashlib
import threading

from django.core.cache import cache

from images.catalog import layers
from images.engine import EngineError

_KEPT_FOR = 7 * 24 * 3600
ASK_AT_MOST = 16  # images new since the last view whose layers one view asks about (2 calls each)
_df_lock = threading.Lock()


def images_on_disk(engine, images):
    """(images, bytes their layers take on disk or None if the engine would not
    say): summed from each image's layers, each layer once (the engine's own
    count, `GET /system/df`'s `LayersSize`), or, while more than a few images
    are new or their layers not placed for sure, from the df itself, whose
    images are then returned so that both describe one moment."""
    key = _key(engine.name, images)
    size = cache.get(key)
    if size is not None:
        return images, size
    ids, gone = [image["Id"] for image in images], set()
    known = layers.of_images(engine, ids, with_sizes=ids, ask_at_most=ASK_AT_MOST, gone=gone)
    if len(known) + len(gone) == len(ids) and all(image.exact for image in known.values()):
        # Images removed since the list was read are left out of both.
        images = [image for image in images if image["Id"] not in gone]
        size = sum(dict(pair for image in known.values() for pair in image.sized).values())
        cache.set(_key(engine.name, images), size, _KEPT_FOR)
        return images, size
    # The engine runs one df at a time and refuses the others: the viewers a
    # change sends here at once wait for the first one's answer instead.
    with _df_lock:
        size = cache.get(key)
        if size is not None:
            return images, size
        try:
            usage = engine.disk_usage()
        except EngineError:
            return images, None
        images = usage.get("Images") or []
        size = usage.get("LayersSize") or 0
        cache.set(_key(engine.name, images), size, _KEPT_FOR)
    return images, size


def _key(engine_name, images):
    ids = "\n".join(sorted(image["Id"] for image in images))
    return f"layers-size:{engine_name}:{hashlib.sha256(ids.encode()).hexdigest()}"


def tags_of(image):
    return [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]


def digests_of(image):
    return [digest for digest in image.get("RepoDigests") or [] if digest != "<none>@<none>"]


def dangling_ids(engine, images):
    """The ids of the dangling images among `images` (the image list, which hides
    untagged parents): those without tag or digest, and those known only by a
    digest that the engine calls dangling (no image is built on them; asked only
    when there are such images)."""
    untagged = {image["Id"]: image for image in images if not tags_of(image)}
    dangling = {image_id for image_id, image in untagged.items() if not digests_of(image)}
    if len(dangling) < len(untagged):
        dangling |= set(untagged) & set(engine.dangling_image_ids())
    return dangling
