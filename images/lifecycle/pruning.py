"""Pruning images, and its preview: the images the engine's prune takes for the
same filters, and the bytes it frees.

The engine prunes (API 1.41, `ImagesPrune`): with `dangling`, the images
`docker images -f dangling=true` lists; without, every image it lists; only
those whose labels match the filter, and none a container uses (removing it
fails and the prune goes on). Layers that images it keeps share stay.
"""

import re
from dataclasses import dataclass

from images.accounts import audit
from images.catalog import listing, usage
from images.lifecycle import freed
from images.lifecycle.tags import ActionRefused

LABEL_FILTER = re.compile(r"^[A-Za-z0-9._/-]+(=[^\s]*)?$")
LABEL_FILTER_MAX = 255


@dataclass
class PrunePlan:
    all_unused: bool
    label: str
    images: list  # listing.ImageRow, one per image
    bytes_freed: int

    @property
    def scope(self):
        return ("all unused images" if self.all_unused else "dangling images") + (
            f" labelled {self.label}" if self.label else "")


def checked_label(label):
    label = (label or "").strip()
    if len(label) > LABEL_FILTER_MAX:
        raise ActionRefused(f"A label filter is at most {LABEL_FILTER_MAX} characters.")
    if label and not LABEL_FILTER.match(label):
        raise ActionRefused("A label filter is key or key=value, without spaces.")
    return label


def plan_prune(engine, all_unused=False, label=""):
    """What `prune` with these filters removes, and the bytes that frees."""
    label = checked_label(label)
    images, containers = engine.list_images(), engine.list_containers()
    dangling = usage.dangling_ids(engine, images)
    used = {container.get("ImageID") for container in containers}
    going = [image for image in images if image["Id"] not in used
             and (all_unused or image["Id"] in dangling) and _labels_match(image.get("Labels"), label)]
    going_ids = {image["Id"] for image in going}
    kept_ids = {image["Id"] for image in images} - going_ids | (used - {None})
    rows = {row.image_id: row for row in listing.image_rows(going, containers, dangling)}
    return PrunePlan(all_unused, label, sorted(rows.values(), key=lambda row: row.created, reverse=True),
                     freed.bytes_freed(engine, going_ids, kept_ids))


def _labels_match(labels, label):
    """The engine's label filter: `key` where the image has the label, `key=value`
    where it has that value."""
    if not label:
        return True
    key, has_value, value = label.partition("=")
    labels = labels or {}
    return key in labels and (not has_value or labels[key] == value)


def prune(engine, user, all_unused=False, label=""):
    """Returns (number of images deleted, bytes reclaimed, as the engine says)."""
    label = checked_label(label)
    scope = PrunePlan(all_unused, label, [], 0).scope
    listed = {image["Id"] for image in engine.list_images()}
    with audit.recorded(user, "prune", scope) as entry:
        result = engine.prune_images(all_unused=all_unused, label=label or None)
        # Deleted names the images and also the layers freed, and the hidden parents that went with an image.
        deleted = [item["Deleted"] for item in result.get("ImagesDeleted") or []
                   if item.get("Deleted") in listed]
        reclaimed = result.get("SpaceReclaimed") or 0
        entry["detail"] = f"{len(deleted)} image(s) deleted, {reclaimed} bytes reclaimed"
    return len(deleted), reclaimed
