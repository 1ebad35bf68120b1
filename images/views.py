import json

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from images import history, inspect, listing
from images.engine import ImageNotFound, get_engine
from images.forms import ImageListForm
from images.refs import InvalidReference, is_image_id, parse_reference


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
    return render(request, "images/image_list.html", {
        "form": form,
        "page": page,
        "totals": listing.totals(images),
        "matching": len(rows),
        "query": query.urlencode(),
        "engine": engine,
    })


def image_detail(request, reference):
    _check_reference(reference)
    engine = get_engine()
    data = engine.inspect_image(reference)
    hex_id = data["Id"].split(":", 1)[-1]
    if reference != hex_id:
        # Tags and short ids move; the page for an image lives at its full id.
        return redirect("images-detail", reference=hex_id)
    layers = history.layers_from_history(engine.image_history(data["Id"]))
    containers = inspect.containers_of(data["Id"], engine.list_containers())
    return render(request, "images/image_detail.html", {
        "image": inspect.summarize(data),
        "layers": layers,
        "empty_layers": sum(1 for layer in layers if layer.empty),
        "containers": containers,
        "raw": json.dumps(data, indent=2, sort_keys=True),
    })


def _check_reference(reference):
    """Only ids and valid references reach the engine; anything else is simply
    not an image here."""
    if is_image_id(reference):
        return
    try:
        parse_reference(reference)
    except InvalidReference as exc:
        raise ImageNotFound(reference, f"It is not a valid image reference: {exc}") from exc
