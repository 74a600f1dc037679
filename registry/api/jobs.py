"""Jobs API: `GET /api/2.0/explorer/jobs` (the jobs the caller may see, newest first, filterable) and
`GET /api/2.0/explorer/jobs/<id>` (one job row). The browser polls the same row."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.errors import InvalidParameter
from registry.job_selectors import job_get, job_list_visible
from registry.models import Job
from registry.selectors import model_lookup
from registry.source_visibility import job_params_shown

_MAX_RESULTS = 1000
# Storage paths are internal: they are not part of the API.
_HIDDEN_PARAMS = {"source_location", "destination", "prefixes", "source_model_id"}


def _time(value):
    return value.isoformat() if value else None


def job_json(job: Job, params: dict) -> dict:
    """`params`: the job's parameters as its reader may see them (`job_params_shown`)."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "state": job.state,
        "model": job.model.full_name if job.model else None,
        "version": job.model_version.version if job.model_version else None,
        "files_done": job.files_done,
        "files_total": job.files_total,
        "bytes_done": job.bytes_done,
        "bytes_total": job.bytes_total,
        "message": job.message,
        "error": job.error,
        "attempts": job.attempts,
        "created_by": job.created_by.get_username() if job.created_by else None,
        "params": {k: v for k, v in params.items() if k not in _HIDDEN_PARAMS},
        "celery_task_id": job.celery_task_id,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "updated_at": _time(job.updated_at),
    }


class JobListView(APIView):
    def get(self, request):
        params = request.query_params
        qs = job_list_visible(actor=request.user)
        if param(params, "mine", bool, default=False):
            qs = qs.filter(created_by=request.user)
        name = param(params, "model")
        if name:
            qs = qs.filter(model__in=model_lookup(name).values("pk"))
            version = param(params, "version", int)
            if version is not None:
                qs = qs.filter(model_version__version=version)
        for field, choices in (("state", Job.State.values), ("kind", Job.Kind.values)):
            value = param(params, field)
            if value:
                if value not in choices:
                    raise InvalidParameter(f"{field} must be one of {', '.join(choices)}.")
                qs = qs.filter(**{field: value})
        limit = param(params, "max_results", int, default=100)
        offset = param(params, "page_token", int, default=0)
        if not 1 <= limit <= _MAX_RESULTS or offset < 0:
            raise InvalidParameter(f"max_results must be between 1 and {_MAX_RESULTS}; page_token must be a "
                                   "value returned by a previous call.")
        rows = list(qs[offset:offset + limit + 1])
        params = job_params_shown(actor=request.user, jobs=rows[:limit])
        body = {"jobs": [job_json(job, params[job.pk]) for job in rows[:limit]]}
        if len(rows) > limit:
            body["next_page_token"] = str(offset + limit)
        return Response(body)


class JobDetailView(APIView):
    def get(self, request, job_id: int):
        job = job_get(actor=request.user, job_id=job_id)
        return Response(job_json(job, job_params_shown(actor=request.user, jobs=[job])[job.pk]))
