"""Forms of the webhook dialogs: name, URL, description, the events to hear (MLflow's model events, split from ours
as the service takes them) and whether to sign with a new secret (generated here, shown once)."""
from __future__ import annotations

import secrets

from django import forms

from registry.events import names
from registry.events.emails import event_label
from registry.models import Webhook


def _model_events(registry_wide: bool) -> list[str]:
    ours = [e for e in names.MLFLOW_EVENTS if not e.startswith(("prompt", "budget"))]
    return [e for e in ours if registry_wide or e not in names.REGISTRY_WIDE_ONLY]


class WebhookForm(forms.Form):
    name = forms.CharField(max_length=63, label="Name", help_text="Letters, digits, '.', '_' and '-'.")
    url = forms.CharField(max_length=2000, label="URL", widget=forms.TextInput(
        attrs={"placeholder": "https://", "inputmode": "url", "autocomplete": "off"}))
    description = forms.CharField(required=False, label="Description", widget=forms.Textarea(attrs={"rows": 2}))
    mlflow_events = forms.MultipleChoiceField(label="MLflow events", widget=forms.CheckboxSelectMultiple,
                                              required=False)
    explorer_events = forms.MultipleChoiceField(label="Catalog Explorer events", widget=forms.CheckboxSelectMultiple,
                                                required=False)
    new_secret = forms.BooleanField(required=False, label="Sign deliveries with a new secret (shown once)")

    def __init__(self, *args, registry_wide: bool, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mlflow_events"].choices = [(e, event_label(e)) for e in _model_events(registry_wide)]
        self.fields["explorer_events"].choices = [(e, event_label(e)) for e in names.EXPLORER_EVENTS]
        if editing:
            self.fields["new_secret"].label = "Replace the secret with a new one (shown once)"
            self.fields["status"] = forms.ChoiceField(choices=Webhook.Status.choices, label="Status")

    def clean(self):
        data = super().clean()
        if not data.get("mlflow_events"):
            # MLflow's client cannot read a webhook without one of its own events (the service says so too).
            self.add_error("mlflow_events", "Choose at least one MLflow event.")
        return data

    def service_events(self) -> dict:
        return {"events": [names.mlflow_json(e) for e in self.cleaned_data["mlflow_events"]],
                "explorer_events": list(self.cleaned_data["explorer_events"])}

    def secret(self) -> str | None:
        return secrets.token_urlsafe(32) if self.cleaned_data.get("new_secret") else None


def initial_of(hook: Webhook) -> dict:
    return {"name": hook.name, "url": hook.url, "description": hook.description, "status": hook.status,
            "mlflow_events": [e for e in hook.events if e in names.MLFLOW_EVENTS],
            "explorer_events": [e for e in hook.events if e in names.EXPLORER_EVENTS]}
