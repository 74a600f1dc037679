"""Forms of the browser UI. They only parse input; the services validate it for real and their errors are
shown on the form (`add_registry_error`)."""
from __future__ import annotations

from django import forms

from registry.errors import RegistryError
from registry.models import Privilege
from registry.models.models import Stage


def add_registry_error(form: forms.Form, exc: RegistryError, field: str | None = None) -> None:
    form.add_error(field, exc.message)


class AliasForm(forms.Form):
    alias = forms.CharField(max_length=255, label="Alias",
                            widget=forms.TextInput(attrs={"list": "alias-suggestions", "autocomplete": "off",
                                                          "pattern": "[A-Za-z0-9_\\-]+"}))
    version = forms.IntegerField(min_value=1, label="Version")


class AliasDeleteForm(forms.Form):
    alias = forms.CharField(max_length=255)


class TagForm(forms.Form):
    key = forms.CharField(max_length=255, label="Key",
                          widget=forms.TextInput(attrs={"list": "tag-key-suggestions", "autocomplete": "off"}))
    value = forms.CharField(max_length=5000, required=False, label="Value")


class TagDeleteForm(forms.Form):
    key = forms.CharField(max_length=255)


class DescriptionForm(forms.Form):
    description = forms.CharField(required=False, label="Description (Markdown)", strip=False,
                                  widget=forms.Textarea(attrs={"rows": 12, "data-dirty-check": "1"}))


class RenameForm(forms.Form):
    new_name = forms.CharField(max_length=800, label="New name")


class OwnerForm(forms.Form):
    principal = forms.CharField(max_length=300, label="New owner (user or group)",
                                widget=forms.TextInput(attrs={"list": "principal-suggestions", "autocomplete": "off"}))


class DeleteForm(forms.Form):
    confirm = forms.CharField(max_length=1000, label="Type the name to confirm")

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.expected:
            raise forms.ValidationError(f"Type {self.expected!r} exactly to confirm.")
        return value


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=[(s.value, s.value) for s in Stage], label="New stage")
    archive_existing_versions = forms.BooleanField(
        required=False, label="Archive the versions now in this stage (Staging and Production only)")


class GrantForm(forms.Form):
    principal = forms.CharField(max_length=300, label="User, group or service principal",
                                widget=forms.TextInput(attrs={"list": "principal-suggestions", "autocomplete": "off"}))
    privileges = forms.MultipleChoiceField(choices=Privilege.choices, widget=forms.CheckboxSelectMultiple,
                                           label="Privileges")

    def __init__(self, *args, applicable: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["privileges"].choices = [(p.value, p.label) for p in Privilege if p.value in applicable]


class RevokeForm(forms.Form):
    principal = forms.CharField(max_length=300)
    privilege = forms.ChoiceField(choices=Privilege.choices)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", initial="token")
    days = forms.IntegerField(min_value=0, max_value=3650, initial=90, label="Expires after (days, 0 = never)")


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="User")
    action = forms.CharField(required=False, max_length=64, label="Action")
    object = forms.CharField(required=False, max_length=800, label="Object")
    since = forms.DateTimeField(required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    outcome = forms.ChoiceField(required=False, label="Outcome",
                                choices=[("", "Any"), ("success", "success"), ("denied", "denied"), ("failed", "failed")])


NAME_HELP = "Stored in lower case; no spaces, periods or slashes."


class CreateCatalogForm(forms.Form):
    name = forms.CharField(max_length=255, label="Catalog name", help_text=NAME_HELP,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    comment = forms.CharField(required=False, label="Comment", strip=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class CreateSchemaForm(forms.Form):
    name = forms.CharField(max_length=255, label="Schema name", help_text=NAME_HELP,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    comment = forms.CharField(required=False, label="Comment", strip=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class CreateModelForm(forms.Form):
    name = forms.CharField(max_length=255, label="Model name", help_text=NAME_HELP,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    description = forms.CharField(required=False, label="Description (Markdown)", strip=False,
                                  widget=forms.Textarea(attrs={"rows": 5}))
