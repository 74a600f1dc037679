"""Comments on registered models and model versions: a Markdown thread (sanitised when rendered). READ on the model
is enough to comment; the author edits or deletes their own comment, and who may MANAGE the model may delete
(and edit) any. Each new comment is a `comment.created` event (webhooks and followers' emails), audited."""
from __future__ import annotations

from django.utils import timezone

from registry import audit, permissions
from registry.comment_selectors import comment_get
from registry.errors import InvalidParameter, PermissionDenied
from registry.events import names
from registry.events.outbox import emit
from registry.models import Comment
from registry.permissions import Action
from registry.selectors import model_get, version_get
from registry.services.core import require_authenticated, require_text, service

COMMENT_MAX_LENGTH = 20_000


def _body(value) -> str:
    body = require_text(value, "body", max_length=COMMENT_MAX_LENGTH)
    if not body.strip():
        raise InvalidParameter("A comment must not be empty.")
    return body


def _may_change(actor, comment: Comment) -> bool:
    return comment.author_id == actor.pk or bool(permissions.check(actor, Action.MANAGE_GRANTS, comment.model))


def comment_json(comment: Comment) -> dict:
    """The event payload (and the API's answer): names only what the reader of the model may see."""
    return {
        "comment_id": str(comment.pk), "name": comment.model.full_name,
        "version": str(comment.version.version) if comment.version_id else None,
        "author": comment.author.get_username() if comment.author_id else None,
        "body": comment.body,
        "creation_timestamp": int(comment.created_at.timestamp() * 1000),
        "last_edited_timestamp": int(comment.edited_at.timestamp() * 1000) if comment.edited_at else None,
    }


@service("comment.create")
def comment_create(*, actor, name: str, version=None, body: str) -> Comment:
    require_authenticated(actor)
    if version is None or version == "":
        model, mv = model_get(actor=actor, name=name), None
    else:
        mv = version_get(actor=actor, name=name, version=version)
        model = mv.model
    comment = Comment.objects.create(model=model, version=mv, author=actor, body=_body(body))
    audit.record(actor=actor, action="comment.create", obj=comment,
                 params={"model": model.full_name, "version": mv.version if mv else None})
    data = comment_json(comment)
    data.pop("last_edited_timestamp")
    emit(names.COMMENT_CREATED, model=model, data=data)
    return comment


@service("comment.update")
def comment_update(*, actor, comment_id, body: str) -> Comment:
    require_authenticated(actor)
    comment = comment_get(actor=actor, comment_id=comment_id, for_update=True)
    if not _may_change(actor, comment):
        raise PermissionDenied("Permission denied: only the comment's author or who may manage the model may edit it.")
    comment.body = _body(body)
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    audit.record(actor=actor, action="comment.update", obj=comment, params={"model": comment.model.full_name})
    return comment


@service("comment.delete")
def comment_delete(*, actor, comment_id) -> None:
    require_authenticated(actor)
    comment = comment_get(actor=actor, comment_id=comment_id, for_update=True)
    if not _may_change(actor, comment):
        raise PermissionDenied("Permission denied: only the comment's author or who may manage the model may "
                               "delete it.")
    audit.record(actor=actor, action="comment.delete", obj=comment,
                 params={"model": comment.model.full_name, "author": comment.author.get_username()
                         if comment.author_id else None})
    comment.delete()
