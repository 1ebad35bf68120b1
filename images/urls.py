from django.urls import path

from images import views

urlpatterns = [
    # /
    path("", views.image_list, name="images-list"),
    # /images/<id or reference>/
    path("images/<path:reference>/", views.image_detail, name="images-detail"),
]
