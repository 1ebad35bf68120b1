from django import forms

from images.catalog.listing import DEFAULT_SORT, FILTERS, SORTS


class ImageListForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    state = forms.ChoiceField(required=False, choices=FILTERS.items(), label="Show")
    sort = forms.ChoiceField(required=False, choices=SORTS.items(), label="Sort")

    def options(self):
        """The valid options, with the default in place of each one that is not:
        a bad sort in a hand-edited URL should not also drop the search."""
        self.is_valid()
        return {
            "q": self.cleaned_data.get("q", ""),
            "state": self.cleaned_data.get("state", ""),
            "sort": self.cleaned_data.get("sort") or DEFAULT_SORT,
        }
