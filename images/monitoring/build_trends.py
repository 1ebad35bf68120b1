"""A repository's trends: its image's size at each tag move, and per build of it
the duration, the share of steps that came from the cache (BuildKit: vertices
cached of all; classic: steps the engine said "Using cache" for) and the
image's layer count. Read from the jobs and tag history Dockyard keeps, and
the engine's image list and layer chains for what is still there (an image
gone has no size or layer count: None, never a guess)."""

from django.db.models import Q

from images.catalog import layers
from images.models import Job, TagMove
from images.refs import split_repo_tag

LIMIT = 200  # the newest points of each series


def _of_repository(tags, repository):
    return any(split_repo_tag(tag)[0] == repository for tag in tags or [])


def cache_share(job):
    """Cached steps of all, from 0 to 1; None when the build recorded no steps."""
    vertices = (job.graph or {}).get("vertices") or []
    steps = vertices if vertices else job.steps or []
    if not steps:
        return None
    cached = sum(1 for step in steps if step.get("cached") or step.get("status") == "cached"
                 or step.get("state") == "cached")
    return round(cached / len(steps), 4)


def of_repository(engine, repository):
    """{"builds": {...columns}, "moves": {...columns}}, oldest first."""
    jobs = list(Job.objects.filter(engine=engine.name, kind=Job.Kind.BUILD, state=Job.State.SUCCEEDED,
                                   target__contains=f"{repository}:", finished_at__isnull=False)
                .exclude(started_at=None).order_by("-finished_at")[:LIMIT * 2])
    jobs = [job for job in jobs if _of_repository(job.params.get("tags"), repository)][:LIMIT][::-1]
    moves = list(TagMove.objects.filter(Q(tag__startswith=f"{repository}:"), engine=engine.name)
                 .order_by("-at", "-pk")[:LIMIT * 2])
    moves = [move for move in moves if split_repo_tag(move.tag)[0] == repository][:LIMIT][::-1]
    sizes = {image["Id"]: image.get("Size") for image in engine.list_images()}
    chains = layers.of_images(engine, [job.image_id for job in jobs if job.image_id in sizes])
    return {
        "builds": {
            "at": [int(job.finished_at.timestamp()) for job in jobs],
            "job": [job.pk for job in jobs],
            "duration": [round((job.finished_at - job.started_at).total_seconds(), 3) for job in jobs],
            "cache_share": [cache_share(job) for job in jobs],
            "layers": [len(chains[job.image_id].chain) if job.image_id in chains else None for job in jobs],
        },
        "moves": {
            "at": [int(move.at.timestamp()) for move in moves],
            "tag": [move.tag for move in moves],
            "image_id": [move.image_id for move in moves],
            "size": [sizes.get(move.image_id) for move in moves],
        },
    }
