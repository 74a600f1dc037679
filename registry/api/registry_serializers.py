"""JSON of registered models and model versions exactly as MLflow's REST API writes them (`version` is a
string, timestamps are milliseconds, `status` is always present). A version's source, run and logged model are
written as its reader may see them (`registry.source_visibility`): call `load_provenance` first."""
from __future__ import annotations

from registry.api.base import ms
from registry.errors import InvalidParameter
from registry.models import ModelVersion, RegisteredModel
from registry.source_visibility import attach_provenance, provenance_of


def _username(user) -> str:
    return user.get_username() if user is not None else ""


def _alias_names(mv: ModelVersion) -> list[str]:
    names = getattr(mv, "alias_names", None)
    if names is None:
        names = sorted(a.alias for a in mv.aliases.all())
    return list(names)


def load_provenance(*, actor, versions=(), models=()) -> None:
    """What `actor` may see of the provenance of `versions` and of the latest versions of `models` (one query)."""
    latest = [mv for model in models for mv in getattr(model, "latest_versions", [])]
    attach_provenance(actor=actor, versions=[*versions, *latest])


def model_version_json(mv: ModelVersion) -> dict:
    shown = provenance_of(mv)
    body = {
        "name": mv.model.full_name,
        "version": str(mv.version),
        "creation_timestamp": ms(mv.created_at),
        "last_updated_timestamp": ms(mv.updated_at),
        "user_id": _username(mv.created_by),
        "current_stage": mv.current_stage,
        "description": mv.description,
        "source": shown.source,
        "run_id": shown.run_id,
        "status": mv.status,
        "status_message": mv.status_message,
        "run_link": shown.run_link,
        "tags": [{"key": t.key, "value": t.value} for t in sorted(mv.tags.all(), key=lambda t: t.key)],
        "aliases": _alias_names(mv),
    }
    if shown.logged_model_id:
        body["model_id"] = shown.logged_model_id
    return body


def registered_model_json(model: RegisteredModel, *, latest_versions: bool = True) -> dict:
    """`model` should come through `registry.search.load_model_details` (tags, aliases, latest versions)."""
    body = {
        "name": model.full_name,
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": ms(model.updated_at),
        "user_id": _username(model.created_by),
        "description": model.description,
        "tags": [{"key": t.key, "value": t.value} for t in sorted(model.tags.all(), key=lambda t: t.key)],
        "aliases": [{"alias": a.alias, "version": str(a.version.version)} for a in model.aliases.all()],
    }
    if latest_versions:
        body["latest_versions"] = [model_version_json(mv) for mv in getattr(model, "latest_versions", [])]
    return body


def tags_param(params: dict) -> dict[str, str]:
    """`tags: [{"key": …, "value": …}]` of a create request, as a mapping (values are checked by the service)."""
    tags = params.get("tags")
    if tags in (None, "", []):
        return {}
    if not isinstance(tags, list) or len(tags) > 1000:
        raise InvalidParameter("Invalid value for parameter 'tags': expected a list of {\"key\", \"value\"} objects.")
    result: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise InvalidParameter("Invalid value for parameter 'tags': each tag must be an object with a string 'key'.")
        value = tag.get("value", "")
        if value is not None and not isinstance(value, str):
            raise InvalidParameter(f"Invalid value for tag '{tag['key'][:100]}': the value must be a string.")
        result[tag["key"]] = value or ""
    return result


def order_by_param(params: dict) -> list[str]:
    """`order_by` of a search: one string or a repeated parameter, as a list."""
    value = params.get("order_by")
    if value in (None, ""):
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise InvalidParameter("Invalid value for parameter 'order_by': expected a list of strings.")
    return values
