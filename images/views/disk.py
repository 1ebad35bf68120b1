"""The Disk page: each engine's images, containers, volumes and build cache, now and as sampled."""

from django.conf import settings
from django.shortcuts import render

from images.accounts.roles import engines_where, may, requires
from images.lifecycle import quarantine
from images.monitoring import disk


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
        })
    return render(request, "disk/disk.html", {
        "sections": sections, "window": window, "windows": disk.WINDOWS, "kinds": disk.KINDS,
        "quarantine_held": quarantine.held(request.engine_name), "quarantine_cap": settings.DOCKYARD_QUARANTINE_MAX,
        "sample_minutes": settings.DOCKYARD_DISK_SAMPLE_MINUTES, "sample_days": settings.DOCKYARD_DISK_SAMPLE_DAYS,
    })
