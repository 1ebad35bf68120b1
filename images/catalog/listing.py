"""The image list: rows made from one image list and one container list, then
searched, filtered and sorted in memory (the engine offers none of these for
substrings, and two calls stay fast at thousands of tags)."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from images.catalog import usage
from images.refs import hex_id, short_id, split_repo_tag

NONE = "<none>"
FILTERS = {
    "": "All images",
    "dangling": "Dangling",
    "in-use": "In use",
    "unused": "Unused",
}
SORTS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "name": "Name A–Z",
    "-name": "Name Z–A",
    "-size": "Largest first",
    "size": "Smallest first",
}
DEFAULT_SORT = "-created"


@dataclass(frozen=True)
class ImageRow:
    image_id: str
    repository: str
    tag: str
    created: datetime
    size: int
    containers: int
    dangling: bool

    @property
    def short_id(self):
        return short_id(self.image_id)

    @property
    def hex_id(self):
        return hex_id(self.image_id)

    @property
    def name(self):
        if self.dangling:
            return self.short_id
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Totals:
    images: int
    tags: int
    dangling: int
    size: int | None  # on disk, shared layers counted once


def containers_per_image(containers):
    return Counter(container.get("ImageID") for container in containers)


def image_rows(images, containers, dangling=None):
    """One row per repository:tag, one per image known only by digest, and one
    per dangling image, as `docker images` lists them. `dangling`: the ids the
    engine calls dangling (see usage.dangling_ids); by default those without
    tag or digest."""
    in_use = containers_per_image(containers)
    rows = []
    for image in images:
        image_id = image["Id"]
        common = {
            "image_id": image_id,
            "created": datetime.fromtimestamp(image.get("Created") or 0, tz=timezone.utc),
            "size": image.get("Size") or 0,
            "containers": in_use.get(image_id, 0),
        }
        tags = usage.tags_of(image)
        digests = usage.digests_of(image)
        is_dangling = image_id in dangling if dangling is not None else not tags and not digests
        if tags:
            rows.extend(ImageRow(repository=repo, tag=tag, dangling=False, **common)
                        for repo, tag in map(split_repo_tag, tags))
        elif digests:
            repositories = dict.fromkeys(d.split("@", 1)[0] for d in digests)
            rows.extend(ImageRow(repository=repo, tag=NONE, dangling=is_dangling, **common)
                        for repo in repositories)
        else:
            rows.append(ImageRow(repository=NONE, tag=NONE, dangling=True, **common))
    return rows


def totals(images, dangling, on_disk):
    """`dangling`: the dangling images' ids; `on_disk`: the bytes the images'
    layers take, each layer once (None if the engine would not say)."""
    return Totals(
        images=len(images),
        tags=sum(len(usage.tags_of(image)) for image in images),
        dangling=len(dangling),
        size=on_disk,
    )


def select_rows(rows, query="", state="", sort=DEFAULT_SORT):
    query = query.strip().lower()
    if query:
        rows = [
            row for row in rows
            if query in row.repository.lower() or query in row.tag.lower() or query in row.hex_id
        ]
    if state == "dangling":
        rows = [row for row in rows if row.dangling]
    elif state == "in-use":
        rows = [row for row in rows if row.containers]
    elif state == "unused":
        rows = [row for row in rows if not row.containers]

    field = sort.lstrip("-")
    key = {
        "name": lambda row: (row.dangling, row.repository, row.tag, row.image_id),
        "created": lambda row: (row.created, row.repository, row.tag),
        "size": lambda row: (row.size, row.repository, row.tag),
    }[field]
    return sorted(rows, key=key, reverse=sort.startswith("-"))


@dataclass(frozen=True)
class ImageList:
    rows: list
    totals: Totals
    engine_address: str


def list_images(engine, query="", state="", sort=DEFAULT_SORT):
    """The rows matching a search, filter and sort: two engine calls whatever
    the number of images (and `GET /system/df` when the images changed)."""
    images, on_disk = usage.images_on_disk(engine, engine.list_images())
    dangling = usage.dangling_ids(engine, images)
    rows = select_rows(image_rows(images, engine.list_containers(), dangling), query, state,
                       sort if sort in SORTS else DEFAULT_SORT)
    return ImageList(rows=rows, totals=totals(images, dangling, on_disk), engine_address=engine.address)


# Search across engines ------------------------------------------------------------

SEARCH_SHOWN = 100  # rows per engine


@dataclass(frozen=True)
class EngineMatches:
    """The rows of one engine's images that match a search, or why there are none."""
    engine: str
    rows: list
    matching: int = 0
    error: str = ""


def search_engines(names, query):
    """The images matching `query` (repository, tag or id, with or without
    "sha256:") on each of the engines `names`, in their order: one image list
    call per engine, all at once, so an engine that does not answer costs its
    timeout once."""
    from concurrent.futures import ThreadPoolExecutor

    from images.engine import EngineError, get_engine

    query = query.strip()
    query = query[len("sha256:"):] if query.lower().startswith("sha256:") else query

    def search(engine):
        try:
            rows = select_rows(image_rows(engine.list_images(), []), query, sort="name")
        except EngineError as exc:
            return EngineMatches(engine.name, [], error=str(exc))
        return EngineMatches(engine.name, rows[:SEARCH_SHOWN], matching=len(rows))

    if not query or not names:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        return list(pool.map(search, [get_engine(name) for name in names]))
