"""Images: the list, one image, its provenance, rebuild, remove, prune, export and import."""

import json
from datetime import datetime
from json.encoder import encode_basestring_ascii

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import BaseModel, ConfigDict, Field

from images import engines
from images.accounts import roles
from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson, ImageId, full_image_id
from images.api.schemas import Job, StrList, errors
from images.builds import attestation, provenance
from images.builds.contexts import ContextError
from images.catalog import detail, lineage, listing
from images.catalog.forms import ImageListForm
from images.jobs import control
from images.lifecycle import exports, imports, pruning, removal
from images.lifecycle.forms import ImportForm
from images.lifecycle.tags import ActionRefused
from images.refs import is_image_id
from images.responses import StreamingResponse

router = Router(tags=["images"])


SEARCH_HELP = ("As images are written: part of [registry/]repository[:tag], an id with or without sha256:, "
               "a digest (sha256:… or repository@sha256:…).")


class ImageFilters(Schema):
    q: str = Field("", description=SEARCH_HELP)
    state: str = Field("", description="dangling, in-use, unused or base-updated; anything else: all.")
    sort: str = Field(listing.DEFAULT_SORT, description=f"One of {', '.join(listing.SORTS)}.")


# The list's models say what its JSON is, in the OpenAPI document; image_list_json
# writes it (ninja's validation of thousands of rows cost 6 times the listing).
class Totals(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    images: int
    tags: int
    dangling: int = Field(description="Images `docker images -f dangling=true` lists.")
    size: int | None = Field(description="Bytes the images' layers take on disk, each layer once however many "
                                         "images share it (`docker system df`); null if the engine would not say "
                                         "or it is being counted for the first time.")
    size_fresh: bool = Field(description="Whether `size` counts the images listed; if not, it is the last count, "
                                         "made at `size_counted_at`, and a new count is under way.")
    size_counted_at: datetime | None = Field(description="When `size` was counted (null if never).")


class ImageRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(validation_alias="image_id")
    repository: str
    tag: str
    created: datetime
    size: int
    containers: int = Field(description="Containers made from it, stopped ones included.")
    dangling: bool
    base_updated: bool = Field(description="Dockyard built it on a base that has moved since "
                                           "(GET /api/images/{id}/bases says which).")


class ImageList(BaseModel):
    totals: Totals
    images: list[ImageRow]


class Config(Schema):
    entrypoint: list[str]
    cmd: list[str]
    workdir: str
    user: str
    env: list[str]
    exposed_ports: list[str]
    volumes: list[str]
    labels: dict[str, str]


class HistoryLayer(Schema):
    id: str = Field(description="<missing> for layers built elsewhere.")
    created: datetime | None
    instruction: str = Field(description="The Dockerfile line that made the layer, cleaned.")
    build_args: str
    created_by: str = Field(description="The engine's own record of it.")
    size: int
    empty: bool | None = Field(description="The image config's `empty_layer`: the step made no layer. "
                                            "Null when the config could not be read.")
    diff_id: str = Field(description="The layer the step made (the config's rootfs); empty when it made none.")
    comment: str

    @staticmethod
    def resolve_instruction(layer):
        return str(layer.instruction)

    @staticmethod
    def resolve_build_args(layer):
        return layer.instruction.build_args


class Image(Schema):
    id: str
    tags: list[str]
    digests: list[str]
    created: datetime | None
    size: int
    platform: str
    config: Config
    history: list[HistoryLayer] = Field(description="Newest step first.")


class RemoveFields(Schema):
    images: StrList = Field(min_length=1, max_length=removal.MOST_AT_ONCE, description="Image ids.")
    force: bool = Field(False, description="Remove images that containers use too.")


class Removed(Schema):
    removed: list[str] = Field(description="The ids removed.")
    refused: list[str] = Field(description="Why each other image stayed, a sentence each.")


class PruneFields(Schema):
    all: bool = Field(False, description="Every image no container uses, not only dangling ones.")
    label: str = Field("", description="Only images with this label: key or key=value.")


class Pruned(Schema):
    deleted: int = Field(description="Images deleted.")
    reclaimed: int = Field(description="Bytes reclaimed.")


@router.get("/images", response={200: ImageList, **errors(400, 503)}, auth=allowed("browse"))
def images_list(request, filters: Query[ImageFilters]):
    """The image list.

    One row per repository:tag and per dangling image, filtered and sorted as on the image list, with totals.
    """
    options = ImageListForm(filters.dict()).options()
    found = listing.list_images(request.engine, options["q"], options["state"], options["sort"])
    return HttpResponse(image_list_json(found), content_type="application/json; charset=utf-8")


def image_list_json(found):
    """The list's JSON as ImageList describes it and json.dumps writes it
    (tests/test_api.py reads it back through ImageList), written straight from
    the rows: ninja's validation of each row and its encoder's call per time
    took 6 times the listing itself at 10,000 tags. The rows of one image share
    all but their repository and tag, so what they share is written once."""
    shared = {}  # (image id, dangling, base updated): the row's JSON before its repository, and after its tag
    parts = []
    for row in found.rows:
        around = shared.get((row.image_id, row.dangling, row.base_updated))
        if around is None:
            around = shared[row.image_id, row.dangling, row.base_updated] = (
                f'{{"id": {_string(row.image_id)}, "repository": ',
                f', "created": {_string(_ENCODER.default(row.created))}, "size": {int(row.size)}, '
                f'"containers": {int(row.containers)}, "dangling": {_boolean(row.dangling)}, '
                f'"base_updated": {_boolean(row.base_updated)}}}')
        parts.append(f'{around[0]}{_string(row.repository)}, "tag": {_string(row.tag)}{around[1]}')
    totals = json.dumps({"images": found.totals.images, "tags": found.totals.tags,
                         "dangling": found.totals.dangling, "size": found.totals.size,
                         "size_fresh": found.totals.size_fresh,
                         "size_counted_at": found.totals.size_counted_at}, default=_ENCODER.default)
    return f'{{"totals": {totals}, "images": [{", ".join(parts)}]}}'


_ENCODER = DjangoJSONEncoder()  # ninja's own, for its spelling of a time ("2026-12-07T14:54:18Z")
_string = encode_basestring_ascii  # json.dumps's own, in C


def _boolean(value):
    return "true" if value else "false"


class SearchQuery(Schema):
    q: str = Field(..., min_length=1, max_length=200, description=SEARCH_HELP)


class SearchRow(BaseModel):
    id: str
    repository: str
    tag: str
    dangling: bool
    url: str = Field(description="The image's page, on its engine.")


class EngineMatches(BaseModel):
    engine: str
    matching: int = Field(description="Rows matching; at most 100 are listed.")
    error: str = Field(description="Why the engine gave no answer, or empty.")
    images: list[SearchRow]


@router.get("/search", response={200: list[EngineMatches], **errors(400)}, auth=allowed("browse"))
def images_search(request, query: Query[SearchQuery]):
    """Search every engine.

    The images matching `q` as on the image list, on each engine the caller may browse, engine by engine.
    """
    names = roles.engines_where(request.user, "browse")
    found = listing.search_engines(names, query.q)
    return [{"engine": matches.engine, "matching": matches.matching, "error": matches.error,
             "images": [{"id": row.image_id, "repository": row.repository, "tag": row.tag, "dangling": row.dangling,
                         "url": engines.reverse_on(matches.engine, "images-detail", [row.hex_id])}
                        for row in matches.rows]}
            for matches in found]


@router.post("/images/{imageid:image_id}/rebuild", response={201: Job, **errors(409, 429)},
             auth=allowed("build"))
def image_rebuild(request, image_id: ImageId):
    """Rebuild an image.

    Runs the recipe of the Dockyard build that made the image again; answers 201 with the build job.
    """
    return Status(201, control.rebuild_image(full_image_id(request.engine, image_id), request.user))


@router.get("/images/{imageid:image_id}/export", response=errors(404), auth=allowed("export"),
            openapi_extra={"responses": {200: {"description": "The image's `docker save` tar, streamed.",
                                               "content": {"application/x-tar": {}}}}})
def image_export(request, image_id: ImageId):
    """Export an image.

    A `docker save` tar of the image with all its tags, streamed.
    """
    export = exports.export_image(request.engine, image_id)
    response = StreamingResponse(export.chunks, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@router.get("/images/{imageid:image_id}/provenance", response=errors(404), auth=allowed("browse"),
            openapi_extra={"responses": {200: {
                "description": "An in-toto Statement (v1) whose predicate is SLSA v1 provenance "
                               "(buildDefinition, runDetails), sent as a file to keep.",
                "content": {attestation.MEDIA_TYPE: {"schema": {"type": "object"}}}}}})
def image_provenance(request, image_id: ImageId):
    """An image's provenance.

    What the Dockyard build of this image was made from: its source, the Dockerfile's digest, build args
    (secrets by id only), target, builder, and each base image's id and repo digest when the build started.
    404 for an image Dockyard did not build.
    """
    record = provenance.of_image(full_image_id(request.engine, image_id))
    if record is None:
        raise Http404("Dockyard recorded no build of this image on this engine.")
    response = HttpResponse(attestation.as_json(record), content_type=attestation.MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{attestation.filename(record)}"'
    return response


class InferredParentOut(Schema):
    image_id: str
    tags: list[str]
    shared_layers: int = Field(description="Its layers, all of them the first of this image's.")
    layers: int = Field(description="This image's layers.")


class ParentOut(Schema):
    parent: InferredParentOut | None = Field(description="Null when no local image's layers are a prefix of its own.")
    candidates: int = Field(description="Local images that could be below it (no bigger than it).")
    unchecked: int = Field(description="Candidates whose layers were not read yet; asking again reads more.")


@router.get("/images/{imageid:image_id}/parent", response={200: ParentOut, **errors(404)}, auth=allowed("browse"))
def image_parent(request, image_id: ImageId):
    """An image's inferred parent.

    For an image Dockyard did not build: the local image whose layers are the longest prefix of its own. Reads the
    whole image list, and inspects images whose layers it has not seen yet (at most 100 a call).
    """
    detail.check_reference(image_id)
    return lineage.parent_of(request.engine, image_id)


@router.post("/remove", response={200: Removed, **errors(400, 404)}, auth=allowed("remove"))
def image_remove(request, fields: FormOrJson[RemoveFields]):
    """Remove images.

    One or several, with all their tags; an image that containers use only with `force`.
    """
    plans = removal.plan_image_removals(request.engine, fields.images)
    removed, refused = removal.remove_images(request.engine, plans, request.user, force=fields.force)
    return {"removed": removed, "refused": refused}


class PrunePreview(Schema):
    images: list[str] = Field(description="The ids of the images a prune with these filters removes.")
    bytes_freed: int = Field(description="The bytes it frees: their layers no kept image holds, each once.")


@router.get("/prune", response={200: PrunePreview, **errors(400)}, auth=allowed("prune"))
def prune_preview(request, fields: Query[PruneFields]):
    """What a prune would do.

    The images `POST /api/prune` with the same `all` and `label` removes, and the bytes that frees.
    """
    try:
        plan = pruning.plan_prune(request.engine, all_unused=fields.all, label=fields.label)
    except ActionRefused as refused:
        return answer(400, f"Nothing to preview: {refused}")
    return {"images": [row.image_id for row in plan.images], "bytes_freed": plan.bytes_freed}


@router.post("/prune", response={200: Pruned, **errors(400)}, auth=allowed("prune"))
def prune(request, fields: FormOrJson[PruneFields]):
    """Prune images.

    Dangling images, or every unused one, optionally only those with a label; answers with the bytes reclaimed.
    """
    try:
        deleted, reclaimed = pruning.prune(request.engine, request.user, all_unused=fields.all, label=fields.label)
    except ActionRefused as refused:
        return answer(400, f"Nothing pruned: {refused}")
    return {"deleted": deleted, "reclaimed": reclaimed}


@router.post("/import", response={201: Job, **errors(400, 429)}, auth=allowed("build"))
def image_import(request, archive: File[UploadedFile]):
    """Import an image archive.

    Multipart: `archive`, the .tar that docker save (or an export) wrote. Answers 201 with the import job.
    """
    form = ImportForm({}, {"archive": archive})
    if not form.is_valid():
        return form_errors("Nothing imported.", form)
    try:
        return Status(201, imports.import_archive(request.user, form.cleaned_data["archive"]))
    except ContextError as exc:
        form.add_error("archive", str(exc))
        return form_errors("Nothing imported.", form)


# Last: a reference has slashes, and would take the routes above for its own.
@router.get("/images/{path:reference}", response={200: Image, **errors(404, 503)}, auth=allowed("browse"))
def image_detail(request, reference: str):
    """One image.

    By id, short id or reference: its tags, digests, configuration and layer history.
    """
    image = detail.image_detail(request.engine, reference)
    summary = image.summary
    return {**summary.__dict__, "platform": summary.platform, "config": summary.__dict__, "history": image.layers}


class RemovedImage(Schema):
    removed: str = Field(description="The image's id.")
    tags: list[str] = Field(description="The tags that went with it.")


# On the path of image_detail: one path, one list of the methods it takes.
@router.delete("/images/{path:reference}", response={200: RemovedImage, **errors(400, 404, 409)},
               auth=allowed("remove"))
def image_delete(request, reference: str, force: Query[bool] = False):
    """Remove one image.

    By its id (sha256:…, 64 or a short 12 hex digits), with all its tags; an image that containers use only with
    `force=true`. To remove one tag, POST /api/images/{id}/untag.
    """
    if not is_image_id(reference):
        return answer(400, f"DELETE takes an image's id, not a reference: to remove the tag {reference}, "
                           f"POST /api/images/<id>/untag; GET /api/images/{reference} gives the id.")
    [plan] = removal.plan_image_removals(request.engine, [reference])
    _, refused = removal.remove_images(request.engine, [plan], request.user, force=force)
    if refused:
        return answer(409, f"Not removed: {refused[0]}")
    return {"removed": plan.image_id, "tags": plan.tags}
