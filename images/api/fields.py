"""What the operations take: a body that is JSON or form fields as the pages
send them, and an image id in a path."""

from django.urls import register_converter
from ninja import Path
from ninja.errors import HttpError
from ninja.params import ParamShortcut
from ninja.params.models import Body, BodyModel

from images.catalog import detail

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
HEX_ID = "[0-9a-f]{12,64}"


class _FormOrJsonModel(BodyModel):
    @classmethod
    def get_request_data(cls, request, api, path_params):
        content_type = request.content_type or "application/json"  # a script that named no type
        if content_type not in FORM_TYPES:
            if content_type != "application/json" and not content_type.endswith("+json"):
                raise HttpError(415, f"The body is {content_type[:100]}; this call takes JSON (application/json) "
                                     f"or form fields ({' or '.join(FORM_TYPES)}).")
            return super().get_request_data(request, api, path_params)
        # request.POST, never request.body: a session's CSRF check has read a multipart body already.
        data = {key: values if len(values) > 1 else values[0] for key, values in request.POST.lists()}
        if len(data) == 1 and next(iter(data)).lstrip().startswith("{"):
            # `curl -d '{...}'` without a Content-Type sends JSON as one form field named after it.
            raise HttpError(415, f"The body is JSON sent as {content_type}: send it with "
                                 "Content-Type: application/json.")
        name = getattr(cls, "__read_from_single_attr__", None)
        return {name: data} if name else data


class _FormOrJson(Body):
    _model = _FormOrJsonModel

    @classmethod
    def _param_source(cls):
        return "body"  # documented as a JSON body; app.py adds the form encoding


FormOrJson = ParamShortcut(lambda default=..., **kwargs: _FormOrJson(default, **kwargs))


class ImageIdConverter:
    """An image id in each form the API hands it out: `sha256:<64 hex>` (a job's
    image_id, a list row's id), the 64 hex digits (the pages' addresses), or a
    short id of 12 digits or more (what `docker images` shows). Neither a
    `sha256:` id nor 64 hex digits is a reference the engine takes, so an
    action's route (/api/images/<id>/export) never shadows the image named
    `<name>/export`; a short id that is also a repository's name is read as the
    engine reads it: as that repository."""

    regex = f"(?:sha256:)?{HEX_ID}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(ImageIdConverter, "imageid")

ImageId = Path[str, {"pattern": f"^{ImageIdConverter.regex}$",
                     "description": "The image's id: sha256:<64 hex digits>, the 64 hex digits, or a short id "
                                    "(12 or more of them)."}]


def full_image_id(engine, image_id):
    """`sha256:<64 hex>` for an id in any of ImageId's forms; only a short one asks the engine."""
    hex_digits = image_id.removeprefix("sha256:")
    if len(hex_digits) == 64:
        return f"sha256:{hex_digits}"
    return detail.image_summary(engine, image_id).id
