"""Build secrets: builders keep their own, admins also the shared ones. Changes
are audited by id; a value is never shown again."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts.roles import requires
from images.builds import secrets
from images.builds.forms import BuildSecretForm, SecretValueForm


@requires("keep_secrets")
def secret_list(request):
    may_share = secrets.may_share(request.user)
    form = BuildSecretForm(request.POST or None, may_share=may_share)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            secret = secrets.add_secret(request.user, data["name"], data["value"], share=data.get("shared", False))
        except ValueError as exc:
            form.add_error("name", str(exc))
        else:
            messages.success(request, f"Saved the secret {secret}.")
            return redirect("secrets-list")
    return render(request, "secrets/secret_list.html", {
        "form": form, "own": secrets.own(request.user), "shared": secrets.shared(), "may_share": may_share,
    })


@requires("keep_secrets")
def secret_replace(request, pk):
    secret = secrets.secret_for(request.user, pk)
    form = SecretValueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        secrets.replace_value(request.user, secret, form.cleaned_data["value"])
        messages.success(request, f"Replaced the value of {secret}.")
        return redirect("secrets-list")
    return render(request, "secrets/secret_replace.html", {"form": form, "secret": secret})


@require_POST
@requires("keep_secrets")
def secret_delete(request, pk):
    secret = secrets.secret_for(request.user, pk)
    secrets.delete_secret(request.user, secret)
    messages.success(request, f"Deleted the secret {secret}.")
    return redirect("secrets-list")
