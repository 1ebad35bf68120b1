"""The API's error answers: `{"error": "..."}` (with `fields` for a form's
reasons), with the status codes scripts already rely on."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from ninja.errors import AuthenticationError, HttpError, ValidationError

from images.accounts.users import ChangeRefused
from images.bases.batches import NothingToRebuild
from images.api.auth import LOGIN_NEEDED
from images.builds.contexts import ContextError
from images.engine import EngineError, EngineUnavailable, ImageNotFound
from images.jobs.control import JobLimitReached, NoRecipe
from images.lifecycle.tags import ActionRefused

# Exceptions the service functions raise, and the status each one answers with.
STATUS_OF = {
    PermissionDenied: 403,  # images.accounts.roles.Refused: its sentence names the role that would do
    JobLimitReached: 429,
    Http404: 404,
    ImageNotFound: 404,
    EngineUnavailable: 503,
    EngineError: 502,
    # Refused as things stand: the sentence says why.
    ActionRefused: 409,
    ChangeRefused: 409,
    NoRecipe: 409,
    NothingToRebuild: 409,
    ContextError: 409,  # a job's upload gone, so it cannot run again
}


def answer(status, message, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def form_errors(message, form):
    """A Django form's reasons, as the pages show them."""
    return answer(400, message, fields=form.errors.get_json_data())


def field_errors(errors):
    """ninja's validation errors in the shape of a form's `errors.get_json_data()`."""
    fields = {}
    for error in errors:
        names = [part for part in error["loc"][1:] if isinstance(part, str)]
        if error["loc"][0] == "body":
            names = names[1:]  # the operation's own name for its body
        fields.setdefault(names[-1] if names else "__all__", []).append(
            {"message": error["msg"], "code": error["type"]})
    return fields


def add_handlers(api):
    for exception_class, status in STATUS_OF.items():
        api.add_exception_handler(exception_class, _answering(status))
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(AuthenticationError, lambda request, exc: answer(401, LOGIN_NEEDED))
    api.add_exception_handler(ValidationError, lambda request, exc: answer(
        400, "The request's fields are not valid.", fields=field_errors(exc.errors)))
    api.add_exception_handler(RequestDataTooBig, lambda request, exc: answer(
        413, f"The body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, more than this call needs."))


def _http_error(request, exc):
    if isinstance(exc.__cause__, ValueError):  # ninja's "Cannot parse request body"
        return answer(400, "The body is not valid JSON.")
    return answer(exc.status_code, exc.message)


def _answering(status):
    return lambda request, exc: answer(status, str(exc) or "Not found.")
