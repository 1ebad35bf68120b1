"""Tags, removal and pruning: the changes a user makes to the images on a host.

Each function checks what the engine holds first, so that the confirmation a
user sees says exactly what will go, and refuses what would surprise them.
"""

import re
from dataclasses import dataclass

from images import audit, inspect
from images.engine import EngineError, ImageNotFound
from images.models import TagMove
from images.refs import InvalidReference, parse_reference, split_repo_tag


class ActionRefused(Exception):
    """A change that was not made, with the sentence that says why."""


class TagTaken(ActionRefused):
    def __init__(self, repo_tag, holder):
        self.repo_tag = repo_tag
        self.holder = holder
        super().__init__(f"{repo_tag} points at another image ({holder[7:19]}); confirm to move it here.")


def normalize_tag(repository, tag):
    """'repo' + 'tag' as one validated 'repo:tag' (tag defaults to latest)."""
    reference = f"{repository.strip()}:{(tag or 'latest').strip()}"
    try:
        _, _, digest = parse_reference(reference)
    except InvalidReference as exc:
        raise ActionRefused(str(exc)) from exc
    if digest:
        raise ActionRefused("A tag cannot carry a digest.")
    return reference


def tag_holder(engine, repo_tag):
    """The id of the image a tag points at now, or None."""
    try:
        return engine.inspect_image(repo_tag)["Id"]
    except ImageNotFound:
        return None


def add_tag(engine, image_id, repo_tag, user=None, allow_move=False):
    """Point `repo_tag` at the image. A tag that points at another image moves
    only with allow_move; otherwise ActionRefused names the current holder."""
    holder = tag_holder(engine, repo_tag)
    if holder == image_id:
        raise ActionRefused(f"{repo_tag} already points at this image.")
    if holder and not allow_move:
        raise TagTaken(repo_tag, holder)
    with audit.recorded(user, "tag", repo_tag, detail=f"to {image_id[7:19]}" + (
            f", moved from {holder[7:19]}" if holder else "")):
        _tag_recorded(engine, image_id, repo_tag, "tag" if not holder else "move", user)
    return holder


def _tag_recorded(engine, image_id, repo_tag, action, user):
    """Tag, with the move recorded first: the event listener sees the engine's tag
    event too, and must find the move already there with who made it, not
    record it first as a move from a terminal."""
    move = TagMove.record(repo_tag, image_id, action, by=user)
    try:
        engine.tag_image(image_id, *split_repo_tag(repo_tag))
    except Exception:
        if move is not None:
            move.delete()
        raise
    return move


@dataclass
class TagRemoval:
    repo_tag: str
    image_id: str
    other_tags: list
    containers: list
    size: int

    @property
    def deletes_image(self):
        return not self.other_tags and not self.containers

    @property
    def allowed(self):
        return bool(self.other_tags) or not self.containers

    def describe(self):
        if self.other_tags:
            return (f"Removes the tag {self.repo_tag}. The image stays: it is still tagged "
                    f"{', '.join(self.other_tags)}.")
        if self.containers:
            return (f"{self.repo_tag} is the image's last tag and {len(self.containers)} container(s) use "
                    "the image, so the engine keeps both: remove the containers first, or remove the "
                    "image itself with force.")
        return (f"Removes the tag {self.repo_tag}, the image's last: the image {self.image_id[7:19]} "
                f"itself is deleted.")


def plan_tag_removal(engine, repo_tag):
    data = engine.inspect_image(repo_tag)
    return TagRemoval(
        repo_tag=repo_tag,
        image_id=data["Id"],
        other_tags=[tag for tag in data.get("RepoTags") or [] if tag != repo_tag],
        containers=inspect.containers_of(data["Id"], engine.list_containers()),
        size=data.get("Size") or 0,
    )


def remove_tag(engine, plan, user):
    # Never forced: for a last tag, force would delete an image that stopped
    # containers still use.
    if not plan.allowed:
        raise ActionRefused(plan.describe())
    with audit.recorded(user, "untag", plan.repo_tag, detail=f"from {plan.image_id[7:19]}" + (
            ", which was deleted with it" if plan.deletes_image else "")):
        engine.remove_image(plan.repo_tag)


@dataclass
class ImageRemoval:
    image_id: str
    tags: list
    containers: list
    size: int


def plan_image_removals(engine, image_ids):
    containers = engine.list_containers()
    plans = []
    for image_id in image_ids:
        data = engine.inspect_image(image_id)
        plans.append(ImageRemoval(data["Id"], data.get("RepoTags") or [],
                                  inspect.containers_of(data["Id"], containers), data.get("Size") or 0))
    return plans


def remove_images(engine, plans, user, force=False):
    """Remove each planned image; those in use only with force. Returns
    (removed ids, refusals as sentences)."""
    removed, refused = [], []
    for plan in plans:
        if plan.containers and not force:
            names = ", ".join(inspect.container_name(c) for c in plan.containers)
            refused.append(f"{plan.image_id[7:19]} is used by {names}; tick 'force' to remove it anyway.")
            audit.record(user, "remove", plan.image_id, audit.REFUSED, detail=f"in use by {names}")
            continue
        try:
            with audit.recorded(user, "remove", plan.image_id, detail=", ".join(plan.tags) + (
                    " (forced)" if plan.containers else "")):
                # Force also lets one call remove an image that has several tags.
                engine.remove_image(plan.image_id, force=True)
            removed.append(plan.image_id)
        except EngineError as exc:
            refused.append(f"{plan.image_id[7:19]}: {exc}")
    return removed, refused


LABEL_FILTER = re.compile(r"^[A-Za-z0-9._/-]+(=[^\s]*)?$")
LABEL_FILTER_MAX = 255


def prune(engine, user, all_unused=False, label=""):
    """Returns (number of images deleted, bytes reclaimed)."""
    if len(label) > LABEL_FILTER_MAX:
        raise ActionRefused(f"A label filter is at most {LABEL_FILTER_MAX} characters.")
    if label and not LABEL_FILTER.match(label):
        raise ActionRefused("A label filter is key or key=value, without spaces.")
    scope = ("all unused images" if all_unused else "dangling images") + (f" labelled {label}" if label else "")
    with audit.recorded(user, "prune", scope) as entry:
        result = engine.prune_images(all_unused=all_unused, label=label or None)
        deleted = [item for item in result.get("ImagesDeleted") or [] if item.get("Deleted")]
        entry["detail"] = f"{len(deleted)} image(s) deleted, {result.get('SpaceReclaimed') or 0} bytes reclaimed"
    return len(deleted), result.get("SpaceReclaimed") or 0


def rollback(engine, move, user=None):
    """Point a tag back at the image it pointed at before `move`."""
    if not move.previous_image_id:
        raise ActionRefused(f"Dockyard saw no earlier image for {move.tag}.")
    try:
        engine.inspect_image(move.previous_image_id)
    except ImageNotFound:
        raise ActionRefused(f"The earlier image {move.previous_image_id[7:19]} is no longer on this host.") from None
    with audit.recorded(user, "rollback", move.tag, detail=f"to {move.previous_image_id[7:19]}"):
        return _tag_recorded(engine, move.previous_image_id, move.tag, "rollback", user)
