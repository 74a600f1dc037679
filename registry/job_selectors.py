"""Reads of job rows with visibility applied: a principal sees the jobs it started and the jobs on models it
may read; metastore admins see all."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from registry import permissions
from registry.errors import NotFound
from registry.models import Job, RegisteredModel


def job_list_visible(*, actor) -> QuerySet[Job]:
    qs = Job.objects.select_related("model__schema__catalog", "model_version", "created_by")
    if permissions.is_admin(actor):
        return qs
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return qs.none()
    readable = permissions.restrict(actor, RegisteredModel.objects.all()).values("pk")
    return qs.filter(Q(created_by=actor) | Q(model__in=readable))


def job_get(*, actor, job_id) -> Job:
    try:
        pk = int(job_id)
    except (TypeError, ValueError):
        raise NotFound(f"Job {str(job_id)[:50]} not found") from None
    job = job_list_visible(actor=actor).filter(pk=pk).first()
    if job is None:  # one message whether it is missing or hidden
        raise NotFound(f"Job {pk} not found")
    return job
