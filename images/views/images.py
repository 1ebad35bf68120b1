import json

from django.conf import settings
from django.core.paginator import Paginator
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images import contexts, history, inspect, jobs, listing
from images.engine import ImageNotFound, get_engine
from images.forms import ImageListForm
from images.models import TagMove
from images.refs import InvalidReference, is_image_id, parse_reference
from images.roles import requires


@requires("browse")
def image_list(request):
    form = ImageListForm(request.GET)
    options = form.options()
    engine = get_engine()
    images = engine.list_images()
    containers = engine.list_containers()
    rows = listing.select_rows(listing.image_rows(images, containers), options["q"], options["state"], options["sort"])
    page = Paginator(rows, settings.DOCKYARD_IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fragment", None)
    template = "images/_image_list_live.html" if _live_fragment(request) else "images/image_list.html"
    return render(request, template, {
        "form": form,
        "page": page,
        "totals": listing.totals(images),
        "matching": len(rows),
        "query": query.urlencode(),
        "engine": engine,
        "live_ws_url": websocket_url(request, "/ws/images/"),
    })


@requires("browse")
def image_detail(request, reference):
    check_reference(reference)
    engine = get_engine()
    data = engine.inspect_image(reference)
    hex_id = data["Id"].split(":", 1)[-1]
    if reference != hex_id:
        # Tags and short ids move; the page for an image lives at its full id.
        return redirect("images-detail", reference=hex_id)
    containers = inspect.containers_of(data["Id"], engine.list_containers())
    moves = TagMove.objects.filter(tag__in=data.get("RepoTags") or []).select_related("by")[:50]
    if _live_fragment(request):
        return render(request, "images/_image_detail_live.html", {
            "image": inspect.summarize(data), "containers": containers, "image_hex": hex_id, "moves": moves})
    layers = history.layers_from_history(engine.image_history(data["Id"]))
    recipe = jobs.recipe_for_image(data["Id"])
    return render(request, "images/image_detail.html", {
        "image": inspect.summarize(data),
        "layers": layers,
        "empty_layers": sum(1 for layer in layers if layer.empty),
        "containers": containers,
        "raw": json.dumps(data, indent=2, sort_keys=True),
        "recipe": recipe,
        "recipe_missing": contexts.missing_archive(recipe.params) if recipe else None,
        "image_hex": hex_id,
        "live_ws_url": websocket_url(request, "/ws/images/"),
        "moves": moves,
    })


@require_POST
@requires("build")
def image_rebuild(request, image_hex):
    """Run the recipe of the build that made this image again, as a new job."""
    recipe = jobs.recipe_for_image(f"sha256:{image_hex}")
    if recipe is None:
        messages.error(request, "Dockyard did not build this image, so it has no recipe to rebuild from.")
        return redirect("images-detail", reference=image_hex)
    try:
        return redirect(jobs.rebuild(recipe, request.user))
    except (jobs.JobLimitReached, contexts.ContextError) as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)


def _live_fragment(request):
    """live.js asks for only the parts of a page that follow the engine (the
    [data-live] elements, from the same templates the page includes)."""
    return request.GET.get("fragment") == "live"


def check_reference(reference):
    """Only ids and valid references reach the engine; anything else is simply
    not an image here."""
    if is_image_id(reference):
        return
    try:
        parse_reference(reference)
    except InvalidReference as exc:
        raise ImageNotFound(reference, f"It is not a valid image reference: {exc}") from exc


def websocket_url(request, path):
    """The same host's websocket address for `path`, wss behind TLS."""
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}{path}"
