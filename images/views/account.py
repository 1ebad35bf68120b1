"""A person's own account: API tokens (create, shown once; list; revoke) and their password."""

from django.contrib import messages
from django.contrib.auth.views import PasswordChangeView
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from images.accounts import audit, tokens
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


class OwnPasswordChange(PasswordChangeView):
    """Django's own password change (old password, new twice, the validators), for
    every signed-in person: the admin site's sends builders and viewers to its login."""

    template_name = "account/password_change.html"
    success_url = reverse_lazy("tokens-list")

    def form_valid(self, form):
        response = super().form_valid(form)  # keeps this session; the others end with the old password
        audit.record(self.request.user, "password", self.request.user.get_username())
        messages.success(self.request, "Your password is changed. Your other sessions are signed out; "
                                       "your API tokens keep working.")
        return response
