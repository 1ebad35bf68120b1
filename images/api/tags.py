"""Tags: add, move, remove, push; a tag's history and its rollback."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson, ImageId
from images.api.schemas import Error, Job, errors
from images.builds.fetches import FetchRefused
from images.catalog import detail
from images.jobs import control
from images.lifecycle import tags
from images.lifecycle.forms import TagForm
from images.models import TagMove
from images.refs import InvalidReference

router = Router(tags=["tags"])


class TagFields(Schema):
    repository: str = Field(description="The repository, or repository:tag with `tag` left empty.")
    tag: str = Field("", description="latest when empty (and the repository names none).")
    move: bool = Field(False, description="Move the tag here if it points at another image.")


class Tagged(Schema):
    tag: str = Field(description="As the engine spells it (docker.io/library/app:1 is app:1).")
    image_id: str
    moved_from: str | None = Field(description="The image the tag left, if it moved.")


class TagTaken(Error):
    holder: str = Field(description="The image the tag points at now: send move=true to move it.")


class UntagFields(Schema):
    tag: str


class Untagged(Schema):
    tag: str
    image_id: str
    other_tags: list[str]
    image_deleted: bool = Field(description="It was the image's last tag: the image is gone too.")


class TagMoveOut(Schema):
    id: int
    tag: str
    image_id: str
    previous_image_id: str = Field(description="Empty when Dockyard saw no earlier image.")
    at: datetime
    action: str = Field(description="The engine event (tag, pull, load), or rollback.")
    by: str | None = Field(description="Who, when the move was made in Dockyard.")

    @staticmethod
    def resolve_by(move):
        return move.by.get_username() if move.by else None


class RolledBack(Schema):
    tag: str
    image_id: str = Field(description="The image the tag points at again.")


class PushFields(Schema):
    tag: str = Field(description="A tag of the image, naming the registry to push to.")
    confirm_registry: bool = Field(False, description="Push a tag that names no registry host ('app:1'), "
                                                      "which goes to Docker Hub (docker.io/library/app:1). "
                                                      "A tag that names its registry needs no confirmation.")


@router.post("/images/{imageid:image_id}/tags", response={201: Tagged, 409: TagTaken, **errors(400, 404)},
             auth=allowed("tag"))
def tag_add(request, image_id: ImageId, fields: FormOrJson[TagFields]):
    """Tag an image.

    A tag that points at another image answers 409 naming it, unless `move` is true.
    """
    image_id = detail.image_summary(request.engine, image_id).id
    form = TagForm(fields.dict())
    if not form.is_valid():
        return form_errors("Not tagged.", form)
    try:
        repo_tag = tags.normalize_tag(form.cleaned_data["repository"], form.cleaned_data["tag"])
    except tags.ActionRefused as refused:
        return answer(400, f"Not tagged: {refused}")
    try:
        previous = tags.add_tag(request.engine, image_id, repo_tag, request.user,
                                allow_move=form.cleaned_data["move"])
    except tags.TagTaken as taken:
        return answer(409, f"{taken.repo_tag} points at another image ({taken.holder[7:19]}); send move=true to "
                           "move it here.", holder=taken.holder)
    return Status(201, {"tag": repo_tag, "image_id": image_id, "moved_from": previous})


@router.post("/images/{imageid:image_id}/untag", response={200: Untagged, **errors(404, 409)}, auth=allowed("tag"))
def tag_remove(request, image_id: ImageId, fields: FormOrJson[UntagFields]):
    """Remove a tag from an image.

    The image's last tag deletes the image, which needs the admin role; a last tag of an image that
    containers use stays (409).
    """
    plan = tags.remove_tag(request.engine, image_id, fields.tag, request.user)
    return {"tag": plan.repo_tag, "image_id": plan.image_id, "other_tags": plan.other_tags,
            "image_deleted": plan.deletes_image}


@router.get("/images/{imageid:image_id}/tag-moves", response={200: list[TagMoveOut], **errors(404)},
            auth=allowed("browse"))
def tag_history(request, image_id: ImageId):
    """The history of an image's tags.

    Every time one of the image's tags came to point at another image, newest first (the last 50).
    """
    return tags.tag_moves(request.engine, detail.image_summary(request.engine, image_id).tags)


@router.post("/tag-moves/{int:move_pk}/rollback", response={200: RolledBack, **errors(404, 409)},
             auth=allowed("tag"))
def tag_rollback(request, move_pk: int):
    """Roll a tag back.

    Point the tag of a move at the image it pointed at before.
    """
    move = get_object_or_404(TagMove, pk=move_pk, engine=request.engine_name)
    tags.rollback(request.engine, move, request.user)
    return {"tag": move.tag, "image_id": move.previous_image_id}


@router.post("/images/{imageid:image_id}/push", response={201: Job, **errors(400, 429)}, auth=allowed("push"))
def tag_push(request, image_id: ImageId, fields: FormOrJson[PushFields]):
    """Push a tag to its registry.

    Answers 201 with the push job. A tag that names no registry host goes to Docker Hub: it needs
    confirm_registry=true (or the full reference), else 400.
    """
    try:
        return Status(201, control.start_checked_push(request.user, fields.tag,
                                                      registry_confirmed=fields.confirm_registry))
    except control.RegistryNotConfirmed as unconfirmed:
        return answer(400, f"Not pushed: {unconfirmed} Send confirm_registry=true to push there, or the full "
                           f"reference ({unconfirmed.full_name}).")
    except (InvalidReference, FetchRefused) as refused:
        return answer(400, f"Not pushed: {refused}")
