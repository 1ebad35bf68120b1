"""Which entries of an image's history made its layers.

The image config marks the entries that made no layer (`empty_layer`), but the
engine's history call drops the mark. Without a save stream's config, the
instructions say it: the classic builder records metadata steps as `#(nop)`
(COPY and ADD too, which do make layers), BuildKit its metadata steps as plain
instructions; a RUN, and an imported image's one entry, always make one. When
the count does not come out right, the save stream's config decides.
"""

from datetime import datetime, timezone

from images.catalog.history import clean_created_by

_LAYER_MAKERS = {"RUN", "COPY", "ADD"}


def makes_layer(entry):
    created_by = entry.get("CreatedBy") or ""
    if not created_by.strip():
        return True  # `docker import`'s one entry
    keyword = clean_created_by(created_by).keyword
    if "#(nop)" in created_by:
        return keyword in _LAYER_MAKERS
    # A RUN (the classic builder's shell or exec form, BuildKit's), COPY or ADD makes
    # one; BuildKit writes its metadata steps as plain instructions, and a WORKDIR
    # that made its directory has a size.
    return keyword in _LAYER_MAKERS or (entry.get("Size") or 0) > 0


def layer_history(engine_history, layer_count):
    """The history entries (as the engine's history call gives them, newest
    first) that made each of `layer_count` layers, base first; None when the
    count does not come out right."""
    made = [entry for entry in reversed(engine_history) if makes_layer(entry)]
    if len(made) != layer_count:
        return None
    return [{"created_by": entry.get("CreatedBy") or "", "comment": entry.get("Comment") or "",
             "created": datetime.fromtimestamp(entry["Created"], tz=timezone.utc).isoformat()
             if entry.get("Created") else "", "size": max(entry.get("Size") or 0, 0)} for entry in made]
