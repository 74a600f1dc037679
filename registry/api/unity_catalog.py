"""The Unity Catalog REST API (`/api/2.1/unity-catalog/`), split by area:

- `uc_catalogs` — catalogs and schemas;
- `uc_models` — registered models, model versions and aliases;
- `uc_permissions` — permissions, effective permissions and grant statements;
- `uc_groups` — groups (not an official UC path);
- `uc_serializers` — the response shapes and paging.

This module re-exports the shapes for callers that imported them from here."""
from registry.api.uc_serializers import catalog_info, model_info, schema_info, version_info

__all__ = ["catalog_info", "schema_info", "model_info", "version_info"]
