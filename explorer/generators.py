"""Description generators behind the "Generate" button. `settings.DESCRIPTION_GENERATOR` names a callable
`(obj, *, actor) -> str` (obj is a RegisteredModel or a ModelVersion); the default works offline and writes
a few sentences from the facts `explorer.description_facts` collects as far as `actor` may see them (what it
predicts, from which inputs, how it was trained and how well it scored). A draft is only a suggestion: the
UI saves it only when a person accepts it."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from explorer.description_facts import NUMERIC, Facts, facts_for
from registry.generated_descriptions import kind_of, with_generated_note
from registry.models import ModelVersion, RegisteredModel

DEFAULT_GENERATOR = "explorer.generators.offline_description"


def generate_description(obj, *, actor) -> str:
    """A draft from `generator(obj, actor=actor)`, closed by the note saying it was generated from `obj`'s metadata
    (a copy rewrites that note: registry.generated_descriptions)."""
    path = getattr(settings, "DESCRIPTION_GENERATOR", "") or DEFAULT_GENERATOR
    generator = import_string(path)
    return with_generated_note(str(generator(obj, actor=actor) or "").strip(), kind_of(obj))


CHAT_GENERATOR = "explorer.llm_generator.chat_description"


@dataclass
class Draft:
    key: str  # "offline", "configured" or "chat"
    label: str
    text: str = ""
    error: str = ""


def chat_configured() -> bool:
    return bool(os.environ.get("DESCRIPTION_LLM_URL") and os.environ.get("DESCRIPTION_LLM_MODEL"))


def generate_drafts(obj, *, actor) -> list[Draft]:
    """The drafts the dialog shows side by side: the offline one (or the generator DESCRIPTION_GENERATOR names),
    and the chat endpoint's when it is configured. A failing generator is an error in its own draft."""
    path = getattr(settings, "DESCRIPTION_GENERATOR", "") or DEFAULT_GENERATOR
    first = DEFAULT_GENERATOR if path == CHAT_GENERATOR else path
    sources = [Draft("offline", "Offline draft") if first == DEFAULT_GENERATOR else Draft("configured", "Draft")]
    paths = [first]
    if path == CHAT_GENERATOR or chat_configured():
        sources.append(Draft("chat", "Chat endpoint's draft"))
        paths.append(CHAT_GENERATOR)
    for draft, generator_path in zip(sources, paths):
        try:
            text = str(import_string(generator_path)(obj, actor=actor) or "").strip()
            draft.text = with_generated_note(text, kind_of(obj))
        except Exception as exc:  # a remote generator may fail in any way; the dialog must not
            draft.error = f"The description generator failed: {type(exc).__name__}: {str(exc)[:300]}"
    return sources


def signature_fields(signature, part: str) -> list[dict]:
    """Inputs or outputs of a stored signature as rows {name, type, required} (column or tensor specs)."""
    if not isinstance(signature, dict):
        return []
    fields = signature.get(part)
    if not isinstance(fields, list):
        return []
    rows = []
    for index, field in enumerate(fields):
        if not isinstance(field, dict):
            continue
        kind = str(field.get("type", ""))
        if kind == "tensor" and isinstance(field.get("tensor-spec"), dict):
            spec = field["tensor-spec"]
            kind = f"tensor {spec.get('dtype', '')} {tuple(spec.get('shape') or ())}".strip()
        rows.append({"name": str(field.get("name") or f"[{index}]"), "type": kind,
                     "required": field.get("required", True) is not False})
    return rows


_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve")
_NAMED_INPUTS = 6
_MAX_OTHER_METRICS = 10
_ARTICLE = {"F1": "an", "R²": "an", "RMSE": "an", "MSE": "an", "MAE": "an", "ROC AUC": "a", "log loss": "a"}
_EVALUATION_CONTEXTS = ("validation", "eval", "evaluation", "test", "testing")


def _count(n: int, noun: str) -> str:
    word = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return f"{word} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _number(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.4g}"


