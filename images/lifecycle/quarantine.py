"""The undo window: an image is saved (`docker save`, streamed to a file) before a
retention rule removes it, and can be loaded back, with the same id (the hash
of its config) and its tags (the archive names it by each), for
DOCKYARD_UNDO_HOURS.

The directory is capped at DOCKYARD_QUARANTINE_MAX bytes: to make room, the
oldest archives go first. An image whose archive would not fit under the cap
on its own is removed without a copy and listed as "not kept".
"""

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from images.accounts import audit
from images.catalog import usage
from images.engine import EngineError
from images.lifecycle.tags import ActionRefused
from images.models import QuarantinedImage
from images.refs import hex_id

KEPT = QuarantinedImage.State.KEPT


def directory(engine_name):
    path = Path(settings.DOCKYARD_QUARANTINE_DIR) / engine_name
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def held(engine_name):
    """Bytes the kept archives take."""
    return QuarantinedImage.objects.filter(engine=engine_name, state=KEPT).aggregate(total=Sum("size"))["total"] or 0


def keep(stream, image, job=None):
    """Save `image` (an engine list or inspect entry) through `stream` (an
    EngineStream, so that a cancel stops the save) into the quarantine, making
    room for it first. Returns its QuarantinedImage, kept or not kept."""
    engine_name = stream.engine.name
    cap = settings.DOCKYARD_QUARANTINE_MAX
    tags = usage.tags_of(image)
    record = QuarantinedImage(engine=engine_name, image_id=image["Id"], tags=tags, job=job)
    # The archive holds the image's layers uncompressed, a little more than the engine's size of it.
    expected = image.get("Size") or 0
    if expected > cap:
        return _not_kept(record, f"larger ({expected} bytes) than the quarantine's cap ({cap} bytes)")
    make_room(engine_name, cap - expected)
    name = f"{hex_id(image['Id'])}-{timezone.now():%Y%m%dT%H%M%S%f}.tar"
    path = directory(engine_name) / name
    partial = path.with_suffix(".part")
    written = 0
    try:
        with open(partial, "wb") as out:
            for block in stream.save(image["Id"], names=tags or [image["Id"]]):
                written += len(block)
                if written > cap:
                    break
                out.write(block)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if written > cap:
        partial.unlink(missing_ok=True)
        return _not_kept(record, f"its archive passed the quarantine's cap ({cap} bytes)")
    os.replace(partial, path)
    record.file, record.size = name, written
    record.save()
    make_room(engine_name, cap, keeping=record.pk)
    return record


def _not_kept(record, reason):
    record.state, record.reason = QuarantinedImage.State.NOT_KEPT, reason
    record.save()
    return record


def make_room(engine_name, room, keeping=None):
    """Drop the oldest kept archives until they take at most `room` bytes."""
    total = held(engine_name)
    for record in QuarantinedImage.objects.filter(engine=engine_name, state=KEPT).exclude(pk=keeping).order_by(
            "saved_at", "pk"):
        if total <= room:
            return
        total -= record.size
        _drop(record, "its room went to newer archives (the quarantine's cap)")


def _drop(record, reason):
    if record.file:
        (directory(record.engine) / record.file).unlink(missing_ok=True)
    record.state, record.reason = QuarantinedImage.State.DROPPED, reason
    record.save(update_fields=["state", "reason"])


def expire(engine_name=None, now=None):
    """Drop the archives older than the undo window (celery beat)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.DOCKYARD_UNDO_HOURS)
    old = QuarantinedImage.objects.filter(state=KEPT, saved_at__lt=cutoff)
    if engine_name:
        old = old.filter(engine=engine_name)
    for record in old:
        _drop(record, f"kept for {settings.DOCKYARD_UNDO_HOURS} hours")


def restore(engine, record, user):
    """Load a kept archive back (`docker load`, streamed from the file): the same
    image id and tags. Its archive is removed once the engine has the image."""
    if record.state != KEPT or record.engine != engine.name:
        raise ActionRefused(f"{record.image_id} is not in this engine's quarantine ({record.state}): "
                            "nothing to restore.")
    path = directory(record.engine) / record.file
    if not path.is_file():
        _drop(record, "its archive was missing")
        raise ActionRefused(f"The archive of {record.image_id} is missing: nothing to restore.")
    with audit.recorded(user, "restore", record.image_id, detail=", ".join(record.tags) or "untagged"):
        with open(path, "rb") as archive:
            errors = [message["error"] for message in engine.stream().load(archive) if "error" in message]
        if errors:
            raise EngineError("; ".join(errors))
        loaded = engine.inspect_image(record.image_id)
        if loaded["Id"] != record.image_id:
            raise EngineError(f"The engine loaded {loaded['Id']}, not {record.image_id}.")
    path.unlink(missing_ok=True)
    record.state, record.reason = QuarantinedImage.State.RESTORED, f"restored by {user.get_username()}"
    record.save(update_fields=["state", "reason"])
    return record
