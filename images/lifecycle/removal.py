"""Removing images, one or many: planned from what the engine holds first, so
the confirmation says exactly what will go."""

from dataclasses import dataclass

from images.accounts import audit
from images.catalog import inspect
from images.engine import EngineError
from images.lifecycle import freed
from images.refs import short_id


MOST_AT_ONCE = 200  # images one removal plans, each with an engine call


@dataclass
class ImageRemoval:
    image_id: str
    tags: list
    containers: list
    size: int


def plan_image_removals(engine, image_ids):
    """One plan per image, however many of its tags' rows were ticked (each
    row sends its image's id)."""
    containers = engine.list_containers()
    plans = {}
    for image_id in dict.fromkeys(image_ids):
        data = engine.inspect_image(image_id)
        plans.setdefault(data["Id"], ImageRemoval(data["Id"], data.get("RepoTags") or [],
                                                  inspect.containers_of(data["Id"], containers),
                                                  data.get("Size") or 0))
    return list(plans.values())


def bytes_freed(engine, plans):
    """What removing the planned images frees: their layers that no other image
    holds, each once. An image a container uses keeps its layers even when
    forced (the engine only untags it)."""
    going = {plan.image_id for plan in plans if not plan.containers}
    used = {container.get("ImageID") for container in engine.list_containers()} - {None}
    kept = {image["Id"] for image in engine.list_images()} - going | used
    return freed.bytes_freed(engine, going, kept)


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
