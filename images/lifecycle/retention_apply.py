"""Applying retention rules: a job that removes what the dry run showed, each
image saved to the quarantine first.

The job's recipe is the dry run the person saw (rule ids, image ids, tags). The
worker plans again and removes only what both plans let go, so an image a
container began to use, or pinned, since the dry run stays, and nothing the
person did not see goes. Tags are removed one by one without force (the
engine refuses to delete an image a container uses), the image by its id last.
A cancel stops between images, or in the middle of a save.

On a schedule (DOCKYARD_RETENTION_SCHEDULE_HOURS, celery beat), the job is
started by Dockyard itself for the author of the newest rule who may still
apply rules, with the whole dry run of that moment as its recipe: it is checked,
run and audited as theirs, as if they had pressed Apply.
"""

import logging

from images.accounts import audit, roles
from images.engine import EngineError, StreamClosed
from images.jobs import control
from images.lifecycle import quarantine, retention
from images.lifecycle.tags import ActionRefused
from images.models import Job
from images.refs import short_id

log = logging.getLogger(__name__)


def start_apply(user, found, image_ids, tags, scheduled=False):
    """Queue a job removing what a dry run showed: of `found` (the dry run now, a
    RetentionPlan), the images `image_ids` and the tags `tags` (what the person
    saw). ActionRefused when none of it would go now."""
    image_ids = [image.image_id for image in found.images if image.image_id in set(image_ids)]
    tags = [going.tag for going in found.untagged if going.tag in set(tags)]
    if not image_ids and not tags:
        raise ActionRefused("Nothing to remove: none of what the dry run listed would go now.")
    params = {"rule_ids": found.rule_ids, "image_ids": image_ids, "tags": tags, "bytes_freed": found.bytes_freed}
    target = f"retention: {len(image_ids)} image(s), {len(tags)} tag(s) of images that stay"
    if scheduled:
        params["scheduled"] = True
        target = f"scheduled {target}"
    return control.enqueue_job(Job.Kind.RETENTION, target, params, user)


def start_scheduled(engine):
    """The schedule's run on `engine`: a job applying its whole dry run now, or
    None when nothing would go, no rule's author may apply rules any more, or
    that author already has as many jobs as one may (the next run tries again)."""
    rules = retention.rules_of(engine.name)
    author = next((rule.created_by for rule in reversed(rules)
                   if rule.created_by and roles.may(rule.created_by, "prune", engine.name)), None)
    if author is None:
        if rules:
            log.warning("Scheduled retention on %s skipped: no rule's author may apply rules any more.", engine.name)
        return None
    found = retention.plan(engine, rules)
    if found.empty:
        return None
    with audit.acting_by_itself():
        try:
            return start_apply(author, found, [image.image_id for image in found.images],
                               [going.tag for going in found.untagged], scheduled=True)
        except control.JobLimitReached as refused:
            log.warning("Scheduled retention on %s skipped: %s", engine.name, refused)
            return None


def run_apply(job, stream, output):
    """The job's runner: (state, image id, error)."""
    engine = stream.engine
    rules = retention.rules_of(engine.name, job.params["rule_ids"])
    now = retention.plan(engine, rules)
    planned_images, planned_tags = set(job.params["image_ids"]), set(job.params["tags"])
    images = [image for image in now.images if image.image_id in planned_images]
    tags = [going.tag for going in now.untagged if going.tag in planned_tags]
    for image_id in sorted(planned_images - {image.image_id for image in images}):
        output.write(f"kept {short_id(image_id)}: the rules no longer let it go (in use, pinned, a base, moved or "
                     "gone since the dry run)")
    output.write(f"removing {len(images)} image(s) and {len(tags)} tag(s) of images that stay")
    listed = {entry["Id"]: entry for entry in engine.list_images()}
    user, failed = job.created_by, []
    for tag in tags:
        _stop_if_cancelled(stream)
        try:
            with audit.recorded(user, "untag", tag, detail=f"retention job {job.pk}"):
                engine.remove_image(tag)
            output.write(f"untagged {tag}")
        except EngineError as exc:
            failed.append(tag)
            output.write(f"ERROR: {tag} stays: {exc}")
    removed = 0
    for image in images:
        _stop_if_cancelled(stream)
        entry = listed.get(image.image_id)
        if entry is None:
            output.write(f"{short_id(image.image_id)} is gone already")
            continue
        saved = quarantine.keep(stream, entry, job)
        kept = (f"saved to the quarantine ({saved.size} bytes)" if saved.state == saved.State.KEPT
                else f"not kept: {saved.reason}")
        try:
            for tag in image.tags[:-1]:
                with audit.recorded(user, "untag", tag, detail=f"retention job {job.pk}"):
                    engine.remove_image(tag)
            with audit.recorded(user, "remove", image.image_id,
                                detail=f"retention job {job.pk}, rules {image.rule_ids}: "
                                       f"{', '.join(image.tags)}; {kept}"):
                engine.remove_image(image.image_id)
            removed += 1
            output.write(f"removed {short_id(image.image_id)} ({', '.join(image.tags)}), {kept}")
        except EngineError as exc:
            failed.append(image.image_id)
            output.write(f"ERROR: {short_id(image.image_id)} stays: {exc}")
    output.write(f"done: {removed} image(s) removed, {len(tags) - sum(t in failed for t in tags)} tag(s) untagged; "
                 f"the dry run said {job.params.get('bytes_freed', 0)} bytes freed")
    if failed:
        return Job.State.FAILED, "", f"{len(failed)} removal(s) failed: see the log."
    return Job.State.SUCCEEDED, "", ""


def _stop_if_cancelled(stream):
    if stream.closed:
        raise StreamClosed("Cancelled by request.")
