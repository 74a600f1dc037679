"""Search registered models and model versions with MLflow's filter grammar, order_by and page tokens.

Everything runs in SQL on top of what the actor may see (the rules of `permissions`, rendered as SQL text by
`permission_sql`), so results, pages and "is there another page" never reveal a model the actor may not read."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import CharField, Prefetch, Value
from django.db.models.expressions import RawSQL

from registry.models import ModelAlias, ModelVersion, ModelVersionTag, RegisteredModel, RegisteredModelTag
from registry.models.models import Stage
from registry.search.filters import (
    DEFAULT_VERSION_ORDER,
    MODEL_ORDER_KEYS,
    UI_MODEL_ORDER_KEYS,
    VERSION_ORDER_KEYS,
    full_name_expression,
    model_filter_q,
    order_expressions,
    version_filter_q,
)
from registry.search.grammar import parse_filter
from registry.permission_sql import restrict_outer
from registry.search.pages import keyset_page
from registry.source_visibility import annotate_provenance, keep_provenance_row

MODELS_MAX_RESULTS_DEFAULT, MODELS_MAX_RESULTS_LIMIT = 100, 1_000
VERSIONS_MAX_RESULTS_DEFAULT, VERSIONS_MAX_RESULTS_LIMIT = 10_000, 200_000


@dataclass
class Page:
    items: list
    next_page_token: str | None


def _page(queryset, page_token, max_results: int) -> Page:
    return Page(*keyset_page(queryset, size=max_results, token=page_token))


# Outer queries only (registry.permission_sql.restrict_outer): the callers page, filter and order them, never nest.
def visible_models(actor):
    return restrict_outer(actor, RegisteredModel.objects.select_related("schema__catalog", "created_by"))


def visible_versions(actor):
    return restrict_outer(actor, ModelVersion.objects.select_related("model__schema__catalog", "created_by"))


def search_registered_models(*, actor, filter_string: str | None = None, order_by=None,
                             max_results: int = MODELS_MAX_RESULTS_DEFAULT, page_token: str | None = None,
                             order_keys: dict[str, str] = MODEL_ORDER_KEYS, kind: str | None = None,
                             schema=None, with_provenance: bool = False) -> Page:
    """`order_keys`: the order_by keys accepted (MLflow's; the browser UI passes `UI_MODEL_ORDER_KEYS`). `kind`:
    only models or only prompts (the browser's lists); MLflow's API searches both, as MLflow's server does (its
    client adds a filter on the prompt tag). `schema`: only that schema's. `with_provenance`: what the actor may
    see of the latest versions' sources comes with them (for an adapter that shows them)."""
    source = filter_string or ""
    condition = model_filter_q(source, parse_filter(filter_string))
    ordering = order_expressions(order_by, valid=order_keys, name_expression=full_name_expression(),
                                 tiebreak=[("name", True)])
    models = visible_models(actor).filter(condition)
    if kind is not None:
        models = models.filter(kind=kind)
    if schema is not None:
        models = models.filter(schema=schema)
    page = _page(models.order_by(*ordering), page_token, max_results)
    load_model_details(page.items, provenance_for=actor if with_provenance else None)
    return page


def search_model_versions(*, actor, filter_string: str | None = None, order_by=None,
                          max_results: int = VERSIONS_MAX_RESULTS_DEFAULT, page_token: str | None = None) -> Page:
    source = filter_string or ""
    condition = version_filter_q(source, parse_filter(filter_string))
    ordering = order_expressions(order_by, valid=VERSION_ORDER_KEYS, name_expression=full_name_expression("model__"),
                                 default=DEFAULT_VERSION_ORDER, tiebreak=[("name", True), ("version", False)])
    page = _page(visible_versions(actor).filter(condition).order_by(*ordering), page_token, max_results)
    load_version_details(page.items)
    return page


# Related rows, loaded for a whole page at once ------------------------------------------------------------

def load_version_details(versions: list[ModelVersion]) -> None:
    """Tags and alias names of each version, in two queries for the whole list."""
    from django.db.models import prefetch_related_objects

    prefetch_related_objects(versions, "tags", Prefetch("aliases", queryset=ModelAlias.objects.order_by("alias")))


def latest_versions_by_model(models: list[RegisteredModel], *, provenance_for=None,
                             with_tags: bool = True) -> dict[int, list[ModelVersion]]:
    """For each model, the newest version in each stage (what MLflow calls its latest versions), with their tags
    unless `with_tags` is false, and with what `provenance_for` (an actor) may see of their sources."""
    if not models:
        return {}
    # One probe per model and stage (index version_newest_in_stage), not one per version: comparing every version
    # with its stage's newest cost O(versions²) per model and, on a large registry, a JIT-compiled plan.
    ids = [m.pk for m in models]
    rows = (ModelVersion.objects.filter(pk__in=_newest_in_each_stage(ids))
            .select_related("created_by").order_by("model_id", "version"))
    if with_tags:
        rows = rows.prefetch_related("tags")
    if provenance_for is not None:
        rows = annotate_provenance(provenance_for, rows)
    by_id = {m.pk: m for m in models}
    result: dict[int, list[ModelVersion]] = {m.pk: [] for m in models}
    for mv in rows:
        mv.model = by_id[mv.model_id]
        if provenance_for is not None:
            keep_provenance_row(provenance_for, mv, mv)
        result[mv.model_id].append(mv)
    return result


def _newest_in_each_stage(model_ids: list[int]) -> RawSQL:
    """The ids of the newest version in each stage of each model, as a subquery: per stage, one probe per model of
    the index version_newest_in_stage. Plain SQL that both engines run as it is, written rather than built: the
    ORM took longer to compile this UNION of correlated subqueries (~1 ms) than the database to run it."""
    versions, models = ModelVersion._meta.db_table, RegisteredModel._meta.db_table
    marks = ", ".join(["%s"] * len(model_ids))
    probe = (f"SELECT (SELECT v.id FROM {versions} v WHERE v.model_id = m.id AND v.current_stage = %s "
             f"ORDER BY v.version DESC LIMIT 1) FROM {models} m WHERE m.id IN ({marks})")
    stages = Stage.values
    return RawSQL(" UNION ".join([probe] * len(stages)), [p for stage in stages for p in (stage, *model_ids)])


def _load_tags(models: list[RegisteredModel], versions: list[ModelVersion]) -> None:
    """The tags of `models` and of `versions` in one query (a UNION), as `prefetch_related("tags")` leaves them."""
    model_tags = (RegisteredModelTag.objects.filter(model__in=[m.pk for m in models]).order_by()
                  .annotate(kind=Value("model", output_field=CharField()))
                  .values_list("kind", "pk", "model_id", "key", "value"))
    version_tags = (ModelVersionTag.objects.filter(version__in=[mv.pk for mv in versions]).order_by()
                    .annotate(kind=Value("version", output_field=CharField()))
                    .values_list("kind", "pk", "version_id", "key", "value"))
    found: dict[tuple[str, int], list] = {}
    for row_kind, pk, owner_id, key, value in model_tags.union(version_tags, all=True):
        found.setdefault((row_kind, owner_id), []).append((pk, key, value))
    for row_kind, tag_model, owner_field, objects in (("model", RegisteredModelTag, "model", models),
                                                       ("version", ModelVersionTag, "version", versions)):
        columns = ["id", f"{owner_field}_id", "key", "value"]
        for obj in objects:
            tags = []
            for pk, key, value in found.get((row_kind, obj.pk), []):
                tag = tag_model.from_db("default", columns, [pk, obj.pk, key, value])
                setattr(tag, owner_field, obj)  # as prefetch_related leaves it: tag.model is the model at hand
                tags.append(tag)
            _set_prefetched(obj, "tags", tags)


def _set_prefetched(obj, relation: str, items: list) -> None:
    # What prefetch_related leaves: a queryset whose result is already there, so `obj.tags.all()` runs no query.
    queryset = getattr(obj, relation).get_queryset()
    queryset._result_cache = items
    queryset._prefetch_done = True
    if not hasattr(obj, "_prefetched_objects_cache"):
        obj._prefetched_objects_cache = {}
    obj._prefetched_objects_cache[relation] = queryset


def load_model_details(models: list[RegisteredModel], *, provenance_for=None) -> None:
    """Tags, aliases and latest versions of each model, in three queries for the whole list (the tags of models and
    of their latest versions in one), with what `provenance_for` may see of the latest versions' sources.
    Sets `model.latest_versions` and `mv.alias_names` (from the model's aliases) on the latest versions."""
    from django.db.models import prefetch_related_objects

    if not models:
        return
    prefetch_related_objects(
        models, Prefetch("aliases", queryset=ModelAlias.objects.select_related("version").order_by("alias"))
    )
    latest = latest_versions_by_model(models, provenance_for=provenance_for, with_tags=False)
    _load_tags(models, [mv for versions in latest.values() for mv in versions])
    for model in models:
        names_by_version: dict[int, list[str]] = {}
        for alias in model.aliases.all():
            names_by_version.setdefault(alias.version_id, []).append(alias.alias)
        model.latest_versions = latest.get(model.pk, [])
        for mv in model.latest_versions:
            mv.alias_names = names_by_version.get(mv.pk, [])


__all__ = [
    "Page",
    "search_registered_models",
    "search_model_versions",
    "load_model_details",
    "load_version_details",
    "latest_versions_by_model",
    "UI_MODEL_ORDER_KEYS",
    "MODELS_MAX_RESULTS_DEFAULT",
    "MODELS_MAX_RESULTS_LIMIT",
    "VERSIONS_MAX_RESULTS_DEFAULT",
    "VERSIONS_MAX_RESULTS_LIMIT",
]
