"""Small query helpers the selectors, permissions and services share."""
from __future__ import annotations

from django.db.models import QuerySet


def only_row(queryset: QuerySet):
    """The row of a lookup by a unique key, or None: `first()` without the ORDER BY it adds, which costs more to
    compile than the lookup costs to run."""
    return next(iter(queryset.order_by()[:1]), None)
