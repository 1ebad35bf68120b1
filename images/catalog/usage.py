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
import time
from dataclasses import dataclass

from django.core.cache import cache

from images.catalog import layers
from images.engine import EngineError

_KEPT_FOR = 7 * 24 * 3600
ASK_AT_MOST = 16  # images new since the last view whose layers one view asks about (2 calls each)
_COUNTING_FOR_AT_MOST = 300  # seconds a count may hold its engine's claim (a process that died frees it then)
_df_lock = threading.Lock()


@dataclass(frozen=True)
class OnDisk:
    """The bytes the images' layers take on disk, each layer once: `size` for
    the images listed when `fresh`, else the last count made (None if none was
    made yet, or the engine would not say), `counted_at` (epoch seconds) when
    it was made; a new count is then under way off the request."""
    size: int | None
    fresh: bool
    counted_at: float | None = None

    @property
    def age(self):
        return None if self.counted_at is None else max(0.0, time.time() - self.counted_at)


def images_on_disk(engine, images):
    """(images, OnDisk) without waiting for the engine: the figure kept for
    exactly these images, or else the last one counted on this engine, marked
    stale, while a count runs beside the request (one per engine at a time).
    A list view after a build used to wait for that count (inspecting the new
    images, or `GET /system/df`): a second of a five-second view on an engine
    where others keep building."""
    found = cache.get(_key(engine.name, images))
    if found is not None:
        return images, OnDisk(found[0], True, found[1])
    count_in_background(engine)
    last = cache.get(_last_key(engine.name))
    return images, OnDisk(last[0], False, last[1]) if last else OnDisk(None, False)


def count_in_background(engine):
    """Start `count_on_disk` in a thread unless a count of this engine is under
    way in any process. A thread and not a Celery task: the workers may all be
    busy with builds for minutes, and the figure is wanted in seconds."""
    claim = f"layers-size-counting:{engine.name}"
    if not cache.add(claim, 1, _COUNTING_FOR_AT_MOST):
        return

    def count():
        try:
            counted = count_on_disk(engine)
        except Exception:  # noqa: BLE001 - the next view asks again; the list must not care
            counted = False
        finally:
            cache.delete(claim)
        if counted:
            _tell_open_lists(engine.name)

    threading.Thread(target=count, name=f"on-disk-{engine.name}", daemon=True).start()


def count_on_disk(engine):
    """Count the bytes the engine's images take on disk now and keep the figure
    under the set of image ids it counts (and as this engine's last count):
    summed from each image's layers, each layer once (the engine's own count,
    `GET /system/df`'s `LayersSize`), or, while more than a few images are new
    or their layers not placed for sure, from the df itself. False if the
    engine would not say."""
    images = engine.list_images()
    ids, gone = [image["Id"] for image in images], set()
    known = layers.of_images(engine, ids, with_sizes=ids, ask_at_most=ASK_AT_MOST, gone=gone)
    if len(known) + len(gone) == len(ids) and all(image.exact for image in known.values()):
        # Images removed since the list was read are left out of both.
        images = [image for image in images if image["Id"] not in gone]
        size = sum(dict(pair for image in known.values() for pair in image.sized).values())
    else:
        # The engine runs one df at a time and refuses the others.
        with _df_lock:
            try:
                usage = engine.disk_usage()
            except EngineError:
                return False
        images = usage.get("Images") or []
        size = usage.get("LayersSize") or 0
    counted = (size, time.time())
    cache.set_many({_key(engine.name, images): counted, _last_key(engine.name): counted}, _KEPT_FOR)
    return True


def _tell_open_lists(engine_name):
    # The open lists showing the stale figure fetch their totals again.
    from images.jobs.publish import publish_images_event

    try:
        publish_images_event(engine_name, {"type": "on-disk-counted"})
    except Exception:  # noqa: BLE001 - a list not told still says its figure is stale
        pass


def _last_key(engine_name):
    return f"layers-size-last:{engine_name}"


def _key(engine_name, images):
    ids = "\n".join(sorted(image["Id"] for image in images))
    return f"layers-size:2:{engine_name}:{hashlib.sha256(ids.encode()).hexdigest()}"


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
