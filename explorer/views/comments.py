"""The comment thread of a model's and a version's Overview tab: post (htmx swaps the thread in place; a plain post
comes back to the page), and edit or delete one comment in a dialog. All through registry.services.comments."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from explorer.templatetags.explorer_tags import object_url
from explorer.views.common import dialog_done, render_dialog, ui_view
from explorer.views.model import get_model
from registry import permissions
from registry.comment_selectors import comment_get, comment_thread
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.models import Comment, ModelVersion, RegisteredModel
from registry.permissions import Action
from registry.selectors import version_get, version_not_found_message
from registry.services.comments import COMMENT_MAX_LENGTH, comment_create, comment_delete, comment_update

THREAD_TEMPLATE = "explorer/partials/comment_thread.html"


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=COMMENT_MAX_LENGTH, strip=False,
                           widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Markdown is supported."}))


def thread_context(actor, model: RegisteredModel, version: ModelVersion | None, *, form=None, error: str = "",
                   manage: bool | None = None) -> dict:
    """What the thread partial needs; `model` (and `version`) were loaded for `actor` through a selector. `manage`:
    whether `actor` may manage the model, when the page already knows (one permission query less)."""
    if manage is None:
        manage = bool(permissions.check(actor, Action.MANAGE_GRANTS, model))
    comments = [(c, manage or c.author_id == actor.pk) for c in comment_thread(model=model, version=version)]
    if version is not None:
        post_url = reverse("explorer:version_comment", kwargs={"name": model.full_name, "version": version.version})
    else:
        post_url = reverse("explorer:model_comment", args=[model.full_name])
    return {"comments": comments, "thread_model": model, "thread_version": version, "post_url": post_url,
            "comment_form": form or CommentForm(auto_id="comment-new-%s"), "comment_error": error,
            "thread_label": f"version {version.version}" if version is not None else "this model"}


def _target_url(model: RegisteredModel, version: ModelVersion | None) -> str:
    return object_url(version if version is not None else model) + "#comments"


def _post(request: HttpRequest, model: RegisteredModel, version: ModelVersion | None) -> HttpResponse:
    form = CommentForm(request.POST, auto_id="comment-new-%s")
    error = ""
    if form.is_valid():
        try:
            comment_create(actor=request.user, name=model.full_name,
                           version=version.version if version is not None else None, body=form.cleaned_data["body"])
        except RegistryError as exc:
            error = exc.message
        else:
            form = None
    else:
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    if request.htmx:
        return render(request, THREAD_TEMPLATE, {**thread_context(request.user, model, version, form=form,
                                                                   error=error), "request": request},
                      status=200 if not error else 400)
    if error:
        messages.error(request, f"Comment not posted: {error}")
    return HttpResponseRedirect(_target_url(model, version))


@ui_view
@require_POST
def model_comment(request: HttpRequest, name: str) -> HttpResponse:
    return _post(request, get_model(request.user, name), None)


@ui_view
@require_POST
def version_comment(request: HttpRequest, name: str, version: int) -> HttpResponse:
    try:
        mv = version_get(actor=request.user, name=name, version=version)
    except InvalidParameter:
        raise NotFound(version_not_found_message(name, version)) from None
    return _post(request, mv.model, mv)


def _comment(request: HttpRequest, comment_id: int) -> Comment:
    comment = comment_get(actor=request.user, comment_id=comment_id)
    if comment.author_id != request.user.pk and not permissions.check(request.user, Action.MANAGE_GRANTS,
                                                                       comment.model):
        raise DjangoPermissionDenied("Permission denied: only the comment's author or who may manage the model "
                                     "may change it.")
    return comment


@ui_view
@require_http_methods(["GET", "POST"])
def comment_edit_dialog(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = _comment(request, comment_id)
    back = _target_url(comment.model, comment.version)
    form = CommentForm(request.POST or None, initial={"body": comment.body})
    if request.method == "POST" and form.is_valid():
        try:
            comment_update(actor=request.user, comment_id=comment.pk, body=form.cleaned_data["body"])
        except RegistryError as exc:
            form.add_error("body", exc.message)
        else:
            return dialog_done(request, back)
    return render_dialog(request, "explorer/dialogs/comment_edit.html", {
        "form": form, "comment": comment, "back_url": back,
        "action_url": reverse("explorer:comment_edit", args=[comment.pk])}, title="Edit comment")


@ui_view
@require_http_methods(["GET", "POST"])
def comment_delete_dialog(request: HttpRequest, comment_id: int) -> HttpResponse:
    comment = _comment(request, comment_id)
    back = _target_url(comment.model, comment.version)
    error = ""
    if request.method == "POST":
        try:
            comment_delete(actor=request.user, comment_id=comment.pk)
        except RegistryError as exc:
            error = exc.message
        else:
            return dialog_done(request, back)
    return render_dialog(request, "explorer/dialogs/comment_delete.html", {
        "comment": comment, "back_url": back, "error": error,
        "action_url": reverse("explorer:comment_delete", args=[comment.pk])}, title="Delete comment")
