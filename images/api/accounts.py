"""One's own API tokens, and users and their roles (admins)."""

from datetime import datetime

from ninja import Router, Schema, Status
from pydantic import Field

from images.accounts import roles, tokens, users
from images.accounts.forms import NewUserForm, RoleForm, TokenForm
from images.api.auth import allowed
from images.api.errors import form_errors
from images.api.fields import FormOrJson
from images.api.schemas import errors

router = Router(tags=["accounts"])


class TokenFields(Schema):
    name: str = Field(description="What the token is for, e.g. 'CI on build-01'.")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None


class NewToken(TokenOut):
    token: str = Field(description="The token itself: answered this once, only its hash is kept.")


class UserFields(Schema):
    username: str
    password: str = Field(json_schema_extra={"writeOnly": True})
    role: str = Field(roles.VIEWER, description="viewer, builder, admin, or empty for none.")


class RoleFields(Schema):
    role: str = Field(description="viewer, builder, admin, or empty for none.")
    active: bool = Field(True, description="False locks the account out.")


class UserOut(Schema):
    id: int
    username: str
    role: str | None
    active: bool

    @staticmethod
    def resolve_role(user):
        return roles.role_of(user)

    @staticmethod
    def resolve_active(user):
        return user.is_active


@router.get("/tokens", response={200: list[TokenOut], **errors()},
            auth=allowed("browse", roles.KEEP_TOKENS))
def token_list(request):
    """One's own API tokens."""
    return request.user.api_tokens.all()


@router.post("/tokens", response={201: NewToken, **errors(400)},
             auth=allowed("browse", roles.KEEP_TOKENS))
def token_create(request, fields: FormOrJson[TokenFields]):
    """Make an API token.

    The answer holds the token itself, this once.
    """
    form = TokenForm(fields.dict())
    if not form.is_valid():
        return form_errors("No token was made.", form)
    token, secret = tokens.issue_token(request.user, form.cleaned_data["name"])
    return Status(201, {**TokenOut.from_orm(token).dict(), "token": secret})


@router.delete("/tokens/{int:pk}", response={204: None, **errors(404)},
               auth=allowed("browse", roles.KEEP_TOKENS))
def token_revoke(request, pk: int):
    """Revoke one of one's own API tokens.

    Scripts using it are refused from now on.
    """
    tokens.revoke_token(tokens.token_for(request.user, pk), request.user)
    return Status(204, None)


@router.get("/users", response={200: list[UserOut], **errors()}, auth=allowed("manage_users"))
def user_list(request):
    """The accounts, with their roles."""
    return [user for user, _ in users.accounts_with_roles()]


@router.post("/users", response={201: UserOut, **errors(400)}, auth=allowed("manage_users"))
def user_create(request, fields: FormOrJson[UserFields]):
    """Add an account with a role.

    The password is checked as the users page checks it.
    """
    form = NewUserForm({"username": fields.username, "password1": fields.password, "password2": fields.password,
                        "role": fields.role})
    if not form.is_valid():
        return form_errors("No account was made.", form)
    return Status(201, users.create_user(form, request.user))


@router.put("/users/{int:pk}/role", response={200: UserOut, **errors(400, 404, 409)}, auth=allowed("manage_users"))
def user_role(request, pk: int, fields: FormOrJson[RoleFields]):
    """Give an account a role.

    Or none; `active: false` locks it out. Not one's own, nor a superuser's (409).
    """
    user = users.user_for(pk)
    form = RoleForm(fields.dict())
    if not form.is_valid():
        return form_errors("The role was not changed.", form)
    users.change_role(request.user, user, form.cleaned_data["role"], form.cleaned_data["active"])
    user.refresh_from_db()
    return user


class PasswordFields(Schema):
    old_password: str
    new_password: str = Field(description="Checked by the same rules as the account page's form.")


@router.post("/account/password", response={204: None, **errors(400)}, auth=allowed("browse"))
def password_change(request, fields: FormOrJson[PasswordFields]):
    """Change one's own password.

    Needs the current password, so a token alone cannot change it. API tokens keep working; other sessions end.
    """
    from django.contrib.auth.forms import PasswordChangeForm

    from images.accounts import audit

    form = PasswordChangeForm(request.user, {"old_password": fields.old_password,
                                             "new_password1": fields.new_password,
                                             "new_password2": fields.new_password})
    if not form.is_valid():
        return form_errors("The password was not changed.", form)
    form.save()
    audit.record(request.user, "password", request.user.get_username())
    return Status(204, None)
