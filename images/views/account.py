"""A person's own API tokens: create (shown once), list, revoke."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from images import audit
from images.models import ApiToken
from images.roles import ROLE_HELP, requires, role_of


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI on build-01'.")


@requires("browse")
def token_list(request):
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        token, new_token = ApiToken.issue(request.user, form.cleaned_data["name"])
        audit.record(request.user, "token-create", f"{token.name} ({token.prefix}…)")
        form = TokenForm()
    role = role_of(request.user)
    return render(request, "account/tokens.html", {
        "form": form, "new_token": new_token, "tokens": request.user.api_tokens.all(),
        "role": role, "role_help": ROLE_HELP.get(role, ""),
    })


@require_POST
@requires("browse")
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.delete()
    audit.record(request.user, "token-revoke", f"{token.name} ({token.prefix}…)")
    messages.success(request, f"Revoked the token {token.name} ({token.prefix}…); scripts using it are refused now.")
    return redirect("tokens-list")
