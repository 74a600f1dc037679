"""Reading comments as one principal may: a comment is visible exactly when its model is (READ). Anything else is
"not found", with the same words whether the comment does not exist or its model is hidden."""
from __future__ import annotations

from django.db.models import QuerySet

from registry import permissions
from registry.errors import NotFound
from registry.models import Comment, ModelVersion, RegisteredModel


def comment_not_found_message(comment_id) -> str:
    return f"Comment with id={comment_id} not found"


def comment_thread(*, model: RegisteredModel, version: ModelVersion | None = None) -> QuerySet[Comment]:
    """The thread of a model the caller has already loaded through a visibility-aware selector (model_get,
    version_get): the model's own comments, or one version's. Oldest first."""
    comments = Comment.objects.filter(model=model).select_related("author", "version")
    return comments.filter(version=version) if version is not None else comments.filter(version__isnull=True)


def comment_get(*, actor, comment_id, for_update: bool = False) -> Comment:
    try:
        pk = int(str(comment_id))
    except ValueError:
        raise NotFound(comment_not_found_message(comment_id)) from None
    visible = permissions.restrict(actor, RegisteredModel.objects.all())
    comments = Comment.objects.filter(pk=pk, model__in=visible.values("pk"))
    if for_update:
        comments = comments.select_for_update(of=("self",))
    comment = comments.select_related("author", "version", "model__schema__catalog").first()
    if comment is None:
        raise NotFound(comment_not_found_message(comment_id))
    return comment
