"""Disk usage: each engine's images, containers, volumes and build cache, now and as sampled."""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from images import engines
from images.accounts.roles import engines_where, may
from images.api.auth import allowed
from images.api.errors import answer
from images.api.schemas import errors
from images.monitoring import build_trends, disk, repositories

router = Router(tags=["disk"])


class Usage(Schema):
    count: int = Field(description="How many there are.")
    active: int = Field(description="How many are in use: images a container uses, running containers, volumes a "
                                    "container refers to, build-cache records a running build holds.")
    size: int = Field(description="Bytes; an image layer several images share counts once, a build-cache record "
                                  "shared with an image not at all.")
    reclaimable: int = Field(description="Bytes, as `docker system df` counts them.")


class Kinds(Schema):
    images: Usage
    containers: Usage
    volumes: Usage
    build_cache: Usage


class EngineDisk(Schema):
    engine: str
    size: int | None = Field(description="Bytes of all four kinds; null when the engine did not answer.")
    reclaimable: int | None
    kinds: Kinds | None = Field(description="Each kind's figures, for builders and admins on that engine; null for "
                                            "a viewer, or when the engine did not answer.")
    error: str = Field(description="Why the engine's figures are missing; empty when they are not.")


class Series(Schema):
    engine: str
    at: list[int] = Field(description="Each sample's moment, in seconds since 1970 (UTC), oldest first.")
    columns: dict[str, list[int]] = Field(
        description="Bytes at each moment: total_size and total_reclaimable; for builders and admins also "
                    "<kind>_size and <kind>_reclaimable for images, containers, volumes and build_cache.")


class SeriesFilters(Schema):
    engine: str = Field("", description="An engine's name; by default the one the URL is on.")
    since: datetime | None = Field(None, description="Samples taken at or after this moment (ISO 8601); by "
                                                     "default the whole kept window (DOCKYARD_DISK_SAMPLE_DAYS).")


def _kinds(usage):
    return {usage.kind: {figure: getattr(usage, figure) for figure in disk.FIGURES} for usage in usage.kinds}


@router.get("/disk", response={200: list[EngineDisk], **errors()}, auth=allowed("browse"))
def disk_now(request):
    """Disk usage now.

    Every engine the caller may browse, as the Disk page shows it: the totals, and for builders and admins each
    kind's count, active count, size and reclaimable bytes, summed up as `docker system df` does.
    """
    found = disk.current_everywhere(engines_where(request.user, "browse"))
    return [{"engine": item.engine, "error": item.error,
             "size": item.usage.size if item.usage else None,
             "reclaimable": item.usage.reclaimable if item.usage else None,
             "kinds": _kinds(item.usage) if item.usage and may(request.user, "build", item.engine) else None}
            for item in found]


@router.get("/disk/samples", response={200: Series, **errors(400, 404)}, auth=allowed("browse"))
def disk_samples(request, filters: Query[SeriesFilters]):
    """Disk usage as sampled.

    One engine's samples (every DOCKYARD_DISK_SAMPLE_MINUTES, kept DOCKYARD_DISK_SAMPLE_DAYS), oldest first, as
    columns: what the Disk page plots.
    """
    name = filters.engine or request.engine_name
    if not engines.exists(name):
        return answer(404, f"Dockyard manages no engine named {name[:40]!r}.")
    if not may(request.user, "browse", name):
        raise PermissionDenied(f"You may not browse the engine {name}.")
    columns = disk.series(disk.samples(name, filters.since), detailed=may(request.user, "build", name))
    return {"engine": name, "at": columns.pop("at"), "columns": columns}


class RepositorySeries(Schema):
    repository: str
    at: list[int] = Field(description="Each sample's moment, in seconds since 1970 (UTC), oldest first.")
    size: list[int] = Field(description="Bytes of its images' layers, each once.")
    alone: list[int] = Field(description="Bytes no image outside it holds: what removing all its images frees.")


class RepositoryFilters(SeriesFilters):
    repository: str = Field("", max_length=255, description="One repository (as tags name it, without the tag); "
                                                            "by default the largest ones of the newest sample.")


@router.get("/disk/repositories", response={200: list[RepositorySeries], **errors(400, 404)}, auth=allowed("browse"))
def disk_repositories(request, filters: Query[RepositoryFilters]):
    """Repositories' sizes as sampled.

    Per repository, its size and the bytes it holds alone at each sample (taken with the disk samples): the one
    named, or the largest few, as the Disk page plots them. For builders and admins.
    """
    name = filters.engine or request.engine_name
    if not engines.exists(name):
        return answer(404, f"Dockyard manages no engine named {name[:40]!r}.")
    if not may(request.user, "build", name):
        raise PermissionDenied(f"You may see each repository's disk use only where you may build (engine {name}).")
    since = filters.since or disk.sample_cutoff()
    if timezone.is_naive(since):
        since = timezone.make_aware(since, dt_timezone.utc)
    chosen = [filters.repository] if filters.repository else repositories.largest(name, since)
    return [{"repository": repository, **repositories.series(name, repository, since)} for repository in chosen]


class BuildSeries(Schema):
    at: list[int] = Field(description="When each build of the repository ended, in seconds since 1970 (UTC), "
                                      "oldest first (the newest 200).")
    job: list[int] = Field(description="Each build's job id (/api/jobs/<id>).")
    duration: list[float] = Field(description="Seconds from its start to its end.")
    cache_share: list[float | None] = Field(description="Steps from the cache of all, 0 to 1: BuildKit vertices "
                                                        "cached of all; classic steps the engine said \"Using "
                                                        "cache\" for. Null when it recorded no steps.")
    layers: list[int | None] = Field(description="Layers of the image it made; null once the image is gone.")


class MoveSeries(Schema):
    at: list[int] = Field(description="When a tag of the repository came to point at an image, oldest first.")
    tag: list[str]
    image_id: list[str]
    size: list[int | None] = Field(description="The engine's size of that image; null once it is gone.")


class RepositoryTrends(Schema):
    repository: str
    builds: BuildSeries
    moves: MoveSeries


class TrendFilters(Schema):
    repository: str = Field(..., min_length=1, max_length=255,
                            description="A repository as tags name it, without the tag.")


@router.get("/repositories/trends", response={200: RepositoryTrends, **errors(400)}, auth=allowed("browse"))
def repository_trends(request, filters: Query[TrendFilters]):
    """A repository's trends.

    Its image's size at each tag move, and per build of it the duration, the cache-hit share and the layer count,
    each build with its job: the series the repository's page plots.
    """
    return {"repository": filters.repository, **build_trends.of_repository(request.engine, filters.repository)}
