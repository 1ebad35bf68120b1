"""Each repository's size over time: sampled with the disk figures, plotted on
the Disk page for the largest repositories.

A repository's size is its images' layers, each once (as `docker system df`
counts an engine's); what it holds alone is the part no image outside it
holds, which is what removing all of its images would free. Layers come from
the per-image cache (catalog.layers), so a sample asks the engine about new
images only. The largest REPOSITORIES_KEPT repositories of each sample are
kept, so that a host with thousands of repositories does not fill the
database; the purge follows DOCKYARD_DISK_SAMPLE_DAYS.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from images.catalog import layers, usage
from images.models import RepositorySample
from images.refs import split_repo_tag

REPOSITORIES_KEPT = 50
PLOTTED = 5  # repositories the Disk page plots: the largest now
UNTAGGED = ""  # the holder of an untagged image's layers: none of the repositories


@dataclass
class RepositoryUsage:
    repository: str
    tags: int
    images: int
    size: int
    alone: int


def current(engine):
    """Every repository's usage now, largest first."""
    images = engine.list_images()
    ids = [image["Id"] for image in images]
    known = layers.of_images(engine, ids, with_sizes=ids)
    tags, members = defaultdict(int), defaultdict(set)
    for image in images:
        for tag in usage.tags_of(image):
            repository, _ = split_repo_tag(tag)
            tags[repository] += 1
            members[repository].add(image["Id"])
        if not usage.tags_of(image):
            members[UNTAGGED].add(image["Id"])
    holders, sizes = defaultdict(set), {}
    for repository, image_ids in members.items():
        for image_id in image_ids:
            if image_id in known:
                for chain, size in known[image_id].sized:
                    holders[chain].add(repository)
                    sizes[chain] = size
    found = []
    for repository, image_ids in members.items():
        if repository == UNTAGGED:
            continue
        chains = {chain for image_id in image_ids if image_id in known for chain in known[image_id].chain}
        found.append(RepositoryUsage(repository, tags[repository], len(image_ids), sum(sizes[c] for c in chains),
                                     sum(sizes[c] for c in chains if holders[c] == {repository})))
    found.sort(key=lambda entry: (-entry.size, entry.repository))
    return found


def take_samples(engine, at=None):
    """Store the largest repositories' usage now; returns the rows."""
    at = at or timezone.now()
    return RepositorySample.objects.bulk_create(
        RepositorySample(engine=engine.name, at=at, repository=entry.repository, tags=entry.tags,
                         images=entry.images, size=entry.size, alone=entry.alone)
        for entry in current(engine)[:REPOSITORIES_KEPT])


def purge_before(cutoff):
    return RepositorySample.objects.filter(at__lt=cutoff).delete()[0]


def largest(engine_name, since):
    """The repositories of the newest sample in the window, largest first (PLOTTED of them)."""
    newest = RepositorySample.objects.filter(engine=engine_name, at__gte=since).order_by("-at").values_list(
        "at", flat=True).first()
    if newest is None:
        return []
    return list(RepositorySample.objects.filter(engine=engine_name, at=newest).order_by("-size", "repository")
                .values_list("repository", flat=True)[:PLOTTED])


def series(engine_name, repository, since):
    """{"at": [epoch seconds], "size": [...], "alone": [...]}, oldest first."""
    rows = RepositorySample.objects.filter(engine=engine_name, repository=repository, at__gte=since).order_by(
        "at").values_list("at", "size", "alone")
    columns = {"at": [], "size": [], "alone": []}
    for at, size, alone in rows:
        columns["at"].append(int(at.timestamp()))
        columns["size"].append(size)
        columns["alone"].append(alone)
    return columns
