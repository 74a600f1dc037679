"""The model page's versions table for models with hundreds of versions: filters (status, alias, tag, text) that
live in the URL, a page size, and a jump to one version's row (the page that holds it)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest

from registry.models import ModelAlias, ModelVersionTag
from registry.models.models import VersionStatus

STATUSES = {"ready": VersionStatus.READY, "pending": VersionStatus.PENDING_REGISTRATION,
            "failed": VersionStatus.FAILED_REGISTRATION}
ANY_ALIAS = "*"


@dataclass(frozen=True)
class VersionFilters:
    status: str = ""  # a key of STATUSES
    alias: str = ""  # an alias name, or ANY_ALIAS
    tag: str = ""  # `key` or `key=value`
    text: str = ""  # in the description or the source, or a version number

    @property
    def active(self) -> bool:
        return any((self.status, self.alias, self.tag, self.text))

    def params(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (("status", self.status), ("alias", self.alias), ("tag", self.tag),
                                    ("q", self.text)) if v]


def version_filters(request: HttpRequest) -> VersionFilters:
    status = request.GET.get("status", "")
    return VersionFilters(status=status if status in STATUSES else "",
                          alias=request.GET.get("alias", "").strip()[:255],
                          tag=request.GET.get("tag", "").strip()[:600], text=request.GET.get("q", "").strip()[:200])


def filter_versions(versions: QuerySet, filters: VersionFilters) -> QuerySet:
    """`versions` (of one model) narrowed by `filters`; each filter is one condition in the same query."""
    if filters.status:
        versions = versions.filter(status=STATUSES[filters.status])
    if filters.alias == ANY_ALIAS:
        versions = versions.filter(Exists(ModelAlias.objects.filter(version=OuterRef("pk"))))
    elif filters.alias:
        versions = versions.filter(Exists(ModelAlias.objects.filter(version=OuterRef("pk"),
                                                                   alias__iexact=filters.alias.lstrip("@"))))
    if filters.tag:
        key, has_value, value = filters.tag.partition("=")
        tags = ModelVersionTag.objects.filter(version=OuterRef("pk"), key=key.strip())
        versions = versions.filter(Exists(tags.filter(value=value.strip()) if has_value else tags))
    if filters.text:
        text = filters.text
        match = Q(description__icontains=text) | Q(source__icontains=text)
        if text.isascii() and text.isdigit() and len(text) <= 10:
            match |= Q(version=int(text))
        versions = versions.filter(match)
    return versions


def jump_page(versions: QuerySet, number: int, size: int) -> int | None:
    """The page (newest first, `size` a page) of `versions` that holds version `number`; None if none does."""
    if not versions.filter(version=number).exists():
        return None
    return versions.filter(version__gt=number).count() // size + 1


def table_query(filters: VersionFilters, *, size: int, default_size: int, page: int | None = None) -> str:
    params = filters.params() + ([("page_size", str(size))] if size != default_size else [])
    params += [("page", str(page))] if page and page > 1 else []
    return ("?" + urlencode(params)) if params else "?"
