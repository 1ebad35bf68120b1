"""Accounts and their roles, changed by admins; every change audited."""

from django.contrib.auth import get_user_model
from django.http import Http404

from images.accounts import audit, roles


class ChangeRefused(Exception):
    """A change of accounts that Dockyard will not make, with the reason."""


def user_for(pk):
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise Http404("No such user.")
    return user


def accounts_with_roles():
    users = get_user_model().objects.order_by("username").prefetch_related("groups", "engine_roles")
    return [(user, roles.role_of(user)) for user in users]


def create_user(form, by):
    """Save a valid NewUserForm and give the account its role."""
    user = form.save()
    roles.assign(user, form.cleaned_data["role"])
    audit.record(by, "user-create", user.get_username(), detail=f"role {form.cleaned_data['role'] or 'none'}")
    return user


def change_role(by, user, role, active):
    """Give `user` a role ("" for none) and make it active or not; returns the
    new state as the audit log words it."""
    if user == by:
        raise ChangeRefused("You cannot change your own role or lock yourself out; ask another admin.")
    if user.is_superuser:
        raise ChangeRefused(f"{user.get_username()} is a superuser, with every permission; change that in the "
                            "admin site.")
    before = f"{roles.role_of(user) or 'none'}{'' if user.is_active else ', inactive'}"
    roles.assign(user, role)
    user.is_active = active
    user.save(update_fields=["is_active"])
    after = f"{role or 'none'}{'' if active else ', inactive'}"
    audit.record(by, "user-role", user.get_username(), detail=f"{before} -> {after}")
    return after
