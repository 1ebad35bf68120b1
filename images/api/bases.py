"""Base images: an image's base status, what it is built on and what is built
on it; rebuild dependents; the rebuild batches."""

from datetime import datetime

from django.http import Http404
from ninja import Router, Schema, Status
from pydantic import Field

from images.api.auth import allowed
from images.api.fields import FormOrJson, ImageId, full_image_id
from images.api.schemas import errors
from images.bases import automatic, batches, checks, dependents
from images.jobs import control
from images.models import RebuildBatch

router = Router(tags=["bases"])


class BaseUpdateOut(Schema):
    reference: str = Field(description="The base, as the Dockerfile names it.")
    old_digest: str = Field(description="The registry digest the build used; empty if it had none.")
    new_digest: str = Field(description="The digest the registry gives now; empty if only the engine's image moved.")
    old_image_id: str
    new_image_id: str = Field(description="The image the name gives on the engine now, if that moved.")
    noticed_at: datetime = Field(description="When the periodic check first saw the move.")


class BuiltOnOut(Schema):
    reference: str
    instruction: str = Field(description="FROM or COPY --from.")
    image_id: str
    repo_digest: str
    built_by_dockyard: bool = Field(description="Dockyard built it: the chain goes on below it.")


class DependentOut(Schema):
    image_id: str
    name: str = Field(description="Its first tag, or its short id.")
    level: int = Field(description="1 for an image built on this one, 2 for one built on those, …")
    built_on: list[str] = Field(description="The ids of the dependents listed here it is built on; empty: on "
                                            "this image itself.")
    recipe_job: int = Field(description="The build whose recipe a rebuild runs again.")


class BasesOut(Schema):
    rebuilds_by_itself: bool = Field(description="Its recipe is rebuilt by itself when its base moves.")
    base_updated: bool = Field(description="One of the image's bases has moved since it was built.")
    base_updates: list[BaseUpdateOut]
    built_on: list[BuiltOnOut] = Field(description="Its bases, then theirs where Dockyard built them.")
    dependents: list[DependentOut] = Field(description="Images Dockyard built on it, directly or through others, "
                                                       "in the order a rebuild runs them.")


@router.get("/images/{imageid:image_id}/bases", response={200: BasesOut, **errors(404)}, auth=allowed("browse"))
def image_bases(request, image_id: ImageId):
    """An image's bases and dependents.

    Whether its base has moved (the periodic check's marks: which base, old and new digest, when noticed), the chain
    it is built on, and the images Dockyard built on it. Database reads only.
    """
    image_id = full_image_id(request.engine, image_id)
    engine_name = request.engine_name
    recipes = dependents.current_recipes(engine_name)
    updates = checks.updates_of(engine_name, image_id)
    return {
        "rebuilds_by_itself": automatic.rebuilds_by_itself(control.recipe_for_image(image_id)),
        "base_updated": bool(updates),
        "base_updates": updates,
        "built_on": dependents.built_on(engine_name, image_id, recipes),
        "dependents": [{"image_id": dependent.recipe.image_id, "name": dependent.recipe.name,
                        "level": dependent.level, "built_on": dependent.needs,
                        "recipe_job": dependent.recipe.build_id}
                       for dependent in dependents.dependents_of(engine_name, image_id, recipes)],
    }


class RebuildByItselfFields(Schema):
    enabled: bool = Field(description="Rebuild the image's recipe by itself when its base moves.")


class RebuildByItselfOut(Schema):
    rebuilds_by_itself: bool
    recipe_job: int = Field(description="The build whose recipe holds the choice.")


@router.put("/images/{imageid:image_id}/rebuild-by-itself", response={200: RebuildByItselfOut, **errors(404, 409)},
            auth=allowed("build"))
def image_rebuild_by_itself(request, image_id: ImageId, fields: FormOrJson[RebuildByItselfFields]):
    """Set whether an image rebuilds by itself when its base moves.

    Off by default. When the periodic check finds that a base of the image's recipe has moved, a rebuild batch of
    the recipes so set starts by itself, as their owner. 409 when Dockyard did not build the image.
    """
    image_id = full_image_id(request.engine, image_id)
    recipe = automatic.set_rebuilds_by_itself(request.user, image_id, fields.enabled)
    return {"rebuilds_by_itself": automatic.rebuilds_by_itself(recipe), "recipe_job": recipe.pk}


class RebuildItemOut(Schema):
    position: int = Field(description="Its place in the order, from 1.")
    level: int
    name: str
    old_image_id: str = Field(description="The image the recipe made before.")
    needs: list[int] = Field(description="The positions of the items it is built on.")
    pull: bool = Field(description="Its rebuild pulls its base first (the base is a registry's).")
    state: str = Field(description="waiting, started (its job says how it goes), succeeded, failed or skipped.")
    job: int | None = Field(description="The rebuild's job, once started.")
    job_state: str | None
    image_id: str | None = Field(description="The image the rebuild made.")
    reason: str = Field(description="Why it failed or was skipped.")

    @staticmethod
    def resolve_job(item):
        return item.job_id

    @staticmethod
    def resolve_job_state(item):
        return item.job.state if item.job else None

    @staticmethod
    def resolve_image_id(item):
        return (item.job.image_id or None) if item.job else None


class BatchOut(Schema):
    id: int
    base_image_id: str
    base_name: str
    state: str = Field(description="running, succeeded, or failed (some item failed or was skipped).")
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    url: str = Field(description="The batch's page.")
    items: list[RebuildItemOut] = Field(description="In the order they run.")

    @staticmethod
    def resolve_created_by(batch):
        return batch.created_by.get_username() if batch.created_by else None

    @staticmethod
    def resolve_url(batch):
        return batch.get_absolute_url()

    @staticmethod
    def resolve_items(batch):
        return list(batch.items.select_related("job"))


class RebuildDependentsFields(Schema):
    name: str = Field("", max_length=600, description="What to call the base in the batch's title: a name the "
                      "builds on it recorded for it (another is replaced by the first of those).")


@router.post("/images/{imageid:image_id}/rebuild-dependents", response={201: BatchOut, **errors(404, 409, 429)},
             auth=allowed("build"))
def image_rebuild_dependents(request, image_id: ImageId, fields: FormOrJson[RebuildDependentsFields] = None):
    """Rebuild an image's dependents.

    Queues a batch: every image Dockyard built on this one (directly or through others) rebuilt from its recipe, each
    after what it is built on; those built on this image itself pull their base first when it came from a registry.
    A failure skips only what is built on it. 409 when nothing is built on the image.
    """
    name = fields.name if fields else ""
    return Status(201, batches.start_batch(request.user, request.engine_name,
                                           full_image_id(request.engine, image_id), name))


@router.get("/batches", response=list[BatchOut], auth=allowed("browse"))
def batch_list(request):
    """Rebuild batches.

    The engine's latest 100 rebuild batches, newest first, with their items.
    """
    return list(RebuildBatch.objects.filter(engine=request.engine_name).select_related("created_by")[:100])


@router.get("/batches/{int:pk}", response={200: BatchOut, **errors(404)}, auth=allowed("browse"))
def batch_detail(request, pk: int):
    """A rebuild batch.

    Its items in the order they run: each one's state, job, the image it made, and why it failed or was skipped.
    """
    batch = RebuildBatch.objects.filter(pk=pk, engine=request.engine_name).select_related("created_by").first()
    if batch is None:
        raise Http404("No such rebuild batch on this engine.")
    return batch
