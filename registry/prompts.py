"""MLflow's prompt registry as it is stored here: a prompt is a registered model of kind `prompt` (the client tags
it `mlflow.prompt.is_prompt=true`), its versions are model versions whose template lives in the version tag
`mlflow.prompt.text` and whose source is one of the client's placeholders (they own no artifacts)."""
from __future__ import annotations

import difflib
import json

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
TEXT_TAG = "mlflow.prompt.text"
TYPE_TAG = "_mlflow_prompt_type"
# The placeholders MLflow's client ("dummy-source", MlflowClient.register_prompt) and its store ("prompt-template",
# AbstractStore.create_prompt_version) send as a prompt version's source; no other source is a prompt's.
SOURCE_PLACEHOLDERS = frozenset({"dummy-source", "prompt-template"})
# A template is a version tag, but longer than other tags may be (MLflow's server allows long templates too).
TEMPLATE_MAX_LENGTH = 100_000
# Tags the client writes for its own bookkeeping: shown as the prompt's fields, not as user tags.
SYSTEM_TAG_PREFIXES = ("mlflow.prompt.", "_mlflow_prompt_", "_mlflow_experiment_ids")


def tags_mark_prompt(tags: dict[str, str] | None) -> bool:
    return str((tags or {}).get(IS_PROMPT_TAG, "")).lower() == "true"


def is_system_tag(key: str) -> bool:
    return key.startswith(SYSTEM_TAG_PREFIXES)


def template_text(tags: dict[str, str]) -> str:
    """The version's template as a person reads it: text as stored, a chat template as its messages, one per
    paragraph ("role: content")."""
    text = tags.get(TEXT_TAG, "")
    if tags.get(TYPE_TAG) == "chat":
        try:
            messages = json.loads(text)
            return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages)
        except (ValueError, TypeError, AttributeError):
            return text
    return text


def template_diff(old: str, new: str) -> list[dict]:
    """A line diff of two templates: rows of {"op": "equal"|"delete"|"insert", "old": n|None, "new": n|None,
    "text"}, in order (difflib's opcodes, a replace as its deletions then its insertions)."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[dict] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [{"op": "equal", "old": i + 1, "new": j + 1, "text": a[i]} for i, j in zip(range(i1, i2), range(j1, j2))]
            continue
        rows += [{"op": "delete", "old": i + 1, "new": None, "text": a[i]} for i in range(i1, i2)]
        rows += [{"op": "insert", "old": None, "new": j + 1, "text": b[j]} for j in range(j1, j2)]
    return rows
