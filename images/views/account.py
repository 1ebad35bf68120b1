"""A person's own API tokens: create (shown once), list, revoke."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from images.accounts import tokens
from images.accounts.forms import TokenForm
from images.accounts.roles import KEEP_TOKENS, ROLE_HELP, requires, role_of


@requires("browse", action=KEEP_TOKENS)
def token_list(request):
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        _, new_token = tokens.issue_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    role = role_of(request.user)
    return render(request, "account/tokens.html", {
        "form": form, "new_token": new_token, "tokens": request.user.api_tokens.all(),
        "role": role, "role_help": ROLE_HELP.get(role, ""),
    })


@require_POST
@requires("browse", action=KEEP_TOKENS)
def token_revoke(request, pk):
    token = tokens.token_for(request.user, pk)
    tokens.revoke_token(token, request.user)
    messages.success(request, f"Revoked the token {token.name} ({token.prefix}…); scripts using it are refused now.")
    return redirect("tokens-list")
