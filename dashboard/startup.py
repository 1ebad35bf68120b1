"""Readying a long-lived process (a Celery worker, an ASGI server) once, at
start, for what every job and request would otherwise pay for again."""

import gc

import django
from django.apps import apps


def prepare_long_lived_process():
    if not apps.ready:
        django.setup(set_prefix=False)
    from django.urls import get_resolver

    # Reversing a first link imports every view and the API's schemas. A fresh
    # worker spent 1.2 s of its first job on that, before the build began, and a
    # web process its first request.
    get_resolver().reverse_dict
    # The objects made at start (modules, classes, the URLconf: 100,000 and more)
    # live as long as the process. Python's full collections walked them all
    # again and again, and that was most of what storing a 200,000-line build
    # cost the worker: frozen, they are left out.
    gc.collect()
    gc.freeze()
