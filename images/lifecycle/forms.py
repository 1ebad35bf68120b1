"""Forms of the tag and import pages (and their API twins)."""

from django import forms


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
