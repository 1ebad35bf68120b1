from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ImagesConfig(AppConfig):
    name = "images"
    verbose_name = "Docker images"

    def ready(self):
        from images import checks  # noqa: F401 - registers the deploy checks
        from images.accounts import audit, roles  # noqa: F401 - audit connects its login-failure receiver

        from images.bases.events import base_event
        from images.hooks import outbound

        post_migrate.connect(roles.ensure_groups, sender=self)
        # Base updates and rebuild batches announce; the webhooks tell the receivers that asked.
        base_event.connect(outbound.send_base_event, dispatch_uid="webhooks")
