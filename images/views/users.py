"""Accounts and their roles, for admins. (Django's admin site can do the same.)"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts import users
from images.accounts.forms import ROLE_CHOICES, NewUserForm, RoleForm
from images.accounts.roles import requires


@requires("manage_users")
def user_list(request):
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = users.create_user(form, request.user)
        messages.success(request, f"Created {user.get_username()}.")
        return redirect("users-list")
    return render(request, "users/user_list.html", {
        "form": form, "users": users.accounts_with_roles(), "choices": ROLE_CHOICES,
    })


@require_POST
@requires("manage_users")
def user_role(request, pk):
    user = users.user_for(pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role.")
        return redirect("users-list")
    try:
        after = users.change_role(request.user, user, form.cleaned_data["role"], form.cleaned_data["active"])
        messages.success(request, f"{user.get_username()} is now {after}.")
    except users.ChangeRefused as refused:
        messages.error(request, str(refused))
    return redirect("users-list")
