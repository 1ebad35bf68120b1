"""`docker save` of an image with all its tags, as a stream of chunks."""

from dataclasses import dataclass
from typing import Iterator

from images.catalog.detail import check_reference
from images.refs import short_id


@dataclass
class Export:
    filename: str
    chunks: Iterator[bytes]


def export_image(engine, reference):
    check_reference(reference)
    data = engine.inspect_image(reference)
    names = data.get("RepoTags") or [data["Id"]]
    label = names[0].replace("/", "_").replace(":", "_") if data.get("RepoTags") else short_id(data["Id"])
    return Export(filename=f"{label}.tar", chunks=engine.save_images(names))
