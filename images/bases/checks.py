"""The periodic check of base images (celery beat, every
DOCKYARD_BASE_CHECK_INTERVAL hours, off with DOCKYARD_BASE_CHECK_ENABLED=0).

For each base reference the builds of the last DOCKYARD_BASE_CHECK_DAYS used,
once per reference on each engine:
- the registry's digest for it, asked through the engine (`GET
  /distribution/{name}/json`: one HEAD on the manifest, with the stored login),
  only for bases that came from a registry (the build recorded a repo digest)
  and only from registries pulls may use (DOCKYARD_REGISTRY_HOSTS, the
  Registries page);
- the image its name gives on the engine now (one inspect). The event listener
  also tells of this as it happens, after a pull, a build or a tag
  (`note_tag`), so what is built on it is marked without waiting.

A base has moved for an image built on it when the registry now gives another
digest than the build recorded, or the engine another image. Every image so
built is marked (BaseUpdate), an engine's marks replaced at once.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from images.bases import automatic, dependents, events
from images.builds.fetches import FetchRefused, check_registry
from images.engine import EngineError, EngineUnavailable, ImageNotFound
from images.models import BaseReference, BaseUpdate, Job, Provenance, Registry
from images.refs import InvalidReference, familiar_name

log = logging.getLogger(__name__)


def recent_bases(engine_name):
    """{reference: whether a build recorded a registry digest for it} of the
    bases of builds that succeeded in the last DOCKYARD_BASE_CHECK_DAYS."""
    since = timezone.now() - timedelta(days=settings.DOCKYARD_BASE_CHECK_DAYS)
    found = {}
    for bases in Provenance.objects.filter(job__engine=engine_name, job__kind=Job.Kind.BUILD,
                                           job__state=Job.State.SUCCEEDED,
                                           job__finished_at__gte=since).values_list("bases", flat=True):
        for base in bases:
            found[base["reference"]] = found.get(base["reference"], False) or bool(base.get("repo_digest"))
    return found


def check_engine(engine):
    """Check the recent bases of one engine and mark what was built on a moved
    one; return the engine's BaseUpdate rows."""
    now = timezone.now()
    stored = {row.reference: row for row in BaseReference.objects.filter(engine=engine.name)}
    moved, changed = [], []
    for reference, from_registry in recent_bases(engine.name).items():
        # A reference pinned by digest names one manifest for ever: nothing to ask.
        asked = from_registry and "@" not in reference
        digest, error = _registry_digest(engine, reference) if asked else ("", "")
        image_id = _image_id(engine, reference)
        row = stored.get(reference) or BaseReference(engine=engine.name, reference=reference)
        before = (row.registry_digest, row.image_id) if row.pk else None
        if digest and digest != row.registry_digest:
            row.registry_digest, row.digest_seen_at = digest, now
        if image_id != row.image_id:
            row.image_id, row.image_seen_at = image_id, now
        row.checked_at, row.error = now, error
        changed.append(row)
        # A first digest (the row was made by the event listener, or the registry did not answer before) is no move.
        if before is not None and ((before[0] and before[0] != row.registry_digest) or before[1] != row.image_id):
            moved.append((row, before))
    with transaction.atomic():
        BaseReference.objects.bulk_create([row for row in changed if row.pk is None])
        BaseReference.objects.bulk_update([row for row in changed if row.pk is not None],
                                          ["registry_digest", "digest_seen_at", "image_id", "image_seen_at",
                                           "checked_at", "error"])
        marks = _marks(engine.name, {row.reference: row for row in changed})
        BaseUpdate.objects.filter(engine=engine.name).delete()
        BaseUpdate.objects.bulk_create(marks)
    for row, (old_digest, old_image_id) in moved:
        events.announce(events.BASE_UPDATED, {
            "engine": engine.name, "reference": row.reference, "old_digest": old_digest,
            "new_digest": row.registry_digest, "old_image_id": old_image_id, "new_image_id": row.image_id,
            "noticed_at": now.isoformat(),
            "dependents": sorted({mark.image_id for mark in marks if mark.reference == row.reference}),
        })
    if moved:
        references = {row.reference for row, _ in moved}
        automatic.rebuild_moved(engine.name, [mark for mark in marks if mark.reference in references])
    return marks


