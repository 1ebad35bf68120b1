"""Which entries of an image's history made its layers.

The image config marks the entries that made no layer (`empty_layer`), but the
engine's history call drops the mark. Without a save stream's config, the
instructions say it: the classic builder records metadata steps as
`#(nop)` (COPY and ADD too, which do make layers), BuildKit its metadata steps
by keyword; a RUN, and an imported image's one entry, always make one.
"""

from datetime import datetime, timezone

from images.catalog.history import clean_created_by

_LAYER_MAKERS = {"RUN", "COPY", "ADD"}


def makes_layer(entry):
    created_by = entry.get("CreatedBy") or ""
    instruction = clean_created_by(created_by)
    if "#(nop)" in created_by:
        return instruction.keyword in _LAYER_MAKERS
    if created_by.rstrip().endswith("# buildkit"):
        return instruction.keyword in _LAYER_MAKERS or (entry.get("Size") or 0) > 0
    return True


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
