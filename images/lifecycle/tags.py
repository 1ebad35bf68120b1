"""Tags: added, moved, removed and rolled back, one image at a time under its lock.

Each function checks what the engine holds first, so that the confirmation a
user sees says exactly what will go, and refuses what would surprise them.
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import LockError

from images import engines
from images.redis_client import shared_redis
from images.accounts import audit, roles
from images.catalog import inspect
from images.engine import ImageNotFound
from images.models import TagMove
from images.refs import familiar_name, InvalidReference, parse_reference, short_id, split_repo_tag

log = logging.getLogger(__name__)


class ActionRefused(Exception):
    """A change that was not made, with the sentence that says why."""


class TagTaken(ActionRefused):
    def __init__(self, repo_tag, holder):
        self.repo_tag = repo_tag
        self.holder = holder
        super().__init__(f"{repo_tag} points at another image ({short_id(holder)}); confirm to move it here.")


def normalize_tag(repository, tag):
    """'repo' + 'tag' as one validated 'repo:tag' (tag defaults to latest), spelt
    as the engine lists it, so that tag moves and the audit log name it one way.
    The repository may carry the tag itself ('repo:tag') when `tag` is empty."""
    repository, tag = repository.strip(), (tag or "").strip()
    own_tag = split_repo_tag(repository)[1] if "@" not in repository else ""
    reference = repository if own_tag else f"{repository}:{tag or 'latest'}"
    try:
        _, _, digest = parse_reference(reference)
    except InvalidReference as exc:
        raise ActionRefused(str(exc)) from exc
    if digest:
        raise ActionRefused("A tag cannot carry a digest.")
    if own_tag and tag:
        raise ActionRefused(f"{repository!r} names its tag already ({own_tag!r}): leave the Tag box empty, "
                            "or put only the repository in the Repository box.")
    return familiar_name(reference)


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
    with _holder_locked(engine, repo_tag, holder), audit.recorded(
            user, "tag", repo_tag, detail=f"to {short_id(image_id)}" + (f", moved from {short_id(holder)}" if holder else "")):
        tag_recorded(engine, image_id, repo_tag, "tag" if not holder else "move", user)
    return holder


@contextmanager
def _holder_locked(engine, repo_tag, holder):
    """Hold the lock of the image a moved tag leaves, and check it still holds the
    tag: a removal of that image's other tag, planned while this one was still
    there, would otherwise delete the image."""
    if holder is None:
        yield
        return
    with image_lock(holder):
        if tag_holder(engine, repo_tag) != holder:
            raise ActionRefused(f"{repo_tag} was moved meanwhile; look at it again and retry.")
        yield


def tag_recorded(engine, image_id, repo_tag, action, user):
    """Tag, with the move recorded first, under the tag's lock: the event
    listener sees the engine's tag event too, and must find the move already
    there with who made it, not record it first as a move from a terminal.
    `action` is what the history says ("tag", "move", "rollback", "commit")."""
    with tag_lock(engine.name, repo_tag):
        move = TagMove.record(repo_tag, image_id, action, by=user, engine=engine.name)
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
        return (f"Removes the tag {self.repo_tag}, the image's last: the image {short_id(self.image_id)} "
                f"itself is deleted.")


def plan_tag_removal(engine, image, reference):
    """What removing the tag `reference` from `image` would do. The reference is
    compared with the image's tags in the engine's own spelling (the engine
    itself reads 'docker.io/library/app' as 'app:latest'), and must be one of them."""
    try:
        repo_tag = familiar_name(reference)
    except InvalidReference as exc:
        raise ActionRefused(str(exc)) from exc
    if "@" in repo_tag:
        raise ActionRefused("A tag cannot carry a digest.")
    data = engine.inspect_image(image)
    tags = data.get("RepoTags") or []
    if repo_tag not in tags:
        raise ActionRefused(f"{repo_tag} is not a tag of this image ({short_id(data['Id'])}).")
    return TagRemoval(
        repo_tag=repo_tag,
        image_id=data["Id"],
        other_tags=[tag for tag in tags if tag != repo_tag],
        containers=inspect.containers_of(data["Id"], engine.list_containers()),
        size=data.get("Size") or 0,
    )


def remove_tag(engine, image, reference, user):
    """Remove a tag from an image; return the plan that was carried out. It is
    planned again under the image's lock: two removals of an image's last two
    tags, in any two server processes, cannot both see the other tag still
    there. A last tag deletes the image, so it needs `remove`."""
    with image_lock(engine.inspect_image(image)["Id"]):
        plan = plan_tag_removal(engine, image, reference)
        # Never forced: for a last tag, force would delete an image that stopped
        # containers still use.
        if not plan.allowed:
            raise ActionRefused(plan.describe())
        if plan.deletes_image:
            roles.check(user, "remove", "remove the tag, which would delete the image,", plan.repo_tag)
        with audit.recorded(user, "untag", plan.repo_tag, detail=f"from {short_id(plan.image_id)}" + (
                ", which was deleted with it" if plan.deletes_image else "")):
            engine.remove_image(plan.repo_tag)
    return plan


# The longest a change holds an image's lock: a few engine calls, each bounded by
# the engine timeout. Past it the lock lapses, so a process that died holding it
# does not block the image for long.
def _lock_seconds():
    return 4 * settings.DOCKYARD_ENGINE_TIMEOUT + 10


@contextmanager
def image_lock(image_id):
    """Hold an image's lock, shared by every Dockyard process through Redis, for a
    change that must see the image's tags as they stay until it is made."""
    with _shared_lock(f"image-lock:{engines.active()}:{image_id}", f"image {image_id}",
                      "Another change to this image is under way; try again in a moment."):
        yield


