"""What every UI view shares: sign-in required, typed registry errors mapped once (NotFound -> 404, the others
to form errors), dialogs that render as an htmx partial or as a full page, and bounded paging."""
from __future__ import annotations

import functools
from typing import Callable

from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from registry.errors import NotFound

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25


def ui_view(fn: Callable) -> Callable:
    """A signed-in page. Anything the user may not see is a 404, whatever the reason."""

    @login_required
    @functools.wraps(fn)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return fn(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapper


def require(actor, action, obj) -> None:
    """403 with the reason when `actor` may see `obj` but not do `action` (callers load `obj` through a
    visibility-aware selector first, so an invisible object has already been a 404)."""
    from django.core.exceptions import PermissionDenied

    from registry.permissions import check

    decision = check(actor, action, obj)
    if not decision:
        raise PermissionDenied(f"Permission denied: {decision.reason}.")


def page_size(request: HttpRequest, default: int = DEFAULT_PAGE_SIZE) -> int:
    """`page_size` from the URL, clamped to 10-100; anything unreadable is the default."""
    try:
        size = int(request.GET.get("page_size", default))
    except (TypeError, ValueError):
        return default
    return max(10, min(100, size))


def paginate(request: HttpRequest, queryset, *, size: int | None = None) -> Page:
    """Offset pages (`?page=N`) of `queryset`; a page out of range shows the last one, junk shows the first."""
    paginator = Paginator(queryset, size or page_size(request))
    number = request.GET.get("page", 1)
    try:
        return paginator.page(number)
    except PageNotAnInteger:
        return paginator.page(1)
    except EmptyPage:
        return paginator.page(paginator.num_pages)


def render_dialog(request: HttpRequest, template: str, context: dict, *, title: str, status: int = 200) -> HttpResponse:
    """A dialog: the bare partial for htmx (it lands in the modal shell), or a full page around it for a
    plain request, so every dialog also works without JavaScript."""
    from explorer.templatetags.explorer_tags import object_url

    target = next((context[k] for k in ("version", "model", "object", "target") if context.get(k) is not None), None)
    context = {"back_url": object_url(target), **context, "dialog_template": template, "dialog_title": title}
    if request.htmx:
        return render(request, template, context, status=status)
    return render(request, "explorer/dialog_page.html", context, status=status)


def dialog_done(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful dialog post: htmx reloads the page at `url`; a plain post is redirected there."""
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where to go after a dialog: a local path from `next`, never another site."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback
