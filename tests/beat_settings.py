"""Dockyard's settings with every periodic task of its schedule due each second:
for the tests' `celery beat` (conftest `scheduler`), so that a test sees the
schedule's own tasks sent and run in seconds rather than hours."""

from dashboard.settings import *  # noqa: F403
from dashboard.settings import CELERY_BEAT_SCHEDULE

CELERY_BEAT_SCHEDULE = {name: {**entry, "schedule": 1, "options": {"expires": 30}}
                        for name, entry in CELERY_BEAT_SCHEDULE.items()}
# Each disk sample asks every engine for its `system df`, which sizes every image, container, volume and cache
# record on the shared engine, one at a time: every five seconds is often enough for a test.
CELERY_BEAT_SCHEDULE["images.tasks.sample_disk_usage"]["schedule"] = 5
# The base check asks a registry (a HEAD through the engine) per base a recent build used: every five seconds too.
CELERY_BEAT_SCHEDULE["images.tasks.check_bases"]["schedule"] = 5
