"""An optional description generator that asks an OpenAI-compatible chat endpoint (`/v1/chat/completions`) to write
the description, from the same facts the offline generator collects for the current user (signature, run params,
metrics and datasets; nothing that goes stale or names another object) — nothing else leaves the server. Enable it
with

    DESCRIPTION_GENERATOR=explorer.llm_generator.chat_description
    DESCRIPTION_LLM_URL=https://api.example.com/v1   DESCRIPTION_LLM_MODEL=...   DESCRIPTION_LLM_API_KEY=...

The draft is shown for Accept / Edit / Cancel like any other; a failure is shown in the dialog."""
from __future__ import annotations

import json
import os
import urllib.request

from explorer.generators import offline_description

_TIMEOUT_SECONDS = 30
_MAX_ANSWER_CHARS = 20_000
SYSTEM_PROMPT = (
    "You write concise Markdown descriptions of machine-learning models for a model registry. Use only the facts "
    "given. Start with one sentence saying what the model does, then short sections for inputs and outputs, "
    "training data and metrics. Do not invent numbers, and do not add names, counts or other facts that are not "
    "given: the text is saved and read later, by people who may not see more than these facts."
)


def chat_description(obj, *, actor) -> str:
    base = os.environ.get("DESCRIPTION_LLM_URL", "").rstrip("/")
    model = os.environ.get("DESCRIPTION_LLM_MODEL", "")
    if not base or not model:
        raise RuntimeError("DESCRIPTION_LLM_URL and DESCRIPTION_LLM_MODEL must be set to use the chat generator.")
    facts = offline_description(obj, actor=actor)  # only what this user may read, and nothing that goes stale
    body = json.dumps({
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                     {"role": "user", "content": f"Describe this model from these facts:\n\n{facts}"}],
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
