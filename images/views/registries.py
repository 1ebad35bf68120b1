"""Registry logins, for admins. Every change is audited; the password never is."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images.accounts import registries
from images.accounts.forms import RegistryForm
from images.accounts.roles import requires
from images.models import Registry


@requires("manage_registries")
def registry_list(request):
    return render(request, "registries/registry_list.html", {"registries": Registry.objects.all()})


@requires("manage_registries")
def registry_edit(request, pk=None):
    registry = get_object_or_404(Registry, pk=pk) if pk else None
    form = RegistryForm(request.POST or None, instance=registry)
    if request.method == "POST" and form.is_valid():
        registry = registries.save_registry(form, request.user)
        messages.success(request, f"Saved the login for {registry.address}.")
        return redirect("registries-list")
    return render(request, "registries/registry_form.html", {"form": form, "registry": registry})


@require_POST
@requires("manage_registries")
def registry_delete(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    registries.delete_registry(registry, request.user)
    messages.success(request, f"Deleted the login for {registry.address}.")
    return redirect("registries-list")


@require_POST
@requires("manage_registries")
def registry_test(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    failure = registries.try_login(request.engine, registry, request.user)
    if failure:
        messages.error(request, f"Login to {registry.address} failed: {failure}")
    else:
        messages.success(request, f"Logged in to {registry.address} as {registry.username}.")
    return redirect("registries-list")
