"""The user's own pages: personal access tokens (created and shown once, listed, revoked), and the page a
sign-in locked out by too many failures gets."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from explorer.forms import TokenForm, add_registry_error
from explorer.views.common import ui_view
from registry.errors import RegistryError
from registry.models import PersonalAccessToken
from registry.services.tokens import token_create, token_revoke


@ui_view
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    secret, created = "", None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = token_create(actor=request.user, user=request.user, name=form.cleaned_data["name"],
                                           days=form.cleaned_data["days"])
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            form = TokenForm()
    rows = PersonalAccessToken.objects.filter(user=request.user).order_by("-created_at")[:200]
    response = render(request, "explorer/tokens.html", {
        "form": form, "secret": secret, "created": created, "tokens": rows, "now": timezone.now(),
        "breadcrumbs": [("Access tokens", reverse("explorer:tokens"))]})
    if secret:
        response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response


@require_POST
@ui_view
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token_revoke(actor=request.user, token_id=token_id)  # NotFound (not mine) becomes a 404
    return HttpResponseRedirect(reverse("explorer:tokens"))


def signin_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' lock-out answer (AXES_LOCKOUT_CALLABLE): our page with 429 and when to try again, for the
    sign-in form and the admin's alike."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "registration/locked_out.html", {"minutes": seconds // 60}, status=429)
    response["Retry-After"] = str(seconds)
    return response
