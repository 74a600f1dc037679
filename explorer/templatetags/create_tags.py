"""`{% may_create "schema" catalog as can %}`: whether a page offers a "Create" dialog, by the services' own rules."""
from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def may_create(context, kind: str, parent=None) -> bool:
    from explorer.views.create import may_create as allowed

    request = context.get("request")
    return bool(request is not None and allowed(request.user, kind, parent))
