"""The image list and an image's page, and Rebuild from its recipe."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images import engines
from images.accounts import roles
from images.accounts.roles import requires
from images.bases import automatic, checks, dependents
from images.builds import attestation, contexts, provenance
from images.catalog import detail, lineage, listing
from images.files import explorer
from images.catalog.forms import ImageListForm
from images.jobs import control
from images.lifecycle import pins, tags
from images.views.pages import page_of, websocket_url


@requires("browse")
def image_list(request):
    form = ImageListForm(request.GET)
    options = form.options()
    found = listing.list_images(request.engine, options["q"], options["state"], options["sort"])
    page, query = page_of(request, found.rows, settings.DOCKYARD_IMAGES_PER_PAGE)
    template = "images/_image_list_live.html" if _live_fragment(request) else "images/image_list.html"
    return render(request, template, {
        "form": form,
        "page": page,
        "totals": found.totals,
        "matching": len(found.rows),
        "query": query,
        "engine_address": found.engine_address,
        "live_ws_url": websocket_url(request, f"/ws/{engines.url_prefix(request.engine_name)}images/"),
    })


@requires("browse")
def image_detail(request, reference):
    if _live_fragment(request):
        return _image_live_parts(request, reference)
    image = detail.image_detail(request.engine, reference)
    if reference != image.hex_id:
        # Tags and short ids move; the page for an image lives at its full id.
        return redirect("images-detail", reference=image.hex_id)
    recipe = control.recipe_for_image(image.summary.id)
    record = provenance.of_image(image.summary.id)
    files = explorer.status(image.summary.id)
    recipes = dependents.current_recipes(request.engine_name)
    found = dependents.dependents_of(request.engine_name, image.summary.id, recipes)
    return render(request, "images/image_detail.html", {
        "files": files,
        "file_layers": explorer.layers(files.index) if files.index else [],
        "waste": explorer.waste(files.index) if files.index else None,
        "image": image.summary,
        "layers": image.layers,
        "empty_layers": image.empty_layers,
        "layer_count": image.layer_count,
        "containers": image.containers,
        "raw": image.raw,
        "recipe": recipe,
        "provenance": record,
        "recipe_missing": contexts.missing_archive(recipe.params) if recipe else None,
        "image_hex": image.hex_id,
        "live_ws_url": websocket_url(request, f"/ws/{engines.url_prefix(request.engine_name)}images/"),
        "moves": tags.tag_moves(request.engine, image.summary.tags),
        "pinned": pins.is_pinned(request.engine_name, image.summary.id),
        "rebuilds_by_itself": automatic.rebuilds_by_itself(recipe),
        "base_updates": checks.updates_of(request.engine_name, image.summary.id),
        "built_on": dependents.built_on(request.engine_name, image.summary.id, recipes),
        "dependents": found,
        "dependents_drawing": dependents.layout(image.summary.tags[0] if image.summary.tags else image.summary.id[7:19],
                                                image.summary.id, found) if found else None,
    })


def _live_fragment(request):
    """live.js asks for only the parts of a page that follow the engine (its
    [data-live] elements, from the same templates the page includes)."""
    return request.GET.get("fragment") == "live"


def _image_live_parts(request, reference):
    """An image page's tags, tag history and containers: no layer history."""
    image = detail.image_live_parts(request.engine, reference)
    return render(request, "images/_image_detail_live.html", {
        "image": image.summary,
        "image_hex": image.hex_id,
        "containers": image.containers,
        "moves": tags.tag_moves(request.engine, image.summary.tags),
    })


@require_POST
@requires("build")
def image_rebuild(request, image_hex):
    """Run the recipe of the build that made this image again, as a new job."""
    try:
        return redirect(control.rebuild_image(f"sha256:{image_hex}", request.user))
    except (control.NoRecipe, control.JobLimitReached, contexts.ContextError) as exc:
        messages.error(request, str(exc))
        return redirect("images-detail", reference=image_hex)


@requires("browse")
def image_parent(request, image_hex):
    """The parent of an image Dockyard did not build, inferred from the layer chain. Its own page,
    not the image page's: it reads the whole image list and may inspect many images."""
    image = detail.image_summary(request.engine, image_hex)
    found = lineage.parent_of(request.engine, image.id)
    return render(request, "images/image_parent.html", {"image": image, "image_hex": image_hex, "lineage": found})


@requires("browse")
def image_provenance(request, image_hex):
    """The provenance of a Dockyard build of this image, as an in-toto statement to keep."""
    record = provenance.of_image(f"sha256:{image_hex}")
    if record is None:
        raise Http404("Dockyard recorded no build of this image on this engine.")
    response = HttpResponse(attestation.as_json(record), content_type=attestation.MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{attestation.filename(record)}"'
    return response


@requires("browse")
def image_search(request):
    """An image by name or id on every engine the user may browse."""
    names = roles.engines_where(request.user, "browse")
    if not names:
        roles.check(request.user, "browse", target=request.path)
    query = request.GET.get("q", "")[:200]
    found = listing.search_engines(names, query)
    return render(request, "images/image_search.html", {
        "query": query,
        "results": [{"engine": matches.engine, "matching": matches.matching, "error": matches.error,
                     "rows": [(row, engines.reverse_on(matches.engine, "images-detail", [row.hex_id]))
                              for row in matches.rows]}
                    for matches in found],
    })
