"""Removing images, one or many, and pruning: each planned from what the engine
holds first, so the confirmation says exactly what will go."""

import re
from dataclasses import dataclass

from images.accounts import audit
from images.catalog import inspect, listing
from images.engine import EngineError
from images.lifecycle.tags import ActionRefused
from images.refs import short_id


MOST_AT_ONCE = 200  # images one removal plans, each with an engine call


@dataclass
class ImageRemoval:
    image_id: str
    tags: list
    containers: list
    size: int


def plan_image_removals(engine, image_ids):
    containers = engine.list_containers()
    plans = []
    for image_id in image_ids:
        data = engine.inspect_image(image_id)
        plans.append(ImageRemoval(data["Id"], data.get("RepoTags") or [],
                                  inspect.containers_of(data["Id"], containers), data.get("Size") or 0))
    return plans


def remove_images(engine, plans, user, force=False):
    """Remove each planned image; those in use only with force. Returns
    (removed ids, refusals as sentences)."""
    removed, refused = [], []
    for plan in plans:
        if plan.containers and not force:
            names = ", ".join(inspect.container_name(c) for c in plan.containers)
            refused.append(f"{short_id(plan.image_id)} is used by {names}; removing it anyway needs force.")
            audit.record(user, "remove", plan.image_id, audit.REFUSED, detail=f"in use by {names}")
            continue
        try:
            with audit.recorded(user, "remove", plan.image_id, detail=", ".join(plan.tags) + (
                    " (forced)" if plan.containers else "")):
                # Force also lets one call remove an image that has several tags.
                engine.remove_image(plan.image_id, force=True)
            removed.append(plan.image_id)
        except EngineError as exc:
            refused.append(f"{short_id(plan.image_id)}: {exc}")
    return removed, refused


LABEL_FILTER = re.compile(r"^[A-Za-z0-9._/-]+(=[^\s]*)?$")
LABEL_FILTER_MAX = 255


def prune(engine, user, all_unused=False, label=""):
    """Returns (number of images deleted, bytes reclaimed)."""
    if len(label) > LABEL_FILTER_MAX:
        raise ActionRefused(f"A label filter is at most {LABEL_FILTER_MAX} characters.")
    if label and not LABEL_FILTER.match(label):
        raise ActionRefused("A label filter is key or key=value, without spaces.")
    scope = ("all unused images" if all_unused else "dangling images") + (f" labelled {label}" if label else "")
    with audit.recorded(user, "prune", scope) as entry:
        result = engine.prune_images(all_unused=all_unused, label=label or None)
        deleted = [item for item in result.get("ImagesDeleted") or [] if item.get("Deleted")]
        entry["detail"] = f"{len(deleted)} image(s) deleted, {result.get('SpaceReclaimed') or 0} bytes reclaimed"
    return len(deleted), result.get("SpaceReclaimed") or 0


def prune_candidates(engine):
    """(dangling rows, unused rows) as the prune page lists them: one row per image."""
    rows = listing.image_rows(engine.list_images(), engine.list_containers())
    dangling = {row.image_id: row for row in rows if row.dangling and not row.containers}
    unused = {row.image_id: row for row in rows if not row.containers}
    return list(dangling.values()), list(unused.values())
