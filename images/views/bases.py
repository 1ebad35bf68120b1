"""Rebuild dependents from a base, and the rebuild batches' pages."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.bases import automatic, batches
from images.jobs import control
from images.models import RebuildBatch
from images.refs import is_image_id

BATCHES_PER_PAGE = 50


def _image_id(image_hex):
    """The full image id a rebuild's URL names; anything shorter or other is no image."""
    image_id = f"sha256:{image_hex}"
    if not is_image_id(image_id) or len(image_hex) != 64:
        raise Http404("Not an image id.")
    return image_id


@require_POST
@requires("build")
def rebuild_dependents(request, image_hex):
    """Queue a batch rebuilding every current recipe built on this image."""
    image_id = _image_id(image_hex)
    name = request.POST.get("name", "")[:600]
    try:
        batch = batches.start_batch(request.user, request.engine_name, image_id, name)
    except (batches.NothingToRebuild, control.JobLimitReached) as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)
    return redirect(batch.get_absolute_url())


@require_POST
@requires("build")
def rebuild_by_itself(request, image_hex):
    """Turn on or off rebuilding this image's recipe by itself when its base moves."""
    image_id = _image_id(image_hex)
    enabled = request.POST.get("enabled") == "on"
    try:
        automatic.set_rebuilds_by_itself(request.user, image_id, enabled)
    except control.NoRecipe as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "It will be rebuilt by itself when its base moves." if enabled
                         else "It will no longer be rebuilt by itself when its base moves.")
    return redirect("images-detail", reference=image_hex)


@requires("browse")
def batch_list(request):
    found = RebuildBatch.objects.filter(engine=request.engine_name).select_related("created_by")
    page = Paginator(found, BATCHES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "images/batch_list.html", {"page": page})


@requires("browse")
def batch_detail(request, pk):
    batch = RebuildBatch.objects.filter(pk=pk, engine=request.engine_name).select_related("created_by").first()
    if batch is None:
        raise Http404("No such rebuild batch on this engine.")
    items = list(batch.items.select_related("job"))
    by_position = {item.position: item for item in items}
    rows = [{"item": item, "needs": [by_position[position] for position in item.needs]} for item in items]
    template = "images/_batch_items.html" if request.GET.get("fragment") == "items" else "images/batch_detail.html"
    return render(request, template, {"batch": batch, "rows": rows})
