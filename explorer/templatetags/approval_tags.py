"""Template helpers of approvals: which aliases of a model are protected (one query per page)."""
from django import template

from registry.approval_selectors import protected_alias_names

register = template.Library()


@register.simple_tag
def protected_aliases(model) -> set[str]:
    """The model's protected aliases, lower-case (protection ignores case): `{% protected_aliases model as p %}`,
    then `{% if alias|lower in p %}`."""
    return {alias.lower() for alias in protected_alias_names(model)}
