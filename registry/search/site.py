"""The explorer's own search (the header box and its type-ahead): catalogs, schemas, models, versions by alias,
experiments and runs by name, over what the actor may read only (the visibility selectors), so a suggestion or a
result never names an object the actor may not see."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Concat

from registry import selectors
from registry.models import ModelAlias, RegisteredModelTag
from registry.search.filters import full_name_expression
from registry.tracking_selectors import experiment_list_visible, run_list_visible

MAX_QUERY = 200
KINDS = ("catalogs", "schemas", "models", "aliases", "experiments", "runs")


@dataclass
class Hit:
    kind: str  # catalog, schema, model, alias, experiment, run
    obj: object
    label: str
    detail: str = ""


def _ranked(queryset: QuerySet, field, text: str) -> QuerySet:
    """Names that start with `text` before names that only contain it."""
    return queryset.annotate(_rank=Case(When(**{f"{field}__istartswith": text}, then=Value(0)), default=Value(1),
                                        output_field=IntegerField()))


def catalogs(actor, text: str, *, in_comments: bool = False) -> QuerySet:
    where = Q(name__icontains=text) | (Q(comment__icontains=text) if in_comments else Q(pk__in=[]))
    return _ranked(selectors.catalog_list_visible(actor=actor).filter(where), "name", text).order_by("_rank", "name")


def schemas(actor, text: str, *, in_comments: bool = False) -> QuerySet:
    qs = selectors.schema_list_visible(actor=actor).select_related("catalog").annotate(
        _full=Concat("catalog__name", Value("."), "name"))
    where = Q(_full__icontains=text) | (Q(comment__icontains=text) if in_comments else Q(pk__in=[]))
    return _ranked(qs.filter(where), "name", text).order_by("_rank", "catalog__name", "name")


def models(actor, text: str, *, in_descriptions: bool = False) -> QuerySet:
    qs = selectors.model_list_visible(actor=actor).select_related("schema__catalog").annotate(
        _full=full_name_expression())
    where = Q(_full__icontains=text)
    if in_descriptions:
        tagged = RegisteredModelTag.objects.filter(model=OuterRef("pk")).filter(
            Q(key__icontains=text) | Q(value__icontains=text))
        where |= Q(description__icontains=text) | Exists(tagged)
    return _ranked(qs.filter(where), "name", text).order_by("_rank", "schema__catalog__name", "schema__name", "name")


def aliases(actor, text: str) -> QuerySet:
    """Aliases of readable models: `champ` finds prod.ml_team.iris@Champion; `iris@ch` the same."""
    name_part, at, alias_part = text.rpartition("@")
    readable = selectors.model_list_visible(actor=actor).values("pk")
    qs = ModelAlias.objects.filter(model__in=readable).select_related("model__schema__catalog", "version")
    if at:
        qs = qs.annotate(_full=full_name_expression("model__")).filter(_full__icontains=name_part,
                                                                       alias__istartswith=alias_part)
    else:
        qs = qs.filter(alias__icontains=text)
    return _ranked(qs, "alias", alias_part if at else text).order_by("_rank", "alias", "model__name")


def experiments(actor, text: str) -> QuerySet:
    qs = experiment_list_visible(actor=actor).filter(lifecycle_stage="active", name__icontains=text)
    return _ranked(qs, "name", text).order_by("_rank", "name")


def runs(actor, text: str) -> QuerySet:
    qs = (run_list_visible(actor=actor).filter(lifecycle_stage="active")
          .filter(Q(name__icontains=text) | Q(run_id__istartswith=text)).select_related("experiment"))
    return _ranked(qs, "name", text).order_by("_rank", "-start_time", "pk")


def suggestions(*, actor, text: str, per_kind: int = 5) -> list[Hit]:
    """Type-ahead: a few of each kind, best first (names that start with the text before those that contain it).
    Names only, not descriptions: a suggestion must be explained by what it shows."""
    text = (text or "").strip()[:MAX_QUERY]
    if len(text) < 1:
        return []
    hits: list[Hit] = []
    for c in catalogs(actor, text)[:per_kind]:
        hits.append(Hit("catalog", c, c.name))
    for s in schemas(actor, text)[:per_kind]:
        hits.append(Hit("schema", s, s.full_name))
    for m in models(actor, text)[:per_kind]:
        hits.append(Hit("model", m, m.full_name))
    for a in aliases(actor, text)[:per_kind]:
        hits.append(Hit("alias", a, f"{a.model.full_name}@{a.alias}", f"version {a.version.version}"))
    for e in experiments(actor, text)[:per_kind]:
        hits.append(Hit("experiment", e, e.name))
    for r in runs(actor, text)[:per_kind]:
        hits.append(Hit("run", r, r.name or r.run_id, f"in {r.experiment.name}"))
    return hits
