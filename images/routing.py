from django.urls import path

from images.jobs.consumers import ImagesConsumer, JobConsumer

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobConsumer.as_asgi()),
    path("ws/images/", ImagesConsumer.as_asgi()),
    path("ws/e/<str:engine>/images/", ImagesConsumer.as_asgi()),
]
