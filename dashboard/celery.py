import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from dashboard.startup import prepare_long_lived_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def prepare_before_the_pool_forks(**kwargs):
    # Once in the worker's parent, so the pool processes it forks share it.
    prepare_long_lived_process()


@worker_process_init.connect
def prepare_each_pool_process(**kwargs):
    # What a pool process made of its own after the fork is frozen too.
    prepare_long_lived_process()