@contextmanager
def tag_lock(engine_name, repo_tag):
    """Hold a tag's lock, shared by every Dockyard process through Redis, while
    its move is recorded together with the engine call that makes it (Dockyard's
    tag) or finds it (the event listener's look at where the tag points).
    Otherwise a listener late with an older event, looking between Dockyard's
    record and its tag, finds the engine still on the old image and records a
    move back to it. Not a database transaction: on SQLite that would hold every
    writer for as long as the engine takes to answer."""
    with _shared_lock(f"tag-lock:{engine_name}:{repo_tag}", f"tag {repo_tag}",
                      "Another change to this tag is under way; try again in a moment."):
        yield


@contextmanager
def _shared_lock(key, what, busy):
    lock = shared_redis().lock(cache.make_key(key), timeout=_lock_seconds(),
                               blocking_timeout=settings.DOCKYARD_ENGINE_TIMEOUT)
    if not lock.acquire():
        raise ActionRefused(busy)
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("The lock of %s lapsed before its change ended", what)


HISTORY_SHOWN = 50


def tag_moves(engine, tags):
    """The latest moves of these tags (an image's) on `engine`, newest first."""
    return TagMove.objects.filter(engine=engine.name, tag__in=tags).select_related("by")[:HISTORY_SHOWN]


@dataclass
class RollbackPlan:
    """A rollback as its confirmation states it: the tag, the image it points
    at now (None: at none) and the image it goes back to."""
    tag: str
    holder: str | None
    previous: str

    def describe(self):
        now = short_id(self.holder) if self.holder else "no image"
        return f"Move tag {self.tag} from {now} to {short_id(self.previous)}"


def plan_rollback(engine, move):
    """What rolling back `move` would do now; ActionRefused if it cannot, or
    would change nothing (the tag is back already: a second click)."""
    if not move.previous_image_id:
        raise ActionRefused(f"Dockyard saw no earlier image for {move.tag}.")
    try:
        engine.inspect_image(move.previous_image_id)
    except ImageNotFound:
        raise ActionRefused(f"The earlier image {short_id(move.previous_image_id)} is no longer on this host.") from None
    holder = tag_holder(engine, move.tag)
    if holder == move.previous_image_id:
        raise ActionRefused(f"{move.tag} already points at {short_id(holder)}.")
    return RollbackPlan(move.tag, holder, move.previous_image_id)


_UNCHECKED = object()


def rollback(engine, move, user=None, holder_seen=_UNCHECKED):
    """Point a tag back at the image it pointed at before `move`. With
    `holder_seen` (the image the confirmation said it moves from, None for
    none), only if the tag still points there."""
    plan = plan_rollback(engine, move)
    if holder_seen is not _UNCHECKED and plan.holder != holder_seen:
        raise ActionRefused(f"{move.tag} was moved meanwhile (it points at "
                            f"{short_id(plan.holder) if plan.holder else 'no image'} now); look at it again and retry.")
    with _holder_locked(engine, move.tag, plan.holder), audit.recorded(
            user, "rollback", move.tag, detail=f"to {short_id(move.previous_image_id)}"):
        return tag_recorded(engine, move.previous_image_id, move.tag, "rollback", user)
