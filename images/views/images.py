"""The image list and an image's page, and Rebuild from its recipe."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.builds import contexts
from images.catalog import detail, listing
from images.files import explorer
from images.catalog.forms import ImageListForm
from images.jobs import control
from images.models import TagMove
from images.views.pages import page_of, websocket_url


@requires("browse")
def image_list(request):
    form = ImageListForm(request.GET)
    options = form.options()
    found = listing.list_images(request.engine, options["q"], options["state"], options["sort"])
    page, query = page_of(request, found.rows, settings.DOCKYARD_IMAGES_PER_PAGE)
    return render(request, "images/image_list.html", {
        "form": form,
        "page": page,
        "totals": found.totals,
        "matching": len(found.rows),
        "query": query,
        "engine_address": found.engine_address,
        "live_ws_url": websocket_url(request, "/ws/images/"),
    })


@requires("browse")
def image_detail(request, reference):
    image = detail.image_detail(request.engine, reference)
    if reference != image.hex_id:
        # Tags and short ids move; the page for an image lives at its full id.
        return redirect("images-detail", reference=image.hex_id)
    recipe = control.recipe_for_image(image.summary.id)
    files = explorer.status(image.summary.id)
    return render(request, "images/image_detail.html", {
        "files": files,
        "file_layers": explorer.layers(files.index) if files.index else [],
        "waste": explorer.waste(files.index) if files.index else None,
        "image": image.summary,
        "layers": image.layers,
        "empty_layers": image.empty_layers,
        "containers": image.containers,
        "raw": image.raw,
        "recipe": recipe,
        "recipe_missing": contexts.missing_archive(recipe.params) if recipe else None,
        "image_hex": image.hex_id,
        "live_ws_url": websocket_url(request, "/ws/images/"),
        "moves": TagMove.objects.filter(tag__in=image.summary.tags).select_related("by")[:50],
    })


@require_POST
@requires("build")
def image_rebuild(request, image_hex):
    """Run the recipe of the build that made this image again, as a new job."""
    recipe = control.recipe_for_image(f"sha256:{image_hex}")
    if recipe is None:
        messages.error(request, "Dockyard did not build this image, so it has no recipe to rebuild from.")
        return redirect("images-detail", reference=image_hex)
    try:
        return redirect(control.rebuild(recipe, request.user))
    except (control.JobLimitReached, contexts.ContextError) as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)
