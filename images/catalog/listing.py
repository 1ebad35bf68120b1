"""The image list: rows made from one image list and one container list, then
searched, filtered and sorted in memory (the engine offers none of these for
substrings, and two calls stay fast at thousands of tags)."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter

from images.bases import checks
from images.catalog import usage
from images.refs import hex_id, short_id, split_repo_tag

NONE = "<none>"
FILTERS = {
    "": "All images",
    "dangling": "Dangling",
    "in-use": "In use",
    "unused": "Unused",
    "base-updated": "Base updated",
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


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# which tripled the cost of the ten thousand rows of a big host.
@dataclass(slots=True)
class ImageRow:
    image_id: str
    repository: str
    tag: str
    created: datetime
    size: int
    containers: int
    dangling: bool
    digests: tuple = ()  # this repository's digests of the image: "repository@sha256:…"
    base_updated: bool = False  # built by Dockyard on a base that has moved since (images.bases.checks)

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
    size: int | None  # on disk, shared layers counted once: for these images if size_fresh, else the last count
    size_fresh: bool = True
    size_counted_at: datetime | None = None


def containers_per_image(containers):
    return Counter(container.get("ImageID") for container in containers)


def image_rows(images, containers, dangling=None):
    """One row per repository:tag, one per image known only by digest, and one
    per dangling image, as `docker images` lists them. `dangling`: the ids the
    engine calls dangling (see usage.dangling_ids); without it, only those
    without tag or digest."""
    in_use = containers_per_image(containers)
    rows = []
    for image in images:
        image_id = image["Id"]
        created = datetime.fromtimestamp(image.get("Created") or 0, tz=timezone.utc)
        size = image.get("Size") or 0
        used = in_use.get(image_id, 0)
        digests = {}  # repository: its digests
        for digest in image.get("RepoDigests") or ():
            if digest != "<none>@<none>":
                repository = digest.partition("@")[0]
                digests[repository] = digests.get(repository, ()) + (digest,)
        tags = [t for t in image.get("RepoTags") or () if t != "<none>:<none>"]
        # Known only by a digest: dangling if no image is built on it (the engine's call).
        digest_only_dangling = dangling is not None and image_id in dangling
        for repo_tag in tags:
            # The engine writes each as repository:tag: split_repo_tag's reading without a call per tag
            # (a third of the rows' time at 10,000 tags); what it writes otherwise goes to split_repo_tag.
            repository, _, tag = repo_tag.rpartition(":")
            if not repository or "/" in tag:
                repository, tag = split_repo_tag(repo_tag)
            rows.append(ImageRow(image_id, repository, tag, created, size, used, False, digests.get(repository, ())))
        if tags:
            continue
        if digests:
            rows.extend(ImageRow(image_id, repository, NONE, created, size, used, digest_only_dangling, found)
                        for repository, found in digests.items())
        else:
            rows.append(ImageRow(image_id, NONE, NONE, created, size, used, True))
    return rows


def totals(images, dangling, on_disk):
    """`dangling`: the dangling images' ids; `on_disk`: a `usage.OnDisk`, the
    bytes the images' layers take, each layer once, or the last count of them."""
    return Totals(
        images=len(images),
        tags=sum(len(usage.tags_of(image)) for image in images),
        dangling=len(dangling),
        size=on_disk.size,
        size_fresh=on_disk.fresh,
        size_counted_at=on_disk.counted_at and datetime.fromtimestamp(on_disk.counted_at, timezone.utc),
    )


def search_matcher(query):
    """Whether a row answers `query`, written as people write images: part of
    [registry/]repository[:tag]; part of the repository and the start of the tag
    (`app:1` finds team/app-server:1.2); part of an id, or its start after
    "sha256:"; a digest, bare or as repository@sha256:…. Docker Hub's full
    names (docker.io/library/app) find what the engine shows (app)."""
    query = query.strip().lower()
    for hub in ("docker.io/", "index.docker.io/"):
        if query.startswith(hub):
            query = query[len(hub):].removeprefix("library/")
            break
    in_repository, tag_start = split_repo_tag(query) if "@" not in query else ("", "")

    def matches(row):
        return (query in f"{row.repository}:{row.tag}".lower() or query in row.image_id
                or any(query in digest.lower() for digest in row.digests)
                or (tag_start and in_repository in row.repository.lower() and row.tag.lower().startswith(tag_start)))
    return matches


def select_rows(rows, query="", state="", sort=DEFAULT_SORT):
    if query.strip():
        rows = list(filter(search_matcher(query), rows))
    if state == "dangling":
        rows = [row for row in rows if row.dangling]
    elif state == "in-use":
        rows = [row for row in rows if row.containers]
    elif state == "unused":
        rows = [row for row in rows if not row.containers]
    elif state == "base-updated":
        rows = [row for row in rows if row.base_updated]

    return sorted(rows, key=_SORT_KEYS[sort.lstrip("-")], reverse=sort.startswith("-"))


_SORT_KEYS = {
    "name": attrgetter("dangling", "repository", "tag", "image_id"),
    "created": attrgetter("created", "repository", "tag"),
    "size": attrgetter("size", "repository", "tag"),
}


@dataclass(frozen=True)
class ImageList:
    rows: list
    totals: Totals
    engine_address: str


def list_images(engine, query="", state="", sort=DEFAULT_SORT):
    """The rows matching a search, filter and sort: two engine calls whatever
    the number of images (the bytes on disk, when the images changed, are
    counted beside the request: `usage.images_on_disk`)."""
    images, on_disk = usage.images_on_disk(engine, engine.list_images())
    dangling = usage.dangling_ids(engine, images)
    rows = image_rows(images, engine.list_containers(), dangling)
    updated = checks.updated_image_ids(engine.name)
    if updated:
        for row in rows:
            row.base_updated = row.image_id in updated
    rows = select_rows(rows, query, state, sort if sort in SORTS else DEFAULT_SORT)
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
    """The images matching `query` (as `search_matcher` reads it) on each of
    the engines `names`, in their order: one image list call per engine, all at
    once, so an engine that does not answer costs its timeout once."""
    from concurrent.futures import ThreadPoolExecutor

    from images.engine import EngineError, get_engine

    query = query.strip()

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
