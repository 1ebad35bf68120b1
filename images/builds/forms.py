"""Forms for starting builds and pulls, and for build secrets; the API uses the same forms."""

import re

from django import forms
from django.core.validators import RegexValidator

from images.builds import builders, contexts, fetches, secrets
from images.models import BuildSecret
from images.refs import InvalidReference, parse_reference

SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|KEY", re.IGNORECASE)
# Build args and labels reach the engine in the build request's URL, and every
# field is stored with the job: each has a cap, refused with the form's error.
PAIRS_MAX = 16 * 1024
MAX_TAGS = 20
TAG_SEPARATORS = re.compile(r"[,\r\n]")


def _pairs(text, what):
    """KEY=value lines (blank lines and # comments skipped) as a dict."""
    pairs = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {number} of the {what} is not KEY=value.")
        pairs[key.strip()] = value
    return pairs


class BuildForm(forms.Form):
    builder = forms.ChoiceField(choices=builders.CHOICES, required=False, widget=forms.RadioSelect, label="Builder",
                                help_text="BuildKit unless this engine cannot; the classic builder has no cache or "
                                          "secret mounts, no COPY --chmod, and runs stages one after another.")
    source = forms.ChoiceField(choices=contexts.SOURCES.items(), initial="dockerfile")
    dockerfile_text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
                                      label="Dockerfile", max_length=1024 * 1024)
    context = forms.FileField(required=False, label="Context archive (.tar, .tar.gz, .zip)")
    directory = forms.CharField(required=False, max_length=4096, label="Directory on the server")
    git_url = forms.CharField(required=False, max_length=2048, label="Git URL (#ref:subdir allowed)")
    dockerfile = forms.CharField(required=False, max_length=1024, initial="Dockerfile",
                                 label="Dockerfile path in the context")
    tags = forms.CharField(required=False, max_length=4096,
                           help_text="One or more, separated by commas. Leave it empty and the image is untagged: "
                                     "only its id names it, and a prune of dangling images removes it.")
    build_args = forms.CharField(required=False, max_length=PAIRS_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                                 label="Build args",
                                 help_text="KEY=value, one a line. Build args are visible in docker history: "
                                           "never pass secrets this way; choose build secrets instead.")
    labels = forms.CharField(required=False, max_length=PAIRS_MAX, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="key=value, one a line.")
    secret_args_ok = forms.BooleanField(required=False, label="I know these build args end up in the image's "
                                                              "history, where anyone who can pull it reads them")
    secrets = forms.MultipleChoiceField(
        required=False, label="Secrets", widget=forms.CheckboxSelectMultiple,
        help_text="Mounted where the Dockerfile asks, as RUN --mount=type=secret,id=<id>, and in no layer of the "
                  "image (BuildKit builds). Yours and the shared ones, kept on the Secrets page.")
    target = forms.CharField(required=False, max_length=200, label="Target stage")
    no_cache = forms.BooleanField(required=False, label="No cache")
    pull = forms.BooleanField(required=False, label="Always pull the base image")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secrets"].choices = [(name, name) for name in (secrets.usable_names(user) if user else [])]
        if not self.is_bound:
            self.fields["builder"].initial = builders.default_builder()

    def clean_builder(self):
        """The builder chosen, or the default: BuildKit wherever the engine supports it."""
        builder = self.cleaned_data["builder"] or builders.default_builder()
        if builder == builders.BUILDKIT:
            supported, reason = builders.buildkit_support()
            if not supported:
                raise forms.ValidationError(f"BuildKit is not available: {reason}. Choose the classic builder.")
        return builder

    def clean_tags(self):
        # Not on spaces: "walk x:1" is a typo for one tag, not the two tags walk:latest and x:1.
        tags = [tag.strip() for tag in TAG_SEPARATORS.split(self.cleaned_data["tags"]) if tag.strip()]
        for tag in tags:
            if any(char.isspace() for char in tag):
                raise forms.ValidationError(f"Tags: {tag!r} has a space, which no tag may have. "
                                            "Separate tags with commas or new lines.")
        if len(tags) > MAX_TAGS:
            raise forms.ValidationError(f"At most {MAX_TAGS} tags; this has {len(tags)}.")
        for tag in tags:
            try:
                _, _, digest = parse_reference(tag)
            except InvalidReference as exc:
                raise forms.ValidationError(f"{tag}: {exc}") from exc
            if digest:
                raise forms.ValidationError(f"{tag}: a tag cannot carry a digest.")
        return list(dict.fromkeys(tags))

    def clean_dockerfile(self):
        try:
            return contexts.check_dockerfile_path(self.cleaned_data["dockerfile"])
        except contexts.ContextError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_build_args(self):
        return _pairs(self.cleaned_data["build_args"], "build args")

    def clean_labels(self):
        return _pairs(self.cleaned_data["labels"], "labels")

    def clean_git_url(self):
        url = self.cleaned_data["git_url"].strip()
        if not url:
            return url
        try:
            return contexts.check_git_url(url)
        except contexts.ContextError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        data = super().clean()
        secret_like = [name for name in data.get("build_args") or {} if SECRET_NAME.search(name)]
        if secret_like and not data.get("secret_args_ok"):
            self.add_error("build_args", (
                f"{', '.join(secret_like)} looks like a secret. Build args are recorded in the image's history "
                "(docker history shows them): keep it on the Secrets page and choose it under Secrets, "
                "or tick the box below to build anyway."))
        if data.get("secrets") and data.get("builder") == "classic":
            self.add_error("secrets", "Secrets are mounted by BuildKit builds only: choose the BuildKit builder.")
        source = data.get("source")
        if source == "dockerfile" and not (data.get("dockerfile_text") or "").strip():
            self.add_error("dockerfile_text", "Write or paste a Dockerfile.")
        elif source == "upload":
            upload = data.get("context")
            if not upload:
                self.add_error("context", "Choose a context archive to upload.")
            else:
                try:
                    contexts.check_upload(upload)
                except contexts.ContextError as exc:
                    self.add_error("context", str(exc))
        elif source == "directory":
            try:
                data["directory"] = contexts.resolve_directory(data.get("directory") or "")
            except contexts.ContextError as exc:
                self.add_error("directory", str(exc))
        elif source == "git" and not data.get("git_url"):
            self.add_error("git_url", "Give the URL of a git repository.")
        if not self.errors:
            self._check_fetches(data)
        return data

    def _check_fetches(self, data):
        """What the Dockerfile would make the engine fetch (images/builds/fetches.py)."""
        params = {key: data.get(key) for key in ("source", "dockerfile_text", "dockerfile", "directory", "build_args")}
        try:
            fetches.check_build(params, upload=data.get("context") if data["source"] == "upload" else None)
        except contexts.ContextError as exc:
            field = {"dockerfile": "dockerfile_text", "upload": "context", "directory": "directory"}
            self.add_error(field.get(data["source"]), str(exc))

    def job_params(self):
        """The job's recipe. An upload is saved now, so a rebuild can use it again."""
        data = self.cleaned_data
        params = {
            "builder": data["builder"],
            "source": data["source"],
            "dockerfile": data["dockerfile"],
            "tags": data["tags"],
            "build_args": data["build_args"],
            "labels": data["labels"],
            "target": data["target"],
            "no_cache": data["no_cache"],
            "pull": data["pull"],
            "secrets": data["secrets"],
        }
        if data["source"] == "dockerfile":
            params["dockerfile_text"] = data["dockerfile_text"]
        elif data["source"] == "upload":
            params["context_file"] = contexts.save_upload(data["context"], checked=True)
            params["context_format"] = contexts.archive_format(data["context"].name)
            params["context_name"] = data["context"].name
        elif data["source"] == "directory":
            params["directory"] = data["directory"]
        else:
            params["git_url"] = data["git_url"]
        return params


