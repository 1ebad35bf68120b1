"""The engine's image events: recorded as tag moves (and as "base updated" for
what is built on a moved base) and published to every open image page. One listener per engine (`manage.py listen_events`), not one per
browser; it reconnects by itself when the engine goes away and comes back."""

import logging
import time

from django.db import close_old_connections

from images.bases import checks
from images.engine import EngineError, ImageNotFound
from images.jobs.publish import publish_images_event
from images.lifecycle.tags import tag_lock
from images.models import TagMove
from images.refs import InvalidReference, parse_reference

log = logging.getLogger(__name__)

# Actions after which a tag may point somewhere new; the engine names the tag
# in `Attributes.name` for "tag" and in the actor id for "pull" and "load".
_TAGGING = {"tag", "pull", "load", "import"}


def record_event(engine, event):
    """Record the tag move an event implies, if any; return the tag."""
    action = event.get("Action") or event.get("status")
    if action not in _TAGGING:
        return None
    actor = event.get("Actor") or {}
    name = (actor.get("Attributes") or {}).get("name") if action == "tag" else actor.get("ID")
    if not name:
        return None
    try:
        _, tag, digest = parse_reference(name)
    except InvalidReference:
        return None  # an image id, not a tag
    if digest or not tag:
        return None
    # Where the tag points now, not where the event says: an event heard late
    # must not move the history back. Looked up under the tag's lock, so not
    # between Dockyard's record of a move and its tag.
    with tag_lock(engine.name, name):
        try:
            image_id = engine.inspect_image(name)["Id"]
        except ImageNotFound:
            return None
        TagMove.record(name, image_id, action, engine=engine.name)
    checks.note_tag(engine.name, name, image_id)
    return name


def listen(engine, stop=lambda: False, retry_max=10.0):
    """Follow the engine's image events until `stop()` says so.

    On reconnecting it asks for the events since the last one it had (or since
    it last connected), which the engine keeps in memory: what happened while
    the listener was away, a restarted engine's first tags among them, is not lost."""
    delay = 1.0
    since = None
    while not stop():
        connected_at = time.time()
        try:
            for event in engine.image_events(since=since):
                delay = 1.0
                since = _just_after(event) or since
                close_old_connections()
                tag = record_event(engine, event)
                actor = event.get("Actor") or {}
                publish_images_event(engine.name, {
                    "action": event.get("Action"),
                    "id": actor.get("ID"),
                    "tag": tag,
                    "time": event.get("time"),
                })
                if stop():
                    return
        except EngineError as exc:
            log.warning("Image events from %s stopped (%s); reconnecting in %.0f s", engine.address, exc, delay)
        except Exception:  # noqa: BLE001 - the listener must outlive any one bad event
            log.exception("Image event listener failed; reconnecting in %.0f s", delay)
        else:
            log.warning("Image events from %s ended; reconnecting in %.0f s", engine.address, delay)
        if since is None:
            # No event yet: from when the stream was asked for (the engine is on this host's clock, or near it).
            since = f"{connected_at:.9f}"
        time.sleep(delay)
        delay = min(delay * 2, retry_max)


def _just_after(event):
    """The `since` that asks for the events after this one (the engine's
    `since` includes an event at that very time)."""
    nanos = event.get("timeNano")
    if not isinstance(nanos, int):
        return None
    nanos += 1
    return f"{nanos // 10**9}.{nanos % 10**9:09d}"
