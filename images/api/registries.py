"""Registry logins (admins). A password goes in and is never answered."""

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from images.accounts import registries
from images.accounts.forms import RegistryForm
from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson
from images.api.schemas import errors
from images.models import Registry

router = Router(tags=["registries"])


class RegistryFields(Schema):
    address: str = Field(description="host[:port], e.g. 127.0.0.1:5000")
    username: str
    password: str = Field("", description="Password or token, stored encrypted; empty keeps the current one. "
                                          "Never answered.", json_schema_extra={"writeOnly": True})


class RegistryOut(Schema):
    id: int
    address: str
    username: str
    created_at: datetime
    updated_at: datetime


class LoggedIn(Schema):
    address: str
    username: str
    logged_in: bool


def _saved(request, registry, fields):
    form = RegistryForm(fields.dict(), instance=registry)
    if not form.is_valid():
        return None, form_errors("The login was not saved.", form)
    return registries.save_registry(form, request.user), None


@router.get("/registries", response={200: list[RegistryOut], **errors()}, auth=allowed("manage_registries"))
def registry_list(request):
    """The registry logins."""
    return Registry.objects.all()


@router.post("/registries", response={201: RegistryOut, **errors(400)}, auth=allowed("manage_registries"))
def registry_add(request, fields: FormOrJson[RegistryFields]):
    """Add a registry login."""
    registry, refusal = _saved(request, None, fields)
    return refusal or Status(201, registry)


@router.put("/registries/{int:pk}", response={200: RegistryOut, **errors(400, 404)},
            auth=allowed("manage_registries"))
def registry_change(request, pk: int, fields: FormOrJson[RegistryFields]):
    """Change a registry login.

    An empty or missing password keeps the stored one.
    """
    registry, refusal = _saved(request, get_object_or_404(Registry, pk=pk), fields)
    return refusal or registry


@router.delete("/registries/{int:pk}", response={204: None, **errors(404)}, auth=allowed("manage_registries"))
def registry_delete(request, pk: int):
    """Delete a registry login."""
    registries.delete_registry(get_object_or_404(Registry, pk=pk), request.user)
    return Status(204, None)


@router.post("/registries/{int:pk}/test", response={200: LoggedIn, **errors(404, 502, 503)},
             auth=allowed("manage_registries"))
def registry_test(request, pk: int):
    """Try a registry login.

    The engine logs in with it: 200 if the registry took it, 502 with the registry's reason if not.
    """
    registry = get_object_or_404(Registry, pk=pk)
    failure = registries.try_login(request.engine, registry, request.user)
    if failure:
        return answer(502, f"Login to {registry.address} failed: {failure}")
    return {"address": registry.address, "username": registry.username, "logged_in": True}