class PullForm(forms.Form):
    reference = forms.CharField(max_length=600, label="Image",
                                help_text="name, name:tag or name@digest; a registry host may lead, as in "
                                          "127.0.0.1:5000/team/app:1.0")

    def clean_reference(self):
        reference = self.cleaned_data["reference"].strip()
        try:
            parse_reference(reference)
            fetches.check_registry(reference)
        except (InvalidReference, fetches.FetchRefused) as exc:
            raise forms.ValidationError(str(exc)) from exc
        return reference


class BuildSecretForm(forms.Form):
    """A new build secret; `shared` only for those who keep the shared ones."""

    name = forms.CharField(label="Id", max_length=64, validators=[RegexValidator(
        f"^{BuildSecret.NAME_PATTERN}$", "Up to 64 letters, digits, dots, dashes and underscores.")],
        help_text="What the Dockerfile mounts it by: RUN --mount=type=secret,id=<id>.")
    value = forms.CharField(strip=False, max_length=BuildSecret.VALUE_LIMIT, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false",
                                                                      "autocomplete": "off"}),
                            help_text="Stored encrypted and never shown again. At most 500 KiB.")
    shared = forms.BooleanField(required=False, label="Shared: every builder may build with it")

    def __init__(self, *args, may_share=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_share:
            del self.fields["shared"]

    def clean_value(self):
        return _secret_value(self.cleaned_data["value"])


class SecretValueForm(forms.Form):
    value = forms.CharField(label="New value", strip=False, max_length=BuildSecret.VALUE_LIMIT,
                            widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
                            help_text="Replaces the stored value, which is never shown. At most 500 KiB.")

    def clean_value(self):
        return _secret_value(self.cleaned_data["value"])


def _secret_value(value):
    value = secrets.normalized_value(value)
    if not value:
        raise forms.ValidationError("A secret needs a value.")
    if len(value.encode()) > BuildSecret.VALUE_LIMIT:
        raise forms.ValidationError(f"The value is {len(value.encode()):,} bytes; BuildKit takes at most "
                                    f"{BuildSecret.VALUE_LIMIT:,}.")
    return value
