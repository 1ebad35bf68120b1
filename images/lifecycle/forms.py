"""Forms of the tag and import pages (and their API twins)."""

from django import forms

from images.models import RetentionRule


class TagForm(forms.Form):
    # Lengths are checked with the reference grammar, which says what is wrong.
    repository = forms.CharField(max_length=1000)
    tag = forms.CharField(max_length=1000, required=False)  # latest, unless the repository carries one
    move = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ImportForm(forms.Form):
    archive = forms.FileField(label="Image archive (.tar from docker save)")

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if not archive.name.lower().endswith(".tar"):
            raise forms.ValidationError("Upload the .tar that docker save (or Dockyard's Export) wrote.")
        return archive


class RunForm(forms.Form):
    """The image page's Run form: a command, env, working directory, user, a TTY,
    and limits up to the admin's caps. It has no field for ports, mounts,
    devices, capabilities or privileges: a run never gets them."""

    command = forms.CharField(required=False, max_length=4000, label="Command",
                              help_text="Empty: the image's own. Split into words as a shell would quote them, but "
                                        "run without a shell: ; | $( ) are plain characters.")
    shell = forms.BooleanField(required=False, label="Run through sh -c",
                               help_text="The command as one script for /bin/sh in the image.")
    env = forms.CharField(required=False, max_length=20000, label="Environment",
                          widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
                          help_text="NAME=value, a line each. Only the names are shown to others and audited.")
    workdir = forms.CharField(required=False, max_length=1000, label="Working directory")
    user = forms.CharField(required=False, max_length=130, label="User")
    tty = forms.BooleanField(required=False, label="Allocate a TTY",
                             help_text="Output as a terminal shows it; stdout and stderr are then one stream.")
    memory_mb = forms.IntegerField(label="Memory (MB)")
    cpus = forms.DecimalField(label="CPUs", max_digits=6, decimal_places=2)
    pids = forms.IntegerField(label="Processes")
    timeout = forms.IntegerField(label="Time limit (seconds)")
    network = forms.ChoiceField(label="Network", initial="none")

    def __init__(self, *args, image=None, **kwargs):
        from django.conf import settings

        from images.lifecycle import runs

        super().__init__(*args, **kwargs)
        self.image = image
        self.fields["network"].choices = [(name, name) for name in runs.allowed_networks()]
        for name, cap, unit in (("memory_mb", settings.DOCKYARD_RUN_MEMORY, "MB"),
                                ("cpus", settings.DOCKYARD_RUN_CPUS, ""), ("pids", settings.DOCKYARD_RUN_PIDS, ""),
                                ("timeout", settings.DOCKYARD_RUN_TIMEOUT, "s")):
            self.fields[name].initial = cap
            self.fields[name].help_text = f"At most {cap}{' ' + unit if unit else ''} (an admin's setting)."

    def clean(self):
        from images.lifecycle import runs

        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            command = cleaned.get("command") or ""
            cleaned["params"] = runs.run_params(
                self.image.id, self.image.tags[0] if self.image.tags else "",
                argv=None if cleaned.get("shell") else runs.parse_argv(command),
                shell=command if cleaned.get("shell") and command.strip() else None,
                env=runs.parse_env_text(cleaned.get("env") or ""), workdir=cleaned.get("workdir") or "",
                user=cleaned.get("user") or "", tty=bool(cleaned.get("tty")), memory_mb=cleaned["memory_mb"],
                cpus=float(cleaned["cpus"]), pids=cleaned["pids"], timeout=cleaned["timeout"],
                network=cleaned["network"])
        except runs.RunRefused as exc:
            self.add_error(exc.field if exc.field in self.fields else None, str(exc).split(": ", 1)[1])
        return cleaned


class CommitForm(forms.Form):
    reference = forms.CharField(max_length=1000, label="Save as (repository:tag)")
    message = forms.CharField(required=False, max_length=2000, label="Message")
    changes = forms.CharField(required=False, max_length=20000, label="Configuration changes",
                              widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
                              help_text="Dockerfile lines, one each: CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, LABEL, USER.")


class RetentionRuleForm(forms.Form):
    """A retention rule: the repositories it governs and what it keeps of each;
    or a dangling rule and its days."""

    kind = forms.ChoiceField(choices=RetentionRule.Kind.choices, initial=RetentionRule.Kind.TAGS, required=False,
                             label="Kind of rule")
    repository_pattern = forms.CharField(
        required=False, max_length=255, label="Repositories (glob)",
        help_text="Matched against the whole repository name, without the tag: team/* (* stops at /), "
                  "**/api-? or 127.0.0.1:5000/web")
    keep_last = forms.IntegerField(required=False, min_value=0, max_value=100_000, label="Keep the newest N tags")
    keep_days = forms.IntegerField(required=False, min_value=0, max_value=100_000,
                                   label="Keep tags (or dangling images) made or moved in the last D days",
                                   help_text="A dangling rule lets the dangling images older than D days go.")
    keep_pattern = forms.CharField(required=False, max_length=255, label="Keep tags matching (regular expression)",
                                   help_text="Matched against the whole tag: v\\d+\\.\\d+\\.\\d+ or release-.*")

    def clean_kind(self):
        return self.cleaned_data.get("kind") or RetentionRule.Kind.TAGS

    def clean_repository_pattern(self):
        from images.lifecycle import retention

        text = (self.cleaned_data.get("repository_pattern") or "").strip()
        if self.cleaned_data.get("kind") == RetentionRule.Kind.DANGLING:
            return text  # clean() refuses it, if any
        try:
            retention.checked_glob(text)
        except retention.ActionRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        return text

    def clean_keep_pattern(self):
        from images.lifecycle import retention

        text = (self.cleaned_data.get("keep_pattern") or "").strip()
        if not text:
            return ""
        try:
            retention.checked_pattern(text, "tag pattern")
        except retention.ActionRefused as refused:
            raise forms.ValidationError(str(refused)) from None
        return text

    def clean(self):
        from images.lifecycle import retention

        data = super().clean()
        if not self.errors:
            try:
                retention.checked_rule(data["repository_pattern"], data["keep_last"], data["keep_days"],
                                       data["keep_pattern"], data["kind"])
            except retention.ActionRefused as refused:
                raise forms.ValidationError(str(refused)) from None
        return data
