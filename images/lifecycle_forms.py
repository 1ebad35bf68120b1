from django import forms

from images.models import Registry


class TagForm(forms.Form):
    # Lengths are checked with the reference grammar, which says what is wrong.
    repository = forms.CharField(max_length=1000)
    tag = forms.CharField(max_length=1000, required=False, initial="latest")
    move = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ImportForm(forms.Form):
    archive = forms.FileField(label="Image archive (.tar from docker save)")

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        if not archive.name.lower().endswith(".tar"):
            raise forms.ValidationError("Upload the .tar that docker save (or Dockyard's Export) wrote.")
        return archive


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
