"""A repository's page of trends: its image's size per tag move, and per build
its duration, cache-hit share and layer count (images.monitoring.build_trends)."""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.http import Http404
from django.shortcuts import render

from images.accounts.roles import requires
from images.bases import dependents
from images.monitoring import build_trends

PLOTS = [("moves", "size", "Image size per tag move", "bytes"),
         ("builds", "duration", "Build duration", "seconds"),
         ("builds", "cache_share", "Cache-hit share per build", "share"),
         ("builds", "layers", "Layers per build", "count")]


@requires("browse")
def repository_trends(request, repository):
    if not repository or len(repository) > 255:
        raise Http404("No such repository.")
    series = build_trends.of_repository(request.engine, repository)
    builds, moves = series["builds"], series["moves"]
    build_rows = [{"at": datetime.fromtimestamp(at, dt_timezone.utc), "job": job, "duration": duration,
                   "cache_share": share, "layers": count}
                  for at, job, duration, share, count in zip(builds["at"], builds["job"], builds["duration"],
                                                             builds["cache_share"], builds["layers"])][::-1]
    move_rows = [{"at": datetime.fromtimestamp(at, dt_timezone.utc), "tag": tag, "image_id": image_id, "size": size}
                 for at, tag, image_id, size in zip(moves["at"], moves["tag"], moves["image_id"], moves["size"])][::-1]
    return render(request, "images/repository_trends.html", {
        "repository": repository, "series": series, "plots": PLOTS,
        "build_rows": build_rows, "move_rows": move_rows,
        "graph": dependents.repository_graph(request.engine_name, repository),
    })
