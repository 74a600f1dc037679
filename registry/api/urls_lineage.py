"""URLs of the lineage API."""
from django.urls import re_path

from registry.api.lineage import LineageView, TableUsageView

urlpatterns: list = [
    re_path(r"^api/2\.1/lineage$", LineageView.as_view(), name="lineage"),
    # [^/] lets bad names (control characters…) reach the selector, which answers 400 rather than 404.
    re_path(r"^api/2\.1/lineage/tables/(?P<name>[^/]+)$", TableUsageView.as_view(), name="lineage-table"),
]
