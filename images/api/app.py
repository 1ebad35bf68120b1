"""The NinjaAPI: its areas, its OpenAPI document and its URLs."""

import inspect
import re
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from ninja import NinjaAPI, Swagger

from images.accounts.roles import ADMIN, BUILDER, ROLES, VIEWER, check, requires
from images.api import (accounts, audit, auth, bases, build_cache, disk, errors, files, hooks, images, jobs, registries,
                        retention, runs, secrets, tags)


class DockyardAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation):
        return operation.view_func.__name__

    def get_openapi_schema(self, **kwargs):
        """ninja's document, with the permission each operation needs."""
        schema = super().get_openapi_schema(**kwargs)
        for path, operation in operations():
            permission = auth.permission_of(operation)
            role = next((name for name in (VIEWER, BUILDER, ADMIN) if permission in ROLES[name]), "no")
            summary, _, description = (inspect.getdoc(operation.view_func) or "").partition("\n")
            needs = ("Needs no login: the request's signature is checked." if permission == auth.SIGNED
                     else f"Needs `{permission}` (the {role} role).")
            for method in operation.methods:
                entry = schema["paths"][schema_path(path)][method.lower()]
                entry["summary"] = summary.rstrip(".") or entry["summary"]
                entry["description"] = f"{needs} {description.strip()}".strip()
                if permission == auth.SIGNED:
                    entry["security"] = []
                entry["x-dockyard-permission"] = permission
                body = entry.get("requestBody", {}).get("content", {})
                _fields_with_files(body)
                if "application/json" in body:  # fields.FormOrJson: a form's fields too
                    body["application/x-www-form-urlencoded"] = body["application/json"]
        return schema


def _fields_with_files(body):
    """ninja documents a FormOrJson body beside a File as one multipart field
    holding the model: the fields come as JSON, or as multipart fields beside
    the file."""
    multipart = body.get("multipart/form-data", {}).get("schema", {})
    models = [value for value in multipart.get("properties", {}).values() if "$ref" in value]
    if len(models) != 1:
        return
    files = {name: value for name, value in multipart["properties"].items() if "$ref" not in value}
    body["application/json"] = {"schema": models[0]}
    body["multipart/form-data"] = {"schema": {"allOf": [models[0], {"type": "object", "properties": files}]}}


api = DockyardAPI(
    title="Dockyard",
    version="1",
    description="Every action a Dockyard page offers, for scripts and CI. docs/api.md is the guide.",
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
    # No validator badge: it is an image from an outside address.
    docs=Swagger(settings={"validatorUrl": None}),
    auth=auth.undeclared(),
)
errors.add_handlers(api)
# images last: its /api/images/{reference} would take every path under /api/images/.
AREAS = (tags, jobs, runs, registries, secrets, accounts, audit, files, build_cache, disk, hooks, bases, retention, images)
for area in AREAS:
    api.add_router("", area.router)


def operations():
    """(path, operation) for every operation, the path as the URL has it (/api/jobs/{int:pk})."""
    for area in AREAS:
        for path, view in area.router.path_operations.items():
            for operation in view.operations:
                yield "/api" + path, operation


def schema_path(path):
    """A path as the OpenAPI document spells it: /api/jobs/{pk}."""
    return re.sub(r"{\w+:(\w+)}", r"{\1}", path)


# URLs --------------------------------------------------------------------------------

def urls():
    patterns, app_name, namespace = api.urls
    # Last: whatever no operation takes (an id that is not a number, a path
    # that is none) answers as the API does, not with the pages' 404 or login.
    # It reads no body and changes nothing, so it needs no CSRF token (whose check would read the body).
    unknown = re_path(r"^.*$", csrf_exempt(login_not_required(_not_an_operation)), name="not-an-operation")
    return [*(_adapted(pattern) for pattern in patterns), unknown], app_name, namespace


def _not_an_operation(request, *args, **kwargs):
    """404 in JSON; 401 to an anonymous caller, as every operation would, except
    under the paths that need no login (a hook's delivery) where nothing would."""
    if not request.user.is_authenticated and not request.path_info.startswith(_no_login_prefixes()):
        return errors.answer(401, auth.LOGIN_NEEDED)
    return errors.answer(404, f"{request.path_info} is no path of the API: an id in a path is a whole number, "
                              f"and /api/docs lists the paths.")


def _no_login_prefixes():
    return tuple({path.partition("{")[0] for path, operation in operations()
                  if auth.permission_of(operation) == auth.SIGNED})


def _adapted(pattern):
    """The operations answer an anonymous caller with 401 themselves, not with
    a page's login redirect; so does the schema. The reference is a page."""
    if pattern.name == "openapi-view":
        view = requires("browse")(pattern.callback)
    elif pattern.name == "openapi-json":
        view = login_not_required(_schema_access(pattern.callback))
    elif pattern.name == "api-root":
        view = RedirectView.as_view(pattern_name="api:openapi-view")
    else:
        view = login_not_required(_json_not_allowed(pattern.callback))
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


def _json_not_allowed(view):
    """ninja answers a method an operation does not take with a bare 405: say
    which methods the path takes, in the body and in Allow."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not isinstance(response, JsonResponse):
            methods = sorted(method.strip() for method in response.get("Allow", "").split(",") if method.strip())
            message = f"{request.method} is not a method of this path: use {' or '.join(methods)}."
            response = errors.answer(405, " ".join([message, *_action_on_a_reference(request.path_info)]))
            response["Allow"] = ", ".join(methods)
        return response

    return wrapper


def _action_on_a_reference(path):
    """What to say when an image's action was sent to a reference, which
    /api/images/{reference} took for a reference with a slash."""
    reference, _, action = path.removeprefix("/api/images/").rpartition("/")
    if path.startswith("/api/images/") and reference and action in _image_actions():
        yield (f"/api/images/<id>/{action} takes the image's id (sha256:…, 64 or 12 hex digits), not a reference: "
               f"GET /api/images/{reference} gives it.")


def _image_actions():
    prefix = "/api/images/{imageid:image_id}/"
    return {path.removeprefix(prefix).partition("/")[0] for path, _ in operations() if path.startswith(prefix)}


def _schema_access(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return errors.answer(401, auth.LOGIN_NEEDED)
        try:
            check(request.user, "browse", target=request.path)
        except PermissionDenied as exc:
            return errors.answer(403, str(exc))
        return view(request, *args, **kwargs)

    return wrapper
