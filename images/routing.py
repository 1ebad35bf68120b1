from django.urls import path

from images.jobs.consumers import ImagesConsumer, JobConsumer
from images.jobs.terminals import TerminalConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/terminal/", TerminalConsumer.as_asgi(), {"kind": "terminal"}),
    path("ws/jobs/<int:job_id>/shell/", TerminalConsumer.as_asgi(), {"kind": "shell"}),
    path("ws/images/", ImagesConsumer.as_asgi()),
    path("ws/e/<str:engine>/images/", ImagesConsumer.as_asgi()),
]
