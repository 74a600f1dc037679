"""URLs of the migrations API, under the API prefix (tokens) and the browser's ajax prefix (session)."""
from django.urls import path

from registry.api.migrations import MigrationCreateView, MigrationDetailView

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [
        path(f"{prefix}/2.0/explorer/migrations", MigrationCreateView.as_view(), name=f"{name_prefix}migrations-create"),
        path(f"{prefix}/2.0/explorer/migrations/<int:job_id>", MigrationDetailView.as_view(),
             name=f"{name_prefix}migrations-get"),
    ]