def note_tag(engine_name, name, image_id):
    """The event listener's call after a pull, build or tag moved `name` to
    `image_id` on the engine: when a current recipe is built on that name's
    old image, mark it "base updated" now, as the periodic check would, and
    announce it. Return the marks made."""
    try:
        spoken = familiar_name(name)
    except InvalidReference:
        return []
    references = {base["reference"] for recipe in dependents.current_recipes(engine_name).values()
                  for base in recipe.bases if base.get("image_id")}
    reference = next((found for found in sorted(references) if _familiar(found) == spoken), None)
    if reference is None:
        return []
    row = BaseReference.objects.filter(engine=engine_name, reference=reference).first()
    row = row or BaseReference(engine=engine_name, reference=reference)
    if row.image_id == image_id:
        return []
    now = timezone.now()
    old_image_id, row.image_id, row.image_seen_at = row.image_id, image_id, now
    marks = _marks(engine_name, {reference: row})
    with transaction.atomic():
        row.save()
        BaseUpdate.objects.filter(engine=engine_name, reference=reference).delete()
        BaseUpdate.objects.bulk_create(marks)
    if marks:
        events.announce(events.BASE_UPDATED, {
            "engine": engine_name, "reference": reference, "old_digest": row.registry_digest,
            "new_digest": row.registry_digest, "old_image_id": old_image_id or marks[0].old_image_id,
            "new_image_id": image_id, "noticed_at": now.isoformat(),
            "dependents": sorted({mark.image_id for mark in marks}),
        })
        automatic.rebuild_moved(engine_name, marks)
    return marks


def _familiar(reference):
    try:
        return familiar_name(reference)
    except InvalidReference:
        return None


def _registry_digest(engine, reference):
    """(digest, "") or ("", why there is none)."""
    try:
        check_registry(reference, what="The base check")
    except FetchRefused as exc:
        return "", str(exc)
    login = Registry.for_reference(reference)
    try:
        return engine.registry_digest(reference, login.auth_config() if login else None), ""
    except EngineError as exc:
        return "", f"The registry did not give a digest: {exc}"


def _image_id(engine, reference):
    """The image the name gives on the engine, or "": none, or a name the engine refuses (one engine's check
    goes on past it; an engine that does not answer stops it)."""
    try:
        return engine.inspect_image(reference)["Id"]
    except EngineUnavailable:
        raise
    except (ImageNotFound, EngineError):
        return ""


def _marks(engine_name, references):
    """A BaseUpdate for each base of each current recipe that has moved."""
    marks = []
    for recipe in dependents.current_recipes(engine_name).values():
        for base in recipe.bases:
            row = references.get(base["reference"])
            if row is None:
                continue
            new_digest = row.registry_digest if (base.get("repo_digest") and row.registry_digest
                                                 and row.registry_digest != base["repo_digest"]) else ""
            new_image = row.image_id if (base.get("image_id") and row.image_id
                                         and row.image_id != base["image_id"]) else ""
            if not (new_digest or new_image):
                continue
            noticed = min(at for at in (row.digest_seen_at if new_digest else None,
                                        row.image_seen_at if new_image else None) if at is not None)
            marks.append(BaseUpdate(engine=engine_name, image_id=recipe.image_id, build_id=recipe.build_id,
                                    reference=base["reference"], old_digest=base.get("repo_digest") or "",
                                    new_digest=new_digest, old_image_id=base.get("image_id") or "",
                                    new_image_id=new_image, noticed_at=noticed))
    return marks


def check_every_engine():
    """The beat task's work: each engine in turn; one that does not answer is
    skipped (its marks stay as the last check left them)."""
    from images import engines
    from images.engine import get_engine

    for name in engines.names():
        try:
            with engines.activated(name):
                check_engine(get_engine(name))
        except EngineError as exc:
            log.warning("The base check skipped engine %s: %s", name, exc)


def updates_of(engine_name, image_id):
    """The marks of one image: which of its bases moved."""
    return list(BaseUpdate.objects.filter(engine=engine_name, image_id=image_id))


def updated_image_ids(engine_name):
    """The ids of the images marked "base updated" on an engine."""
    return set(BaseUpdate.objects.filter(engine=engine_name).values_list("image_id", flat=True))
