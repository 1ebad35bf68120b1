"""The bytes removing some images frees: the layers of theirs that no image
kept holds, each once, as the engine counts `SpaceReclaimed`."""

from images.catalog import layers


def bytes_freed(engine, going, kept):
    """The bytes removing the images `going` (ids) frees while the images `kept`
    (ids: every other image, and those containers use) stay."""
    going, kept = set(going), set(kept) - set(going)
    return bytes_freed_of(layers.of_images(engine, going | kept, with_sizes=going), going, kept)


def bytes_freed_of(known, going, kept):
    """The same, from layers already read ({image id: ImageLayers}, sized for `going`)."""
    going, kept = set(going), set(kept) - set(going)
    kept_layers = {chain for image_id in kept if image_id in known for chain in known[image_id].chain}
    freed = {chain: size for image_id in going if image_id in known for chain, size in known[image_id].sized
             if chain not in kept_layers}
    return sum(freed.values())
