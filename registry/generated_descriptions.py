"""The closing note a description drafted by the "Generate" button carries, and what a copy does with it.

A generated description states facts about one version (or model). A copy gets the source's description, and the
facts in it are the source's, not the copy's: the copy's note says so instead of claiming them as its own. The
text is kept rather than regenerated for the copy, because a description is saved only when a person has read
and accepted it (a copy is not that person), a generator may be a remote service that a copy's transaction must
not wait on, and the copier may see facts that readers of the destination may not."""
from __future__ import annotations

from django.conf import settings

from registry.models import ModelVersion

GENERATED_NOTE = {
    "version": "_Generated from the metadata of this version._",
    "model": "_Generated from the metadata of this model._",
}
COPIED_NOTE = {
    "version": "_Generated from the metadata of the version this one was copied from; the facts above are that "
               "version's._",
    "model": "_Generated from the metadata of the model this one was copied from; the facts above are that "
             "model's._",
}


def kind_of(obj) -> str:
    return "version" if isinstance(obj, ModelVersion) else "model"


def with_generated_note(text: str, kind: str) -> str:
    text = text.rstrip()
    return f"{text}\n\n{GENERATED_NOTE[kind]}" if text else ""


def copied_description(text: str, kind: str) -> str:
    """`text` as the description of a copy: a generated description's note now says whose facts they are. Any
    other text is the source's author's, copied as is."""
    note, copied = GENERATED_NOTE[kind], COPIED_NOTE[kind]
    lines = (text or "").split("\n")
    if note not in (line.strip() for line in lines):
        return text
    lines = [copied if line.strip() == note else line for line in lines]
    result = "\n".join(lines)
    limit = settings.REGISTRY_MAX_DESCRIPTION_LENGTH
    if len(result) > limit:
        # The longer note must not make the copy fail: shorten the body, keep the note.
        body = "\n".join(line for line in lines if line != copied).rstrip()
        result = body[:max(0, limit - len(copied) - 3)].rstrip() + "…\n\n" + copied
    return result
