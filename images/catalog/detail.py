"""One image as its page and the API show it: the summary of `inspect`, the
layer history read as instructions, and the containers made from it."""

import json
from dataclasses import dataclass

from images.catalog import history, inspect
from images.engine import ImageNotFound
from images.refs import InvalidReference, hex_id, is_image_id, parse_reference


def check_reference(reference):
    """Only ids and valid references reach the engine; anything else is simply
    not an image here."""
    if is_image_id(reference):
        return
    try:
        parse_reference(reference)
    except InvalidReference as exc:
        reason = str(exc)
        if "not a valid image reference" not in reason:  # parse_reference's catch-all says so itself
            reason = f"It is not a valid image reference: {reason}"
        raise ImageNotFound(reference, reason) from exc


@dataclass
class ImageDetail:
    summary: inspect.ImageSummary
    layers: list
    containers: list
    raw: str

    @property
    def hex_id(self):
        return hex_id(self.summary.id)

    @property
    def empty_layers(self):
        return sum(1 for layer in self.layers if layer.empty)


def image_summary(engine, reference):
    """The summary alone: one engine call."""
    check_reference(reference)
    return inspect.summarize(engine.inspect_image(reference))


def image_live_parts(engine, reference):
    """What of an image changes while a page is open (tags, containers): no
    layer history, so two engine calls."""
    check_reference(reference)
    data = engine.inspect_image(reference)
    return ImageDetail(summary=inspect.summarize(data), layers=[],
                       containers=inspect.containers_of(data["Id"], engine.list_containers()), raw="")


def image_detail(engine, reference):
    check_reference(reference)
    data = engine.inspect_image(reference)
    return ImageDetail(
        summary=inspect.summarize(data),
        layers=history.layers_from_history(engine.image_history(data["Id"])),
        containers=inspect.containers_of(data["Id"], engine.list_containers()),
        raw=json.dumps(data, indent=2, sort_keys=True),
    )
