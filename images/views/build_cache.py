"""The Build cache page: the engine's BuildKit cache summed up, and its prune."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import PRUNE_BUILD_CACHE, SEE_BUILD_CACHE, may, requires
from images.lifecycle import build_cache
from images.lifecycle.tags import ActionRefused
from images.sizes import human_size
from images.views.pages import page_of

RECORDS_PER_PAGE = 100


# Those who build may see what their builds leave behind; only those who prune images prune it.
@requires("build", action=SEE_BUILD_CACHE)
def build_cache_page(request):
    summary = build_cache.summary(request.engine)
    q, record_type = request.GET.get("q", "").strip(), request.GET.get("type", "")
    shown = build_cache.matching(summary.records, q, record_type)
    page, query = page_of(request, shown, RECORDS_PER_PAGE)
    return render(request, "build_cache/build_cache.html", {
        "summary": summary, "page": page, "query": query, "shown": shown, "q": q, "record_type": record_type,
        "types": build_cache.TYPE_NAMES, "may_prune": may(request.user, "prune"),
    })


@require_POST
@requires("prune", action=PRUNE_BUILD_CACHE)
def build_cache_prune(request):
    try:
        pruned = build_cache.prune(request.engine, request.user, keep_storage=request.POST.get("keep_storage", ""),
                                   until=request.POST.get("until", ""), all_records=request.POST.get("all") == "on",
                                   record_id=request.POST.get("record", ""))
    except ActionRefused as refused:
        messages.error(request, f"Nothing pruned: {refused}")
        return redirect("build-cache")
    messages.success(request, f"Pruned {len(pruned.deleted)} build-cache record(s), reclaiming "
                              f"{human_size(pruned.reclaimed)} ({pruned.reclaimed:,} bytes).")
    return redirect("build-cache")
