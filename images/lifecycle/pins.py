"""Pins: an image pinned on its page is never removed by a retention rule."""

from images.accounts import audit
from images.models import ImagePin


def is_pinned(engine_name, image_id):
    return ImagePin.objects.filter(engine=engine_name, image_id=image_id).exists()


def pin(user, engine, reference):
    """Pin the image `reference` names (its id is what is pinned: a tag may move)."""
    image_id = engine.inspect_image(reference)["Id"]
    with audit.recorded(user, "pin", image_id):
        ImagePin.objects.get_or_create(engine=engine.name, image_id=image_id, defaults={"pinned_by": user})
    return image_id


def unpin(user, engine, reference):
    image_id = engine.inspect_image(reference)["Id"]
    with audit.recorded(user, "unpin", image_id):
        ImagePin.objects.filter(engine=engine.name, image_id=image_id).delete()
    return image_id
