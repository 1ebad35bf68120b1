"""Accounts and their roles, for admins. (Django's admin site can do the same.)"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images import audit, roles
from images.roles import requires

ROLE_CHOICES = [("", "none (cannot use Dockyard)")] + [(name, f"{name}: {roles.ROLE_HELP[name]}")
                                                        for name in (roles.VIEWER, roles.BUILDER, roles.ADMIN)]


class NewUserForm(UserCreationForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=roles.VIEWER, required=False)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)
    active = forms.BooleanField(required=False)


@requires("manage_users")
def user_list(request):
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        roles.assign(user, form.cleaned_data["role"])
        audit.record(request.user, "user-create", user.get_username(), detail=f"role {form.cleaned_data['role'] or 'none'}")
        messages.success(request, f"Created {user.get_username()}.")
        return redirect("users-list")
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    return render(request, "users/user_list.html", {
        "form": form, "users": [(user, roles.role_of(user)) for user in users], "choices": ROLE_CHOICES,
    })


@require_POST
@requires("manage_users")
def user_role(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
    elif user == request.user:
        messages.error(request, "You cannot change your own role or lock yourself out; ask another admin.")
    elif user.is_superuser:
        messages.error(request, f"{user.get_username()} is a superuser, with every permission; change that in the admin site.")
    else:
        role, active = form.cleaned_data["role"], form.cleaned_data["active"]
        before = f"{roles.role_of(user) or 'none'}{'' if user.is_active else ', inactive'}"
        roles.assign(user, role)
        user.is_active = active
        user.save(update_fields=["is_active"])
        after = f"{role or 'none'}{'' if active else ', inactive'}"
        audit.record(request.user, "user-role", user.get_username(), detail=f"{before} -> {after}")
        messages.success(request, f"{user.get_username()} is now {after}.")
    return redirect("users-list")
