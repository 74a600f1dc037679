"""URLs of the Unity Catalog API (the setup endpoints; listing, update and delete come with their own issue)."""
from django.urls import re_path

from registry.api.unity_catalog import CatalogCreateView, CatalogDetailView, SchemaCreateView, SchemaDetailView

_PREFIX = r"^api/2\.1/unity-catalog"

urlpatterns: list = [
    re_path(rf"{_PREFIX}/catalogs$", CatalogCreateView.as_view(), name="uc-catalogs"),
    # [^/] includes newlines and control characters, so bad names reach the validator and get a 400.
    re_path(rf"{_PREFIX}/catalogs/(?P<name>[^/]+)$", CatalogDetailView.as_view(), name="uc-catalog"),
    re_path(rf"{_PREFIX}/schemas$", SchemaCreateView.as_view(), name="uc-schemas"),
    re_path(rf"{_PREFIX}/schemas/(?P<full_name>[^/]+)$", SchemaDetailView.as_view(), name="uc-schema"),
]
