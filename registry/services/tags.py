"""Tags on registered models and model versions, within the platform's limits. Each change first locks the row the
tags hang off (see registry.services.models), so concurrent edits of one object neither exceed the limit nor
deadlock; a set is one upsert on the unique key, so a first-time set racing another of the same key ends as an
update whatever the lock."""
from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Model, Q, QuerySet

from registry import audit
from registry.events import registry_events
from registry.errors import InvalidParameter
from registry.models import ModelVersionTag, RegisteredModel, RegisteredModelTag
from registry.models.models import ModelKind
from registry.names import validate_tag, validate_tag_key
from registry.permissions import Action
from registry.prompts import IS_PROMPT_TAG
from registry.selectors import model_get, model_not_found_message, version_get
from registry.services.core import authorize, service
from registry.services.models import model_lock, touch_model, touch_version, version_lock


def _validate(key, value) -> tuple[str, str]:
    return validate_tag(key, value, max_key=settings.REGISTRY_MAX_TAG_KEY_LENGTH,
                        max_value=settings.REGISTRY_MAX_TAG_VALUE_LENGTH)


def _validate_key(key) -> str:
    return validate_tag_key(key, max_key=settings.REGISTRY_MAX_TAG_KEY_LENGTH)


def _apply_kind_tag(model, key: str, value: str | None) -> None:
    """`mlflow.prompt.is_prompt` says what a registered model is (`value` None: the tag is removed). It may turn
    a model without versions into a prompt or back; once versions exist, their kind is fixed. Called under the
    model's row lock, so no version is created meanwhile."""
    if key != IS_PROMPT_TAG:
        return
    kind = ModelKind.PROMPT if value is not None and value.lower() == "true" else ModelKind.MODEL
    if kind == model.kind:
        return
    if model.versions.exists():
        what = "a prompt" if model.is_prompt else "a model"
        raise InvalidParameter(f"{model.full_name} is {what} with versions; the tag {IS_PROMPT_TAG} cannot make it "
                               f"{'a prompt' if kind == ModelKind.PROMPT else 'a model'}.")
    RegisteredModel.objects.filter(pk=model.pk).update(kind=kind)
    model.kind = kind


def validated_tags(tags: dict, *, existing: int) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise InvalidParameter("tags must be a mapping of key to value.")
    clean = dict(_validate(k, v) for k, v in tags.items())
    _check_count(existing + len(clean))
    return clean


def _check_count(count: int) -> None:
    limit = settings.REGISTRY_MAX_TAGS_PER_OBJECT
    if count > limit:
        raise InvalidParameter(f"Too many tags: at most {limit} tags are allowed per object; remove one first.")


def _set_tag(tags: QuerySet, tag: Model, *, parent: str) -> Model:
    """Write `tag` (a RegisteredModelTag or ModelVersionTag) among `tags`, its parent's tags, within the limit: one
    query counts them (and whether the key is set), one upserts it. The caller holds the parent's row lock."""
    counts = tags.aggregate(total=Count("pk"), same=Count("pk", filter=Q(key=tag.key)))
    if not counts["same"]:
        _check_count(counts["total"] + 1)
    type(tag).objects.bulk_create([tag], update_conflicts=True, unique_fields=[parent, "key"], update_fields=["value"])
    return tag


@service("registered_model.set_tag")
def model_tag_set(*, actor, name: str, key: str, value: str) -> RegisteredModelTag:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.TAG, model, not_found_message=model_not_found_message(name))
    key, value = _validate(key, value)
    touch_model(model)  # also the model's row lock: tag changes of one model queue up, so the count is exact
    _apply_kind_tag(model, key, value)
    tag = _set_tag(model.tags.all(), RegisteredModelTag(model=model, key=key, value=value), parent="model")
    audit.record(actor=actor, action="registered_model.set_tag", obj=model, params={"key": key, "value": value})
    registry_events.prompt_tag_set(model, key, value)
    return tag


@service("registered_model.delete_tag")
def model_tag_delete(*, actor, name: str, key: str) -> None:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.TAG, model, not_found_message=model_not_found_message(name))
    key = _validate_key(key)
    model_lock(model)  # before the tag row, in the order model_tag_set takes them
    if model.tags.filter(key=key).exists():
        _apply_kind_tag(model, key, None)
    # Deleting a tag that is not set is a no-op, as on an MLflow server.
    deleted, _ = RegisteredModelTag.objects.filter(model=model, key=key).delete()
    if deleted:
        touch_model(model)
        registry_events.prompt_tag_deleted(model, key)
    audit.record(actor=actor, action="registered_model.delete_tag", obj=model, params={"key": key, "deleted": bool(deleted)})


@service("model_version.set_tag")
def version_tag_set(*, actor, name: str, version, key: str, value: str) -> ModelVersionTag:
    mv = version_get(actor=actor, name=name, version=version)
    authorize(actor, Action.TAG, mv.model, not_found_message=model_not_found_message(name))
    key, value = _validate(key, value)
    touch_version(mv)  # also its row lock: tag changes of one version queue up, so the count is exact
    tag = _set_tag(mv.tags.all(), ModelVersionTag(version=mv, key=key, value=value), parent="version")
    audit.record(actor=actor, action="model_version.set_tag", obj=mv, params={"key": key, "value": value})
    registry_events.model_version_tag_set(mv, key, value)
    return tag


@service("model_version.delete_tag")
def version_tag_delete(*, actor, name: str, version, key: str) -> None:
    mv = version_get(actor=actor, name=name, version=version)
    authorize(actor, Action.TAG, mv.model, not_found_message=model_not_found_message(name))
    key = _validate_key(key)
    version_lock(mv)
    deleted, _ = ModelVersionTag.objects.filter(version=mv, key=key).delete()
    if deleted:
        mv.save(update_fields=["updated_at"])
        registry_events.model_version_tag_deleted(mv, key)
    audit.record(actor=actor, action="model_version.delete_tag", obj=mv, params={"key": key, "deleted": bool(deleted)})
