"""Description generators behind the "Generate" button. `settings.DESCRIPTION_GENERATOR` names a callable
`(obj, *, actor) -> str` (obj is a RegisteredModel or a ModelVersion); the default works offline and drafts
from the object's own lasting metadata, as far as `actor` may see it: the signature and the source run's params,
metrics and datasets. A draft is only a suggestion: the UI saves it only when a person accepts it."""
from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from registry.errors import NotFound
from registry.generated_descriptions import kind_of, with_generated_note
from registry.models import ModelVersion, RegisteredModel
from registry.source_visibility import source_kind
from registry.tracking_selectors import run_details, run_get

DEFAULT_GENERATOR = "explorer.generators.offline_description"
_MAX_ROWS = 15


def generate_description(obj, *, actor) -> str:
    """A draft from `generator(obj, actor=actor)`, closed by the note saying it was generated from `obj`'s metadata
    (a copy rewrites that note: registry.generated_descriptions)."""
    path = getattr(settings, "DESCRIPTION_GENERATOR", "") or DEFAULT_GENERATOR
    generator = import_string(path)
    return with_generated_note(str(generator(obj, actor=actor) or "").strip(), kind_of(obj))


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


def _signature_lines(signature) -> list[str]:
    lines = []
    for part, label in (("inputs", "Inputs"), ("outputs", "Outputs")):
        fields = signature_fields(signature, part)
        if not fields:
            continue
        shown = ", ".join(f"`{f['name']}` ({f['type']})" for f in fields[:_MAX_ROWS])
        more = f" and {len(fields) - _MAX_ROWS} more" if len(fields) > _MAX_ROWS else ""
        lines.append(f"- **{label}** ({len(fields)}): {shown}{more}")
    return lines


def _run_lines(actor, run_id: str) -> list[str]:
    """Params, metrics and datasets of the source run, if the actor may read it (never what it may not see). The
    run itself is not named: the saved text is read by everyone who may read the model, not only by this user."""
    if not run_id:
        return []
    try:
        run = run_get(actor=actor, run_id=run_id)
    except NotFound:
        return []
    details = run_details([run])[run.pk]
    lines = []
    if details.params:
        lines.append("- **Parameters**: " + ", ".join(
            f"`{p.key}={p.value[:40]}`" for p in details.params[:_MAX_ROWS]))
    if details.metrics:
        lines.append("- **Metrics**: " + ", ".join(
            f"`{m.key}={'NaN' if m.is_nan else f'{m.value:.4g}'}`" for m in details.metrics[:_MAX_ROWS]))
    datasets = [i.dataset.name for i in details.inputs]
    if datasets:
        lines.append("- **Trained on**: " + ", ".join(f"`{d}`" for d in datasets[:_MAX_ROWS]))
    return lines


# Drafts state only facts that stay true once saved: a version's signature and training run never change. What
# changes on its own (aliases, tags, how many versions there are, which is the latest) is shown live beside the
# description instead, and names of other objects (source model, run) are left out: the text is read by every
# reader of this model, who may not see them, and copied along with the version.

def _version_draft(mv: ModelVersion, actor) -> str:
    if source_kind(mv) == "copy":
        opening = "A copy of another model version."
    elif mv.logged_model_id:
        opening = "Registered from a logged model."
    elif mv.run_id:
        opening = "Registered from a training run."
    else:
        opening = "A registered model version."
    body = _signature_lines(mv.signature) + _run_lines(actor, mv.run_id)
    return opening + ("\n\n" + "\n".join(body) if body else "")


def _model_draft(model: RegisteredModel, actor) -> str:
    kind = "A Unity Catalog model" if model.is_unity_catalog else "A workspace-registry model"
    versions = ModelVersion.objects.filter(model=model).order_by("-version")
    described = versions.filter(signature__isnull=False).first() or versions.first()
    if described is None:
        return f"{kind}."
    # Pinned to a version number, which always means the same version of this model (unlike "the latest").
    body = _signature_lines(described.signature) + _run_lines(actor, described.run_id)
    if not body:
        return f"{kind}."
    return f"{kind}. Version {described.version}:\n\n" + "\n".join(body)


def offline_description(obj, *, actor) -> str:
    if isinstance(obj, ModelVersion):
        return _version_draft(obj, actor)
    if isinstance(obj, RegisteredModel):
        return _model_draft(obj, actor)
    raise TypeError(f"cannot describe {type(obj).__name__}")
