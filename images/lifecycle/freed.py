"""The bytes removing some images frees: the layers of theirs that no image
kept holds, each once, as the engine counts `SpaceReclaimed`.

An image's layers are its config's diff ids, chained (`refs.chain_ids`): two
images hold the same layer when their chains share it. A layer's size is the
size its history entry gives (the image config tells which entries made
layers: `files.history.layer_history`). Both never change for an image id, so each is asked of the engine
once and kept in the cache.
"""

from concurrent.futures import ThreadPoolExecutor

from django.core.cache import cache

from images.engine import EngineError
from images.catalog.history import clean_created_by
from images.files.history import layer_history
from images.refs import chain_ids

_KEPT_FOR = 30 * 24 * 3600
_AT_ONCE = 8  # engine calls in flight while filling the cache


def bytes_freed(engine, going, kept):
    """The bytes removing the images `going` (ids) frees while the images `kept`
    (ids: every other image, and those containers use) stay."""
    going, kept = set(going), set(kept) - set(going)
    layers = _layers(engine, going | kept, with_sizes=going)
    kept_layers = {chain for image_id in kept for chain, _ in layers.get(image_id, [])}
    freed = {chain: size for image_id in going for chain, size in layers.get(image_id, [])
             if chain not in kept_layers}
    return sum(freed.values())


def _layers(engine, image_ids, with_sizes):
    """{image id: [(chain id, size or 0), ...]} from the cache, asking the engine
    (its inspect, and its history for `with_sizes`) only about the others.
    An image gone meanwhile is left out."""
    keys = {image_id: f"image-layers:{engine.name}:{image_id}" for image_id in image_ids}
    found = cache.get_many(list(keys.values()))
    layers = {image_id: found[key] for image_id, key in keys.items() if key in found}
    wanted = [image_id for image_id in image_ids
              if image_id not in layers or (image_id in with_sizes and layers[image_id]["sizes"] is None)]
    if wanted:
        with ThreadPoolExecutor(max_workers=min(_AT_ONCE, len(wanted))) as pool:
            asked = dict(zip(wanted, pool.map(lambda image_id: _ask(engine, image_id, image_id in with_sizes),
                                              wanted)))
        asked = {image_id: value for image_id, value in asked.items() if value is not None}
        cache.set_many({keys[image_id]: value for image_id, value in asked.items()}, _KEPT_FOR)
        layers.update(asked)
    return {image_id: list(zip(value["chain"], value["sizes"] or [0] * len(value["chain"])))
            for image_id, value in layers.items()}


def _ask(engine, image_id, with_sizes):
    try:
        diff_ids = (engine.inspect_image(image_id).get("RootFS") or {}).get("Layers") or []
        sizes = _sizes(engine, image_id, len(diff_ids)) if with_sizes else None
    except EngineError:
        return None
    return {"chain": chain_ids(diff_ids), "sizes": sizes}


def _sizes(engine, image_id, layer_count):
    return layer_sizes(engine.image_history(image_id), engine.image_config(image_id, save_stream=False),
                       layer_count)


def layer_sizes(history, config, layer_count):
    """Each layer's size, base first: the history entries (newest first) the
    image `config` says made layers. Without the config (an engine on another
    host, whose save stream is not read for a preview), the entries with bytes
    made layers, and of those without, the likeliest (a few bytes' place is all
    that is unsure)."""
    made = layer_history(history, config, layer_count)
    if made is not None:
        return [entry["size"] for entry in made]
    likely = [max(entry.get("Size") or 0, 0) for entry in history if _likely_layer(entry)][:layer_count]
    return [0] * (layer_count - len(likely)) + list(reversed(likely))


def _likely_layer(entry):
    if (entry.get("Size") or 0) > 0 or not (entry.get("CreatedBy") or "").strip():
        return True  # bytes, or `docker import`'s one entry
    return clean_created_by(entry["CreatedBy"]).keyword in {"RUN", "COPY", "ADD"}
