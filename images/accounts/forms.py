"""Forms of the account pages: registry logins, API tokens, users and roles
(the API validates with the same)."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from images.accounts import roles
from images.models import Registry

ROLE_CHOICES = [("", "none (cannot use Dockyard)")] + [(name, f"{name}: {roles.ROLE_HELP[name]}")
                                                        for name in (roles.VIEWER, roles.BUILDER, roles.ADMIN)]


class RegistryForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), required=False,
                               help_text="Password or token. Stored encrypted; leave empty to keep the current one.")

    class Meta:
        model = Registry
        fields = ["address", "username"]

    def clean_address(self):
        address = self.cleaned_data["address"].strip().lower()
        for prefix in ("https://", "http://"):
            address = address.removeprefix(prefix)
        address = address.rstrip("/")
        if not address or "/" in address or " " in address:
            raise forms.ValidationError("Give the registry as host or host:port, e.g. 127.0.0.1:5000.")
        return address

    def clean(self):
        data = super().clean()
        if not self.instance.pk and not data.get("password"):
            self.add_error("password", "A new registry needs a password or token.")
        return data

    def save(self, commit=True):
        registry = super().save(commit=False)
        if self.cleaned_data.get("password"):
            registry.set_password(self.cleaned_data["password"])
        if commit:
            registry.save()
        return registry


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI on build-01'.")


class NewUserForm(UserCreationForm):
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=roles.VIEWER, required=False)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)
    active = forms.BooleanField(required=False)


class AuditFilterForm(forms.Form):
    """The audit page's filters, as `audit.entries` takes them (the API's are the same)."""

    actor = forms.CharField(required=False, max_length=150, label="Who")
    action = forms.ChoiceField(required=False, label="Action")
    outcome = forms.ChoiceField(required=False, label="Outcome")
    via = forms.ChoiceField(required=False, label="Channel", choices=[
        ("", "Any channel"), ("web", "web"), ("api", "api (a session)"), ("token", "token"),
        ("cli", "cli (manage.py)"), ("auto", "automatic (Dockyard by itself)")])
    engine = forms.ChoiceField(required=False, label="Engine")
    since = forms.DateTimeField(required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, label="Before", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    q = forms.CharField(required=False, max_length=200, label="Words")

    def __init__(self, data, actions, outcomes, engines):
        super().__init__(data)
        # Offered are the values the log holds: a filter for one it has never seen would match nothing.
        self.fields["action"].choices = [("", "Any action")] + [(name, name) for name in actions]
        self.fields["outcome"].choices = [("", "Any outcome")] + [(name, name) for name in outcomes]
        self.fields["engine"].choices = [("", "Any engine")] + [(name, name) for name in engines]

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("“From” must come before “Before”.")
        return cleaned
