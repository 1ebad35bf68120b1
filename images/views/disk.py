"""The Disk page: each engine's images, containers, volumes and build cache, now and as sampled."""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.conf import settings
from django.shortcuts import render

from images.accounts.roles import engines_where, may, requires
from images.lifecycle import quarantine
from images.monitoring import disk, repositories


# Viewers see each engine's totals; those who build see what makes them up.
@requires("browse")
def disk_page(request):
    since, window = disk.window_start(request.GET.get("days", ""))
    sections = []
    for found in disk.current_everywhere(engines_where(request.user, "browse")):
        detailed = may(request.user, "build", found.engine)
        samples = disk.samples(found.engine, since)
        sections.append({
            "engine": found.engine, "usage": found.usage, "error": found.error, "detailed": detailed,
            "samples": len(samples), "plots": disk.plots(samples, detailed=detailed),
            "series": disk.series(samples, detailed=detailed), "json_id": f"disk-series-{found.engine}",
            "repositories": _repository_plots(found.engine, since) if detailed else [],
        })
    return render(request, "disk/disk.html", {
        "sections": sections, "window": window, "windows": disk.WINDOWS, "kinds": disk.KINDS,
        "quarantine_held": quarantine.held(request.engine_name), "quarantine_cap": settings.DOCKYARD_QUARANTINE_MAX,
        "sample_minutes": settings.DOCKYARD_DISK_SAMPLE_MINUTES, "sample_days": settings.DOCKYARD_DISK_SAMPLE_DAYS,
    })


def _repository_plots(engine_name, since):
    """The largest repositories' trends: each one's series for the plot and its rows for the table."""
    plots = []
    for index, repository in enumerate(repositories.largest(engine_name, since)):
        columns = repositories.series(engine_name, repository, since)
        rows = list(zip(columns["at"], columns["size"], columns["alone"]))[::-1][:disk.TABLE_ROWS]
        plots.append({"repository": repository, "json_id": f"repository-series-{engine_name}-{index}",
                      "series": {"at": columns["at"], "repository_size": columns["size"],
                                 "repository_reclaimable": columns["alone"]},
                      "rows": [(datetime.fromtimestamp(at, dt_timezone.utc), size, alone) for at, size, alone in rows]})
    return plots
