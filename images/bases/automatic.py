"""Recipes that rebuild by themselves when their base moves (off by default).

The choice is kept in the recipe's own params (`rebuild_when_base_moves`), so a
rebuild or a retry, which copy the params, keeps it. Builders set it on the
image's page or through the API (`set_rebuilds_by_itself`); the periodic check
calls `rebuild_moved` with the marks it has just made for bases that moved.
Each batch starts as the recipe's owner (their role and job limit hold) and is
audited as Dockyard's own doing.
"""

import logging

from images.accounts import audit, roles
from images.bases import batches
from images.jobs import access, control
from images.models import Job, RebuildBatch, RebuildItem

log = logging.getLogger(__name__)

FLAG = "rebuild_when_base_moves"


def rebuilds_by_itself(recipe):
    return bool(recipe and recipe.params.get(FLAG))


def set_rebuilds_by_itself(user, image_id, enabled):
    """Turn the choice on or off for the recipe that made `image_id`; return the recipe (a Job)."""
    recipe = control.recipe_for_image(image_id)
    if recipe is None:
        raise control.NoRecipe("Dockyard did not build this image, so it has no recipe to rebuild by itself.")
    roles.check(user, "build", action="rebuild-by-itself", target=recipe.target, engine=recipe.engine)
    # The recipe belongs to whoever built it: as retrying, one's own, or anyone's with cancel_any_job.
    access.check(user, recipe, "retry")
    enabled = bool(enabled)
    if rebuilds_by_itself(recipe) != enabled:
        recipe.params = {**recipe.params, FLAG: enabled}
        recipe.save(update_fields=["params"])
    audit.record(user, "rebuild-by-itself", recipe.target, audit.OK,
                 detail=f"{'on' if enabled else 'off'} for the recipe of build {recipe.pk}")
    return recipe


def rebuild_moved(engine_name, marks):
    """Start, for the marks of a base that has just moved, a batch per old base
    image and owner holding the recipes that rebuild by themselves (and only
    those). Return the batches started."""
    # A recipe a running batch holds is being rebuilt already: its pull of the new base is what moved the tag.
    running = set(RebuildItem.objects.filter(batch__state=RebuildBatch.State.RUNNING,
                                             recipe_id__in={mark.build_id for mark in marks})
                  .values_list("recipe_id", flat=True))
    owner_of = {job.pk: job.created_by for job in Job.objects.filter(
        pk__in={mark.build_id for mark in marks} - running, created_by__isnull=False).select_related("created_by")
        if rebuilds_by_itself(job)}
    groups = {}
    for mark in marks:
        owner = owner_of.get(mark.build_id)
        if owner is not None and mark.old_image_id:
            groups.setdefault((mark.old_image_id, mark.reference, owner.pk), (owner, set()))[1].add(mark.image_id)
    started = []
    for (base_image_id, reference, _), (owner, image_ids) in groups.items():
        try:
            with audit.acting_by_itself():
                started.append(batches.start_batch(owner, engine_name, base_image_id, reference, only=image_ids))
        except (batches.NothingToRebuild, roles.Refused, control.JobLimitReached) as exc:
            log.warning("Not rebuilding what is built on %s by itself: %s", reference, exc)
    return started
