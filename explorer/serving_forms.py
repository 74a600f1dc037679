"""Forms of the model page's Serving tab. They only parse input; the serving services validate it for real."""
from __future__ import annotations

from django import forms

from registry.serving.protocol import MAX_PAYLOAD_BYTES
from registry.serving.services import MAX_MEMORY_LIMIT_MB, MAX_WORKERS, MIN_MEMORY_LIMIT_MB, MIN_WORKERS


def parse_tag_lines(text: str) -> dict[str, str]:
    """`key=value`, one a line (blank lines skipped); the value may itself hold '='."""
    tags: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {number}: write each tag as key=value.")
        tags[key.strip()] = value.strip()
    return tags


def tag_lines(tags: dict) -> str:
    return "\n".join(f"{key}={value}" for key, value in sorted((tags or {}).items()))


class ServingSettingsForm(forms.Form):
    workers = forms.IntegerField(min_value=MIN_WORKERS, max_value=MAX_WORKERS, label="Worker processes per version",
                                 help_text=f"{MIN_WORKERS} to {MAX_WORKERS} model processes answer for each version.")
    memory_limit_mb = forms.IntegerField(min_value=MIN_MEMORY_LIMIT_MB, max_value=MAX_MEMORY_LIMIT_MB,
                                         label="Memory limit of the pool (MB)",
                                         help_text="A pool over its limit is stopped and the version marked Failed.")
    tags = forms.CharField(required=False, label="Tags", strip=False,
                           widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
                           help_text="One key=value a line.")

    def clean_tags(self) -> dict[str, str]:
        return parse_tag_lines(self.cleaned_data.get("tags") or "")


class ServingRequestForm(forms.Form):
    reference = forms.CharField(max_length=300, label="Send to")
    payload = forms.CharField(required=False, strip=False, max_length=MAX_PAYLOAD_BYTES, label="Request (JSON)",
                              widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}))
