"""One image as its page and the API show it: the summary of `inspect`, the
layer history read as instructions, and the containers made from it."""

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from images.catalog import history, inspect
from images.engine import ImageNotFound
from images.refs import FULL_ID_RE, InvalidReference, hex_id, is_image_id, parse_reference


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
    inspected: dict = field(default_factory=dict)  # the engine's own inspect, as it came

    @property
    def hex_id(self):
        return hex_id(self.summary.id)

    @property
    def empty_layers(self):
        """Steps the image config marks as having made no layer; None unknown."""
        if any(layer.empty is None for layer in self.layers):
            return None
        return sum(1 for layer in self.layers if layer.empty)

    @property
    def layer_count(self):
        return sum(1 for layer in self.layers if layer.empty is False)


def image_summary(engine, reference):
    """The summary alone: one engine call."""
    check_reference(reference)
    return inspect.summarize(engine.inspect_image(reference))


# The image page's "compare with" choices: enough for a repository's recent builds.
COMPARABLE_LIMIT = 50
COMPARABLE_REPOSITORIES = 3


def comparable_images(engine, summary):
    """(tag, image id) of the other images in this image's repositories, newest
    first: what its page offers to compare it with. One engine call per
    repository, for the first few of its repositories."""
    repositories = list(dict.fromkeys(tag.rsplit(":", 1)[0] for tag in summary.tags))[:COMPARABLE_REPOSITORIES]
    found = {}
    for repository in repositories:
        for image in engine.list_images(repository=repository):
            if image["Id"] != summary.id:
                for tag in image.get("RepoTags") or []:
                    if tag.rsplit(":", 1)[0] == repository:
                        found[tag] = (image.get("Created", 0), image["Id"])
    newest = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))
    return [(tag, image_id) for tag, (_, image_id) in newest[:COMPARABLE_LIMIT]]


def image_live_parts(engine, reference):
    """What of an image changes while a page is open (tags, containers): no
    layer history, so two engine calls."""
    check_reference(reference)
    data = engine.inspect_image(reference)
    return ImageDetail(summary=inspect.summarize(data), layers=[],
                       containers=inspect.containers_of(data["Id"], engine.list_containers()), raw="")


def image_detail(engine, reference):
    """Three engine calls: inspect, history, the containers. Asked by its full
    id (as its page is), an image is the same one whatever happens meanwhile,
    so the three are asked at once: the page waits for the slowest (the
    history of a deep image), not for their sum. Asked by a tag, which may
    move, the history follows the inspect's id."""
    check_reference(reference)
    with ThreadPoolExecutor(max_workers=2) as pool:
        containers = pool.submit(engine.list_containers)
        full_id = f"sha256:{hex_id(reference)}" if FULL_ID_RE.match(hex_id(reference)) else None
        layers = pool.submit(engine.image_history, full_id) if full_id else None
        data = engine.inspect_image(reference)
        layers = layers.result() if layers else engine.image_history(data["Id"])
        return ImageDetail(
            summary=inspect.summarize(data),
            layers=history.layers_from_history(layers, engine.image_config(data["Id"])),
            containers=inspect.containers_of(data["Id"], containers.result()),
            raw=json.dumps(data, indent=2, sort_keys=True),
            inspected=data,
        )
