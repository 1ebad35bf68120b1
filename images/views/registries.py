"""Registry logins, for admins. Every change is audited; the password never is."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images import audit
from images.engine import EngineError, get_engine
from images.lifecycle_forms import RegistryForm
from images.models import Registry
from images.roles import requires


@requires("manage_registries")
def registry_list(request):
    return render(request, "registries/registry_list.html", {"registries": Registry.objects.all()})


@requires("manage_registries")
def registry_edit(request, pk=None):
    registry = get_object_or_404(Registry, pk=pk) if pk else None
    form = RegistryForm(request.POST or None, instance=registry)
    if request.method == "POST" and form.is_valid():
        changed = [name for name in form.changed_data if name != "password"]
        if form.cleaned_data.get("password"):
            changed.append("password (not recorded)")
        registry = form.save()
        audit.record(request.user, "registry-add" if pk is None else "registry-change", registry.address,
                     detail=f"user {registry.username}; changed {', '.join(changed) or 'nothing'}")
        messages.success(request, f"Saved the login for {registry.address}.")
        return redirect("registries-list")
    return render(request, "registries/registry_form.html", {"form": form, "registry": registry})


@require_POST
@requires("manage_registries")
def registry_delete(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    registry.delete()
    audit.record(request.user, "registry-delete", registry.address, detail=f"user {registry.username}")
    messages.success(request, f"Deleted the login for {registry.address}.")
    return redirect("registries-list")


@require_POST
@requires("manage_registries")
def registry_test(request, pk):
    registry = get_object_or_404(Registry, pk=pk)
    auth = registry.auth_config()
    try:
        with audit.recorded(request.user, "registry-login", registry.address, detail=f"as {registry.username}"):
            get_engine().login(registry.address, auth["username"], auth["password"])
        messages.success(request, f"Logged in to {registry.address} as {registry.username}.")
    except EngineError as exc:
        # The engine's message names the registry and the reason, never the password.
        messages.error(request, f"Login to {registry.address} failed: {exc}")
    return redirect("registries-list")
