"""The forms hook sources and receivers are made with (the API and Django's admin validate with them)."""

from django import forms
from django.contrib.auth import get_user_model

from images.accounts import roles
from images.hooks import destinations
from images.models import HookSource, Job, WebhookReceiver

# The events a receiver may ask for; images.hooks.outbound sends them.
EVENTS = {
    "job.succeeded": "A job ended well (a build, pull, push, import, index or run).",
    "job.failed": "A job failed.",
    "base.updated": "A base image that recipes build from moved to another image.",
    "rebuild.batch_finished": "A batch rebuilding what is built on a base ended (each item's outcome).",
}


class HookSourceForm(forms.ModelForm):
    recipe = forms.ModelChoiceField(queryset=Job.objects.filter(kind=Job.Kind.BUILD),
                                    help_text="The id of the build job whose recipe a push builds again.",
                                    error_messages={"invalid_choice": "No build job has this id."})
    run_as = forms.ModelChoiceField(queryset=get_user_model().objects.filter(is_active=True), to_field_name="username",
                                    required=False, help_text="The user name the rebuild runs as (yours by default).",
                                    error_messages={"invalid_choice": "No active user has this name."})

    class Meta:
        model = HookSource
        fields = ["name", "provider", "repository", "branch", "recipe", "run_as", "enabled"]

    def clean_repository(self):
        repository = self.cleaned_data["repository"].strip().strip("/")
        if "/" not in repository or " " in repository or "://" in repository:
            raise forms.ValidationError("Give the repository as owner/name (GitLab: group/subgroup/name).")
        return repository

    def clean_branch(self):
        branch = self.cleaned_data["branch"].strip().removeprefix("refs/heads/")
        if not branch or " " in branch:
            raise forms.ValidationError("Give the branch's name, e.g. main.")
        return branch

    def clean(self):
        data = super().clean()
        run_as = data.get("run_as")
        recipe = data.get("recipe")
        if run_as is not None and recipe is not None and not roles.may(run_as, "build", recipe.engine):
            self.add_error("run_as", f"{run_as.get_username()} may not build on {recipe.engine}, so the hook could "
                                     "start nothing.")
        return data


class WebhookReceiverForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=list(EVENTS.items()))

    class Meta:
        model = WebhookReceiver
        fields = ["name", "url", "format", "events", "enabled"]

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            destinations.check_url(url)
        except destinations.DestinationRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return url
