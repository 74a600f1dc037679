"""An optional description generator that asks an OpenAI-compatible chat endpoint (`/v1/chat/completions`) to write
the description, from the same facts the offline generator writes from (explorer.description_facts: what the current
user may read, nothing that goes stale or names another object), sent as compact JSON — nothing else leaves the
server. Configure it with

    DESCRIPTION_LLM_URL=https://api.example.com/v1   DESCRIPTION_LLM_MODEL=...   DESCRIPTION_LLM_API_KEY=...

and the Generate dialog shows its draft beside the offline one (DESCRIPTION_GENERATOR=
explorer.llm_generator.chat_description does the same). A draft is saved only on Accept; a failure is shown in its
place in the dialog."""
from __future__ import annotations

import json
import os
import urllib.request

from explorer.description_facts import facts_for
from registry.models import RegisteredModel

_TIMEOUT_SECONDS = 30
_MAX_ANSWER_CHARS = 20_000
SYSTEM_PROMPT = (
    "You write the description of a machine-learning model for a model registry, as a person would write it: two "
    "or three short paragraphs of plain sentences (Markdown allowed, no headings, no lists of metadata). Say what "
    "the model predicts and from which inputs, how it was trained (estimator, key parameters, datasets) and how "
    "well it scored. Use only the facts given as JSON; leave out what is missing. Do not invent numbers, and do "
    "not add names, counts or other facts that are not given: the text is saved and read later, by people who "
    "may not see more than these facts."
)


def chat_description(obj, *, actor) -> str:
    base = os.environ.get("DESCRIPTION_LLM_URL", "").rstrip("/")
    model = os.environ.get("DESCRIPTION_LLM_MODEL", "")
    if not base or not model:
        raise RuntimeError("DESCRIPTION_LLM_URL and DESCRIPTION_LLM_MODEL must be set to use the chat generator.")
    facts = facts_for(obj, actor=actor).as_dict()  # only what this user may read, and nothing that goes stale
    if isinstance(obj, RegisteredModel):
        facts["registry"] = "Unity Catalog" if obj.is_unity_catalog else "workspace"
    compact = json.dumps(facts, separators=(",", ":"), ensure_ascii=False, default=str)
    body = json.dumps({
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                     {"role": "user", "content": f"Describe this model from these facts:\n\n{compact}"}],
        "temperature": 0.2,
    }).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("DESCRIPTION_LLM_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['DESCRIPTION_LLM_API_KEY']}"
    request = urllib.request.Request(f"{base}/chat/completions", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
        answer = json.loads(response.read(1_000_000))
    try:
        text = answer["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise RuntimeError("The chat endpoint answered without choices[0].message.content.") from None
    return str(text)[:_MAX_ANSWER_CHARS]
