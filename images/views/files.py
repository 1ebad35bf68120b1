"""An image's files: one directory as a layer leaves it, the path search,
indexing on demand, and the diff of two images."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import INDEX_FILES, requires
from images.catalog import detail
from images.files import diff, explorer
from images.jobs import control


def _offset(request):
    try:
        return max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        return 0


@requires("browse")
def files_directory(request, image_hex):
    """One directory after one layer: a page of its own, or (`fragment=1`) the
    rows the image page's explorer opens in place. Without a layer, any path
    (a waster's, a search hit's) opens where it can be seen: see open_at."""
    index = explorer.index_for(f"sha256:{image_hex}")
    path, focus = request.GET.get("path", "/"), ""
    if request.GET.get("layer") in (None, ""):
        layer, path, focus = explorer.open_at(index, path)
    else:
        layer = explorer.parse_layer(request.GET.get("layer"), index)
    listing = explorer.directory(index, layer, path, request.GET.get("changed") == "1", _offset(request),
                                 focus=focus)
    context = {"image_hex": image_hex, "listing": listing, "layer_count": len(index.diff_ids)}
    if request.GET.get("fragment") == "1":
        return render(request, "files/_tree.html", context)
    return render(request, "files/directory.html", context)


@requires("browse")
def files_search(request, image_hex):
    index = explorer.index_for(f"sha256:{image_hex}")
    query = request.GET.get("q", "")[:1024]
    hits, more = explorer.search(index, query)
    context = {"image_hex": image_hex, "query": query, "hits": hits, "more": more,
               "limit": explorer.SEARCH_LIMIT, "layer_count": len(index.diff_ids)}
    if request.GET.get("fragment") == "1":
        return render(request, "files/_search.html", context)
    return render(request, "files/search.html", context)


@require_POST
@requires("build", action=INDEX_FILES)
def files_index(request, image_hex):
    image = detail.image_summary(request.engine, image_hex)
    try:
        return redirect(control.start_index(request.user, image.id, image.tags[0] if image.tags else ""))
    except control.JobLimitReached as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)


@requires("browse")
def image_diff(request):
    a, b = request.GET.get("a", "").strip(), request.GET.get("b", "").strip()
    context = {"a": a, "b": b, "filter": request.GET.get("q", "")[:1024]}
    if a and b:
        context["comparison"] = diff.compare(request.engine, a, b, context["filter"])
    elif a:
        # "Compare with…" from an image's page: its repositories' other tags to choose from. Here, not on
        # the image page, which every view would make pay for a repository's whole list.
        context["compare_with"] = detail.comparable_images(request.engine, detail.image_summary(request.engine, a))
    return render(request, "files/diff.html", context)
