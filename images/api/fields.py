"""What the operations take: a body that is JSON or form fields as the pages
send them, and an image id in a path."""

from django.urls import register_converter
from ninja import Path
from ninja.params import ParamShortcut
from ninja.params.models import Body, BodyModel

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class _FormOrJsonModel(BodyModel):
    @classmethod
    def get_request_data(cls, request, api, path_params):
        if request.content_type not in FORM_TYPES:
            return super().get_request_data(request, api, path_params)
        # request.POST, never request.body: a session's CSRF check has read a multipart body already.
        data = {key: values if len(values) > 1 else values[0] for key, values in request.POST.lists()}
        name = getattr(cls, "__read_from_single_attr__", None)
        return {name: data} if name else data


class _FormOrJson(Body):
    _model = _FormOrJsonModel

    @classmethod
    def _param_source(cls):
        return "body"  # documented as a JSON body; app.py adds the form encoding


FormOrJson = ParamShortcut(lambda default=..., **kwargs: _FormOrJson(default, **kwargs))


class ImageIdConverter:
    """An image id as the pages' URLs carry it: 64 hex digits, without sha256:.
    The engine refuses such a repository name, so an action's route
    (/api/images/<id>/export) never shadows the image whose reference is
    `<name>/export`."""

    regex = "[0-9a-f]{64}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ImageIdConverter, "imageid")

ImageHex = Path[str, {"pattern": f"^{ImageIdConverter.regex}$",
                      "description": "The image's id: 64 hex digits, without sha256:."}]
