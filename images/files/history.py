"""Which entries of an image's history made its layers.

The image config marks the entries that made no layer (`empty_layer`); the
engine's history call drops the mark, and a step's size cannot stand in for
it: a WORKDIR that made its directory, or a BuildKit RUN that changed nothing,
is a real layer of 0 bytes, a classic-builder RUN that changed nothing is none.
"""

from images.catalog.history import layers_from_history


def layer_history(engine_history, config, layer_count):
    """The history entries (as the engine's history call gives them, newest
    first) that made each of `layer_count` layers, base first, as the image
    `config` says; None when it does not say (no config, or one that does not
    fit)."""
    made = [layer for layer in reversed(layers_from_history(engine_history, config)) if layer.empty is False]
    if len(made) != layer_count:
        return None
    return [{"created_by": layer.created_by, "comment": layer.comment,
             "created": layer.created.isoformat() if layer.created else "", "size": layer.size} for layer in made]