def _humanised(class_name: str) -> str:
    """LogisticRegression -> logistic regression, XGBClassifier -> XGB classifier."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+", class_name)
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words) or class_name


def _inputs_phrase(inputs) -> str:
    if len(inputs) == 1 and inputs[0].type.startswith("tensor"):
        return f"a {inputs[0].type} input"
    kinds = "numeric " if all(f.type in NUMERIC for f in inputs) else ""
    names = [f"`{f.name}`" for f in inputs[:_NAMED_INPUTS]]
    if len(inputs) > _NAMED_INPUTS:
        names.append(f"{len(inputs) - _NAMED_INPUTS} more")
    return f"{_count(len(inputs), kinds + 'input')}: {_and(names)}"


def _classes_phrase(classes: list[str], name: str) -> str:
    """What a classifier predicts: "a class label (0–2)", "`species` (one of three classes: `setosa`, …)"."""
    subject = f"`{name}`" if name else ""
    if not classes:
        return f"{subject} (a class label)" if subject else "a class label"
    numbers = [int(c) for c in classes] if all(re.fullmatch(r"-?\d+", c) for c in classes) else []
    if len(numbers) > 2 and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        span = f"{numbers[0]}–{numbers[-1]}"
        return f"{subject} (a class label, {span})" if subject else f"a class label ({span})"
    shown = [f"`{c}`" for c in classes[:_NAMED_INPUTS]]
    if len(classes) > _NAMED_INPUTS:
        shown.append(f"{len(classes) - _NAMED_INPUTS} more")
    if subject:
        return f"{subject} (one of {_count(len(classes), 'class')}: {_and(shown)})"
    return f"one of {_count(len(classes), 'class')} ({_and(shown)})"


def _what_sentence(facts: Facts) -> str:
    out = facts.outputs[0] if len(facts.outputs) == 1 else None
    named = out is not None and not out.name.startswith("[")
    if facts.task == "classification":
        target = _classes_phrase(facts.classes, out.name if named else "")
    elif facts.task == "regression":
        target = f"`{out.name}` (a number)" if named else "a number"
    elif facts.task == "clustering":
        target = "a cluster for each row"
    elif out is not None:
        target = f"`{out.name}` ({out.type})" if named else f"a {out.type} value" if out.type else "a value"
    elif facts.outputs:
        target = _and([f"`{f.name}`" for f in facts.outputs[:_NAMED_INPUTS]])
    else:
        target = ""
    lead = {"classification": "A classifier", "regression": "A regression model",
            "clustering": "A clustering model"}.get(facts.task, "")
    if target and facts.inputs:
        sentence = f"predicts {target} from {_inputs_phrase(facts.inputs)}"
    elif target:
        sentence = f"predicts {target}"
    elif facts.inputs:
        sentence = f"takes {_inputs_phrase(facts.inputs)}"
    else:
        return f"{lead}." if lead else ""
    return f"{lead}: {sentence}." if lead else sentence[0].upper() + sentence[1:] + "."


def _dataset_phrase(d) -> str:
    extra = [f"{d.rows:,} rows" if d.rows != 1 else "1 row"] if d.rows is not None else []
    if d.source:
        extra.insert(0, f"from `{d.source}`")
    return f"`{d.name}`" + (f" ({', '.join(extra)})" if extra else "")


def _training_sentence(facts: Facts) -> str:
    if facts.estimator:
        what = f"a {_humanised(facts.estimator)}"
    elif facts.flavor:
        what = f"a {facts.flavor} model"
    else:
        what = ""
    params = [f"`{k}={v}`" for k, v in facts.params.items()]
    if facts.other_params:
        params.append(_count(facts.other_params, "other parameter"))
    trained = [d for d in facts.datasets if d.context.lower() not in _EVALUATION_CONTEXTS]
    evaluated = [d for d in facts.datasets if d.context.lower() in _EVALUATION_CONTEXTS]
    if not (what or params or trained or evaluated):
        return ""
    sentence = f"Trained as {what}" if what else "Trained"
    if params:
        sentence += f" ({_and(params)})" if what else f" with {_and(params)}"
    if trained:
        sentence += " on " + _and([_dataset_phrase(d) for d in trained])
    if evaluated:
        sentence += (" and" if trained or params or what else "") + " evaluated on " + _and(
            [_dataset_phrase(d) for d in evaluated])
    if sentence == "Trained":
        return ""
    return sentence + "."


def _score_phrase(score) -> str:
    value = _number(score.value)
    if score.label in _ARTICLE:
        return f"{_ARTICLE[score.label]} {score.label} of {value}"
    return f"{value} {score.label}"


def _scores_sentences(facts: Facts) -> list[str]:
    named = [s for s in facts.scores if s.label]
    others = [s for s in facts.scores if not s.label]
    sentences = []
    if named:
        groups: dict[str, list] = {}
        for score in named:
            groups.setdefault(score.split, []).append(score)
        parts = []
        for split, scores in groups.items():
            phrase = _and([_score_phrase(s) for s in scores])
            parts.append(f"{phrase} on the {split}" if split else phrase)
        sentences.append(f"It scored {'; and '.join(parts)}.")
    if others:
        shown = [f"`{s.key}={_number(s.value)}`" for s in others[:_MAX_OTHER_METRICS]]
        if len(others) > _MAX_OTHER_METRICS:
            shown.append(f"{len(others) - _MAX_OTHER_METRICS} more")
        label = "Other metrics" if named else "Metrics"
        sentences.append(f"{label}: {', '.join(shown)}.")
    return sentences


_ORIGIN = {"copy": "It is a copy of another model version.", "logged model": "Registered from a logged model.",
           "run": "Registered from a training run."}


def facts_paragraphs(facts: Facts) -> list[str]:
    """The facts as a few sentences, in the order a person would say them; empty when there are none."""
    paragraphs = []
    what = _what_sentence(facts)
    if what:
        paragraphs.append(what)
    training = " ".join(s for s in [_training_sentence(facts), *_scores_sentences(facts)] if s)
    if training:
        paragraphs.append(training)
    return paragraphs


# Drafts state only facts that stay true once saved: a version's signature, its own files and its training run
# never change. What changes on its own (aliases, tags, how many versions there are, which is the latest) is
# shown live beside the description instead, and names of other objects (source model, run) are left out: the
# text is read by every reader of this model, who may not see them, and copied along with the version.

def _version_draft(mv: ModelVersion, actor) -> str:
    facts = facts_for(mv, actor=actor)
    paragraphs = facts_paragraphs(facts)
    origin = _ORIGIN.get(facts.origin, "")
    if not paragraphs:
        return origin or "A registered model version."
    if origin:
        paragraphs.append(origin)
    return "\n\n".join(paragraphs)


def _model_draft(model: RegisteredModel, actor) -> str:
    kind = "A Unity Catalog model" if model.is_unity_catalog else "A workspace-registry model"
    facts = facts_for(model, actor=actor)
    paragraphs = facts_paragraphs(facts)
    if facts.version is None or not paragraphs:
        return f"{kind}."
    # Pinned to a version number, which always means the same version of this model (unlike "the latest").
    return f"{kind}. Version {facts.version}:\n\n" + "\n\n".join(paragraphs)


def offline_description(obj, *, actor) -> str:
    if isinstance(obj, ModelVersion):
        return _version_draft(obj, actor)
    if isinstance(obj, RegisteredModel):
        return _model_draft(obj, actor)
    raise TypeError(f"cannot describe {type(obj).__name__}")
