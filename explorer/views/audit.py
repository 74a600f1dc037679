"""The audit log for metastore admins: every change and refused attempt, filtered by user, action, object
and time."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.audit_rows import audit_rows
from explorer.forms import AuditFilterForm
from explorer.views.common import paginate, ui_view
from registry.models import AuditEvent
from registry.permissions import is_admin


@ui_view
def audit_log(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        raise Http404("No such page.")
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.all().order_by("-created_at", "-id")
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            events = events.filter(actor_name__iexact=data["user"].strip())
        if data["action"]:
            events = events.filter(action__istartswith=data["action"].strip())
        if data["object"]:
            events = events.filter(object_name__icontains=data["object"].strip())
        if data["since"]:
            events = events.filter(created_at__gte=data["since"])
        if data["until"]:
            events = events.filter(created_at__lte=data["until"])
        if data["outcome"]:
            events = events.filter(outcome=data["outcome"])
    query = request.GET.copy()
    query.pop("page", None)
    page = paginate(request, events, size=50)
    return render(request, "explorer/audit.html", {
        "form": form, "page": page, "rows": audit_rows(page.object_list), "query": query.urlencode(),
        "breadcrumbs": [("Audit log", reverse("explorer:audit"))]})
