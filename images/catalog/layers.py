"""Each image's layers: their chain ids and sizes, asked of the engine once
per image id and kept in the cache (neither ever changes for an id).

An image's layers are its diff ids, chained (`refs.chain_ids`): two images
hold the same layer when their chains share it. A layer's size is the size of
the history entry that made it, which the image config tells
(`files.history.layer_history`); without the config, the likeliest entries,
and the sizes are marked as not exact.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.core.cache import cache

from images.catalog.history import clean_created_by
from images.engine import EngineError, ImageNotFound
from images.files.history import layer_history
from images.refs import chain_ids

_KEPT_FOR = 30 * 24 * 3600
_AT_ONCE = 8  # engine calls in flight while filling the cache
_GONE = object()
_VERSION = 2  # of what is kept: a new shape is never read as the old one


@dataclass(frozen=True)
class ImageLayers:
    chain: list  # chain ids, base first
    sizes: list | None  # bytes of each, when asked for
    exact: bool  # the sizes placed by the image config

    @property
    def sized(self):
        return list(zip(self.chain, self.sizes or [0] * len(self.chain)))


def of_images(engine, image_ids, with_sizes=(), ask_at_most=None, gone=None):
    """{image id: ImageLayers} from the cache, asking the engine (inspect, and
    history for those in `with_sizes`) about the others, `ask_at_most` of them
    if given. An image gone meanwhile is left out (and added to the set `gone`
    if given), as is one the engine would not describe."""
    with_sizes = set(with_sizes)
    keys = {image_id: f"image-layers:{_VERSION}:{engine.name}:{image_id}" for image_id in image_ids}
    found = cache.get_many(list(keys.values()))
    known = {image_id: ImageLayers(**found[key]) for image_id, key in keys.items() if key in found}
    wanted = [image_id for image_id in keys
              if image_id not in known or (image_id in with_sizes and known[image_id].sizes is None)]
    wanted = wanted[:ask_at_most] if ask_at_most is not None else wanted
    if wanted:
        with ThreadPoolExecutor(max_workers=min(_AT_ONCE, len(wanted))) as pool:
            asked = dict(zip(wanted, pool.map(lambda image_id: _ask(engine, image_id, image_id in with_sizes),
                                              wanted)))
        if gone is not None:
            gone.update(image_id for image_id, layers in asked.items() if layers is _GONE)
        asked = {image_id: layers for image_id, layers in asked.items() if isinstance(layers, ImageLayers)}
        cache.set_many({keys[image_id]: layers.__dict__ for image_id, layers in asked.items()}, _KEPT_FOR)
        known.update(asked)
    return known


def _ask(engine, image_id, with_sizes):
    try:
        diff_ids = (engine.inspect_image(image_id).get("RootFS") or {}).get("Layers") or []
        if not with_sizes:
            return ImageLayers(chain_ids(diff_ids), None, False)
        history = engine.image_history(image_id)
        config = engine.image_config(image_id, save_stream=False)
    except ImageNotFound:
        return _GONE
    except EngineError:
        return None
    sizes, exact = layer_sizes(history, config, len(diff_ids))
    return ImageLayers(chain_ids(diff_ids), sizes, exact)


def layer_sizes(history, config, layer_count):
    """(each layer's size, base first; whether the config placed them): the
    history entries (newest first) the image `config` says made layers. Without
    the config (an engine on another host, whose save stream is not read for
    this), the entries with bytes made layers, and of those without, the
    likeliest (a few bytes' place is all that is unsure)."""
    made = layer_history(history, config, layer_count)
    if made is not None:
        return [entry["size"] for entry in made], True
    likely = [max(entry.get("Size") or 0, 0) for entry in history if _likely_layer(entry)][:layer_count]
    return [0] * (layer_count - len(likely)) + list(reversed(likely)), False


def _likely_layer(entry):
    if (entry.get("Size") or 0) > 0 or not (entry.get("CreatedBy") or "").strip():
        return True  # bytes, or `docker import`'s one entry
    return clean_created_by(entry["CreatedBy"]).keyword in {"RUN", "COPY", "ADD"}
