"""URLs of the jobs API and of the migrations API that starts MIGRATE jobs, under the API prefix (tokens) and the
browser's ajax prefix (session)."""
from django.urls import path

from registry.api.jobs import JobDetailView, JobListView
from registry.api.migrations import MigrationCreateView, MigrationDetailView

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [
        path(f"{prefix}/2.0/explorer/jobs", JobListView.as_view(), name=f"{name_prefix}jobs-list"),
        path(f"{prefix}/2.0/explorer/jobs/<int:job_id>", JobDetailView.as_view(), name=f"{name_prefix}jobs-get"),
        path(f"{prefix}/2.0/explorer/migrations", MigrationCreateView.as_view(), name=f"{name_prefix}migrations-create"),
        path(f"{prefix}/2.0/explorer/migrations/<int:job_id>", MigrationDetailView.as_view(),
             name=f"{name_prefix}migrations-get"),
    ]
