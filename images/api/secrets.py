"""Build secrets: builders' own, and the shared ones admins keep. A value goes in
and is never answered."""

from datetime import datetime

from ninja import Router, Schema, Status
from pydantic import Field

from images.api.auth import allowed
from images.api.errors import answer, form_errors
from images.api.fields import FormOrJson
from images.api.schemas import errors
from images.builds import secrets
from images.builds.forms import BuildSecretForm, SecretValueForm

router = Router(tags=["secrets"])
_VALUE = Field(description="Stored encrypted; never answered. At most 500 KiB.", json_schema_extra={"writeOnly": True})


class SecretFields(Schema):
    name: str = Field(description="The id a Dockerfile mounts it by: RUN --mount=type=secret,id=<name>.")
    value: str = _VALUE
    shared: bool = Field(False, description="A shared secret, which every builder may build with (admins).")


class ValueFields(Schema):
    value: str = _VALUE


class SecretOut(Schema):
    id: int
    name: str
    shared: bool
    created_at: datetime
    updated_at: datetime


class SecretList(Schema):
    own: list[SecretOut] = Field(description="Yours: they replace a shared one of the same name in your builds.")
    shared: list[SecretOut]


@router.get("/secrets", response={200: SecretList, **errors()}, auth=allowed("keep_secrets"))
def secret_list(request):
    """Your build secrets and the shared ones, by name."""
    return {"own": secrets.own(request.user), "shared": secrets.shared()}


@router.post("/secrets", response={201: SecretOut, **errors(400)}, auth=allowed("keep_secrets"))
def secret_add(request, fields: FormOrJson[SecretFields]):
    """Add a build secret.

    `shared` needs `manage_shared_secrets` (the admin role). Choose it for a build by name (`secrets`).
    """
    # `shared` is a field here for everyone: add_secret refuses it (403, audited) to a builder.
    form = BuildSecretForm(fields.dict(), may_share=True)
    if not form.is_valid():
        return form_errors("The secret was not saved.", form)
    try:
        secret = secrets.add_secret(request.user, form.cleaned_data["name"], form.cleaned_data["value"],
                                    share=form.cleaned_data["shared"])
    except ValueError as exc:
        return answer(400, "The secret was not saved.", fields={"name": [{"message": str(exc), "code": "exists"}]})
    return Status(201, secret)


@router.put("/secrets/{int:pk}", response={200: SecretOut, **errors(400, 404)}, auth=allowed("keep_secrets"))
def secret_replace(request, pk: int, fields: FormOrJson[ValueFields]):
    """Replace a build secret's value.

    Yours, or a shared one for admins.
    """
    secret = secrets.secret_for(request.user, pk)
    form = SecretValueForm(fields.dict())
    if not form.is_valid():
        return form_errors("The value was not replaced.", form)
    return secrets.replace_value(request.user, secret, form.cleaned_data["value"])


@router.delete("/secrets/{int:pk}", response={204: None, **errors(404)}, auth=allowed("keep_secrets"))
def secret_delete(request, pk: int):
    """Delete a build secret.

    Yours, or a shared one for admins.
    """
    secrets.delete_secret(request.user, secrets.secret_for(request.user, pk))
    return Status(204, None)
