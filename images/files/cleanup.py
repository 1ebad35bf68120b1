"""File indexes of images that are gone, removed."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from images.models import ImageIndex, LayerIndex

# A layer index younger than this may belong to an index job still running,
# which stores its layers before the image that holds them.
_GRACE = timedelta(hours=1)


def remove_unused(engine):
    """Remove the indexes of images the engine no longer has, then the layer
    indexes no indexed image holds. Return (images, layers) removed."""
    present = {image["Id"] for image in engine.list_images(intermediate=True)}
    gone = [pk for pk, image_id in ImageIndex.objects.values_list("pk", "image_id") if image_id not in present]
    with transaction.atomic():
        removed_images, _ = ImageIndex.objects.filter(pk__in=gone).delete()
        held = {diff_id for diff_ids in ImageIndex.objects.values_list("diff_ids", flat=True) for diff_id in diff_ids}
        unused = [pk for pk, diff_id in LayerIndex.objects.filter(indexed_at__lt=timezone.now() - _GRACE)
                  .values_list("pk", "diff_id") if diff_id not in held]
        removed_layers, _ = LayerIndex.objects.filter(pk__in=unused).delete()
    return removed_images, removed_layers
