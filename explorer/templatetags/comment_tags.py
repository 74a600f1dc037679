"""The comment thread and the Follow button, as tags the object pages include (they load what they show)."""
from __future__ import annotations

from django import template
from django.urls import reverse

from explorer.markdown import render_markdown
from explorer.views.comments import thread_context
from registry.models import RegisteredModel
from registry.services.follows import follow_get

register = template.Library()


@register.inclusion_tag("explorer/partials/comment_thread.html", takes_context=True)
def comment_thread(context, model, version=None):
    request = context["request"]
    can = context.get("can") or {}  # the page's abilities (explorer/views/model.py), when it has them
    thread = thread_context(request.user, model, version, manage=can.get("manage"))
    return {**thread, "request": request, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("explorer/partials/follow_button.html", takes_context=True)
def follow_button(context, obj):
    request = context["request"]
    is_model = isinstance(obj, RegisteredModel)
    follow = follow_get(actor=request.user, model=obj if is_model else None, schema=None if is_model else obj)
    url = reverse("explorer:follow", args=["model" if is_model else "schema", obj.full_name])
    return {"follow": follow, "follow_url": url, "target": obj}


@register.filter(name="comment_markdown")
def comment_markdown(source):
    """A comment's Markdown, sanitised as descriptions are, without images."""
    return render_markdown(source, images=False)
