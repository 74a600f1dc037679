"""URLs of the jobs API, under the API prefix (tokens) and the browser's ajax prefix (session)."""
from django.urls import path

from registry.api.jobs import JobDetailView, JobListView

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [
        path(f"{prefix}/2.0/explorer/jobs", JobListView.as_view(), name=f"{name_prefix}jobs-list"),
        path(f"{prefix}/2.0/explorer/jobs/<int:job_id>", JobDetailView.as_view(), name=f"{name_prefix}jobs-get"),
    ]
