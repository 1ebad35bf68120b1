"""Rebuild dependents: every current recipe built on a base, directly or
through others, rebuilt from its recipe in topological order. An item starts
once every item it is built on has succeeded, and is skipped, with the reason,
once one of them has not. Items built on the base itself pull it first when it
came from a registry; the others use what the batch has just built.

A batch moves on when one of its jobs ends (the worker calls `job_ended`) and
on the scheduler's sweep (`advance_open`), which also sees jobs cancelled
before they ran or found interrupted. Starting an item is a build job like
any other, as the batch's owner: their role and job limit hold; an item the
limit holds back waits for the next job to end.
"""

from django.db import transaction
from django.utils import timezone

from images.accounts import audit, roles
from images.bases import dependents, events
from images.builds.contexts import ContextError
from images.jobs import control
from images.models import Job, RebuildBatch, RebuildItem


class NothingToRebuild(Exception):
    """No current recipe is built on this image."""


def start_batch(user, engine_name, base_image_id, base_name="", only=None):
    """Queue a batch rebuilding the dependents of `base_image_id` (those whose
    image ids are in `only`, when given: the recipes that rebuild by
    themselves); its first level starts at once. Return the RebuildBatch."""
    roles.check(user, "build", action="rebuild-dependents", target=base_image_id, engine=engine_name)
    found = dependents.dependents_of(engine_name, base_image_id)
    if only is not None:
        # What is left out is not rebuilt, so it holds nothing back.
        found = [dependents.Dependent(recipe=dependent.recipe, level=dependent.level,
                                      needs=[image_id for image_id in dependent.needs if image_id in only])
                 for dependent in found if dependent.recipe.image_id in only]
    if not found:
        raise NothingToRebuild("No image Dockyard built is built on this one, so there is nothing to rebuild.")
    base_name = _base_name(found, base_image_id, base_name)
    position_of = {dependent.recipe.image_id: position for position, dependent in enumerate(found, start=1)}
    with transaction.atomic():
        batch = RebuildBatch.objects.create(engine=engine_name, base_image_id=base_image_id,
                                            base_name=base_name[:600], created_by=user)
        RebuildItem.objects.bulk_create([
            RebuildItem(batch=batch, position=position_of[dependent.recipe.image_id], level=dependent.level,
                        name=dependent.recipe.name[:600], recipe_id=dependent.recipe.build_id,
                        old_image_id=dependent.recipe.image_id,
                        needs=[position_of[image_id] for image_id in dependent.needs],
                        pull=dependent.level == 1 and _base_from_registry(dependent.recipe, base_image_id))
            for dependent in found])
        audit.record(user, "rebuild-dependents", batch.base_name or base_image_id, audit.OK,
                     detail=f"batch {batch.pk}: {', '.join(dependent.recipe.name for dependent in found)}")
    advance(batch.pk)
    batch.refresh_from_db()
    return batch


def _base_name(found, base_image_id, wanted):
    """What the batch's title and audit entry call the base: the name asked for when the builds on it
    recorded that name for it, else the first name they recorded. The caller's words alone would let a
    batch (and its audit entry) name an image it did not rebuild."""
    recorded = sorted({base["reference"] for dependent in found if dependent.level == 1
                       for base in dependent.recipe.bases if base.get("image_id") == base_image_id})
    return wanted if wanted in recorded else (recorded[0] if recorded else "")


def _base_from_registry(recipe, base_image_id):
    """Whether the build found this base with a registry digest: then the
    rebuild pulls the base's new version."""
    return any(base.get("repo_digest") for base in recipe.bases if base.get("image_id") == base_image_id)


def advance(batch_pk):
    """Bring a batch up to date with its jobs: note the ended ones, skip what
    a failure stops, start what is ready, and end the batch when all are done."""
    finished = None
    with transaction.atomic():
        # One advance at a time per batch: two jobs ending at once must not start an item twice.
        batch = RebuildBatch.objects.select_for_update().filter(pk=batch_pk, state=RebuildBatch.State.RUNNING).first()
        if batch is None:
            return
        items = list(batch.items.select_related("job", "recipe"))
        by_position = {item.position: item for item in items}
        for item in items:
            if item.state == RebuildItem.State.STARTED and item.job and item.job.is_final:
                _note_ended(item)
        for item in items:
            if item.state != RebuildItem.State.WAITING:
                continue
            needed = [by_position[position] for position in item.needs]
            stopped = next((need for need in needed if need.state in (RebuildItem.State.FAILED,
                                                                      RebuildItem.State.SKIPPED)), None)
            if stopped is not None:
                item.state = RebuildItem.State.SKIPPED
                item.reason = (f"Skipped: it is built on {stopped.name}, whose rebuild "
                               f"{'failed' if stopped.state == RebuildItem.State.FAILED else 'was skipped'}.")
                item.save(update_fields=["state", "reason"])
            elif all(need.state == RebuildItem.State.SUCCEEDED for need in needed):
                if not _start(batch, item):
                    break  # the owner's job limit: the next job to end starts it
        if all(item.state in RebuildItem.FINAL_STATES for item in items):
            failed = any(item.state != RebuildItem.State.SUCCEEDED for item in items)
            batch.state = RebuildBatch.State.FAILED if failed else RebuildBatch.State.SUCCEEDED
            batch.finished_at = timezone.now()
            batch.save(update_fields=["state", "finished_at"])
            finished = (batch, items)
    if finished:
        _announce_finished(*finished)


def _note_ended(item):
    job = item.job
    if job.state == Job.State.SUCCEEDED:
        item.state, item.reason = RebuildItem.State.SUCCEEDED, ""
    else:
        item.state = RebuildItem.State.FAILED
        item.reason = f"Its build (job {job.pk}) {job.state}: {job.error or 'no reason given'}"[:2000]
    item.save(update_fields=["state", "reason"])


def _start(batch, item):
    """Start an item's build; False when the owner's job limit holds it back."""
    recipe = item.recipe
    params = dict(recipe.params)
    params["pull"] = bool(params.get("pull")) or item.pull
    try:
        if batch.created_by is None:
            raise ContextError("the account that started the batch is gone")
        control.check_recipe(recipe)
        job = control.start_build(batch.created_by, params, retry_of=recipe, action="rebuild")
    except control.JobLimitReached:
        return False
    except (ContextError, roles.Refused) as exc:
        item.state, item.reason = RebuildItem.State.FAILED, f"Not started: {exc}"
        item.save(update_fields=["state", "reason"])
        return True
    item.job, item.state = job, RebuildItem.State.STARTED
    item.save(update_fields=["job", "state"])
    return True


def job_ended(job):
    """A worker's call after any job ends: move on the batches it belongs to,
    and the owner's other open batches (a job slot is free now)."""
    if job.kind != Job.Kind.BUILD or job.created_by_id is None:
        return
    for pk in RebuildBatch.objects.filter(created_by_id=job.created_by_id, engine=job.engine,
                                          state=RebuildBatch.State.RUNNING).values_list("pk", flat=True):
        advance(pk)


def advance_open():
    """The sweep: every open batch."""
    for pk in RebuildBatch.objects.filter(state=RebuildBatch.State.RUNNING).values_list("pk", flat=True):
        advance(pk)


def _announce_finished(batch, items):
    events.announce(events.BATCH_FINISHED, {
        "engine": batch.engine, "batch": batch.pk, "url": batch.get_absolute_url(), "base": batch.base_name,
        "state": batch.state,
        "items": [{"name": item.name, "state": item.state, "job": item.job_id,
                   "image_id": item.job.image_id if item.job else "", "reason": item.reason} for item in items],
    })
