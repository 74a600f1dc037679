"""Migrations API: `POST /api/2.0/explorer/migrations` upgrades a workspace-registry model into a three-level model
(registry.services.migration.model_migrate: versions copied in order, stages mapped to aliases) and answers its
MIGRATE job; `GET /api/2.0/explorer/migrations/<id>` reads that job as the jobs API does."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.jobs import job_json
from registry.errors import InvalidParameter, NotFound
from registry.job_selectors import job_get
from registry.models import Job
from registry.services.migration import model_migrate
from registry.source_visibility import job_params_shown

_FIELDS = {"source_name", "destination_name", "stage_alias_map"}


def _answer(request, job: Job) -> Response:
    return Response(job_json(job, job_params_shown(actor=request.user, jobs=[job])[job.pk]))


class MigrationCreateView(APIView):
    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            raise InvalidParameter("Request body must be a JSON object.")
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise InvalidParameter(f"Unknown field {unknown[0][:100]!r}: expected {', '.join(sorted(_FIELDS))}.")
        job = model_migrate(actor=request.user, source_name=param(body, "source_name", required=True),
                            destination_name=param(body, "destination_name", required=True),
                            stage_alias_map=param(body, "stage_alias_map", dict))
        return _answer(request, job)


class MigrationDetailView(APIView):
    def get(self, request, job_id: int):
        job = job_get(actor=request.user, job_id=job_id)
        if job.kind != Job.Kind.MIGRATE:  # the same answer as a job that does not exist
            raise NotFound(f"Migration {job.pk} not found")
        return _answer(request, job)
