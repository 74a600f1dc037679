"""Description generators behind the "Generate" button. `settings.DESCRIPTION_GENERATOR` names a callable
`(obj, *, actor) -> str` (obj is a RegisteredModel or a ModelVersion); the default works offline and drafts
from the object's own metadata: signature, tags, aliases, versions and the source run's params and metrics.
A draft is only a suggestion: the UI saves it only when a person accepts it."""
from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from registry.errors import NotFound
from registry.models import ModelAlias, ModelVersion, RegisteredModel
from registry.tracking_selectors import run_details, run_get

DEFAULT_GENERATOR = "explorer.generators.offline_description"
_MAX_ROWS = 15


def generate_description(obj, *, actor) -> str:
    path = getattr(settings, "DESCRIPTION_GENERATOR", "") or DEFAULT_GENERATOR
    generator = import_string(path)
    return str(generator(obj, actor=actor) or "").strip()


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


def _tag_line(tags: list[tuple[str, str]]) -> str:
    return ", ".join(f"`{k}={v}`" for k, v in tags[:_MAX_ROWS] if not k.startswith("mlflow."))


def _run_lines(actor, run_id: str) -> list[str]:
    """Params and metrics of the source run, if the actor may read it (never leak what it may not see)."""
    if not run_id:
        return []
    try:
        run = run_get(actor=actor, run_id=run_id)
    except NotFound:
        return []
    details = run_details([run])[run.pk]
    lines = []
    if details.params:
        lines.append("- **Parameters**: " + ", ".join(f"`{p.key}={p.value[:40]}`" for p in details.params[:_MAX_ROWS]))
    if details.metrics:
        lines.append("- **Metrics**: " + ", ".join(
            f"`{m.key}={'NaN' if m.is_nan else f'{m.value:.4g}'}`" for m in details.metrics[:_MAX_ROWS]))
    datasets = [i.dataset.name for i in details.inputs]
    if datasets:
        lines.append("- **Trained on**: " + ", ".join(f"`{d}`" for d in datasets[:_MAX_ROWS]))
    return lines


def _version_draft(mv: ModelVersion, actor) -> str:
    model_name = mv.model.full_name
    aliases = list(ModelAlias.objects.filter(version=mv).values_list("alias", flat=True))
    tags = list(mv.tags.order_by("key").values_list("key", "value"))
    parts = [f"Version {mv.version} of `{model_name}`."]
    if aliases:
        parts[0] += " Aliases: " + ", ".join(f"**{a}**" for a in aliases) + "."
    if mv.copied_from_id:
        parts.append(f"Copied from `{mv.source}`.")
    elif mv.run_id:
        parts.append(f"Registered from run `{mv.run_id}` (`{mv.source}`).")
    body = _signature_lines(mv.signature)
    if tags and _tag_line(tags):
        body.append("- **Tags**: " + _tag_line(tags))
    body += _run_lines(actor, mv.run_id)
    text = " ".join(parts)
    if body:
        text += "\n\n" + "\n".join(body)
    return text


def _model_draft(model: RegisteredModel, actor) -> str:
    versions = ModelVersion.objects.filter(model=model)
    count = versions.count()
    latest = versions.order_by("-version").first()
    with_signature = versions.filter(signature__isnull=False).order_by("-version").first()
    aliases = list(ModelAlias.objects.filter(model=model).select_related("version").order_by("alias"))
    tags = list(model.tags.order_by("key").values_list("key", "value"))
    kind = "Unity Catalog model" if model.is_unity_catalog else "workspace-registry model"
    text = f"`{model.full_name}` is a {kind} with {count} version{'s' if count != 1 else ''}"
    text += f" (latest: version {latest.version})." if latest else "."
    body = []
    if aliases:
        body.append("- **Aliases**: " + ", ".join(f"**{a.alias}** → version {a.version.version}" for a in aliases))
    if tags and _tag_line(tags):
        body.append("- **Tags**: " + _tag_line(tags))
    if with_signature is not None:
        body += _signature_lines(with_signature.signature)
        body += _run_lines(actor, with_signature.run_id)
    elif latest is not None:
        body += _run_lines(actor, latest.run_id)
    if body:
        text += "\n\n" + "\n".join(body)
    usage = f"models:/{model.full_name}@{aliases[0].alias}" if aliases else (
        f"models:/{model.full_name}/{latest.version}" if latest else "")
    if usage:
        text += f"\n\nLoad it with `mlflow.pyfunc.load_model(\"{usage}\")`."
    return text


def offline_description(obj, *, actor) -> str:
    if isinstance(obj, ModelVersion):
        return _version_draft(obj, actor)
    if isinstance(obj, RegisteredModel):
        return _model_draft(obj, actor)
    raise TypeError(f"cannot describe {type(obj).__name__}")
