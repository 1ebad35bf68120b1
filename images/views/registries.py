from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images.engine import EngineError, get_engine
from images.lifecycle_forms import RegistryForm
from images.models import Registry


def registry_list(request):
    return render(request, "registries/registry_list.html", {"registries": Registry.objects.all()})


def registry_edit(request, pk=None):
    registry = get_object_or_404(Registry, pk=pk) if pk else None
    form = RegistryForm(request.POST or None, instance=registry)
    if request.method == "POST" and form.is_valid():
        registry = form.save()
        messages.success(request, f"Saved the login for {registry.address}.")
        return redirect("registries-list")
    return render(request, "registries/registry_form.html", {"form": form, "registry": registry})


@require_POST
def registry_delete(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    registry.delete()
    messages.success(request, f"Deleted the login for {registry.address}.")
    return redirect("registries-list")


@require_POST
def registry_test(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    auth = registry.auth_config()
    try:
        get_engine().login(registry.address, auth["username"], auth["password"])
        messages.success(request, f"Logged in to {registry.address} as {registry.username}.")
    except EngineError as exc:
        # The engine's message names the registry and the reason, never the password.
        messages.error(request, f"Login to {registry.address} failed: {exc}")
    return redirect("registries-list")
