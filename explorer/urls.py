from django.contrib import admin
from django.urls import include, path

from explorer import remote_urls, tracking_urls
from explorer import approval_urls
from explorer import collab_urls
from explorer.health import healthz
from explorer.views import (account, audit, browse, console, dialogs, jobs, lineage, model, models_list, permissions,
                            version)
from explorer.views import compare, serving
from explorer.views import create
from explorer.views import webhooks
from explorer.views import mlflow_links
from explorer.views import upgrade
from explorer.views import principals, search_suggest


# Object pages take full names as one path segment (names never contain '/'); each tab is its own URL,
# listed in explorer/tabs.py.
ui_patterns = [
    path("", browse.home, name="home"),
    path("search/", browse.search, name="search"),
    path("mlflow-link/", mlflow_links.mlflow_link, name="mlflow_link"),
    path("models/", models_list.models_list, name="models"),
    path("workspace/", browse.workspace_page, name="workspace"),
    path("nav/catalogs/<str:catalog>/", browse.nav_catalog, name="nav_catalog"),
    path("nav/schemas/<str:schema>/", browse.nav_schema, name="nav_schema"),
    path("nav/workspace/", browse.nav_workspace, name="nav_workspace"),
    path("catalogs/<str:catalog>/", browse.catalog_page, name="catalog"),
    path("catalogs/<str:catalog>/permissions/", permissions.catalog_permissions, name="catalog_permissions"),
    path("schemas/<str:schema>/", browse.schema_page, name="schema"),
    path("schemas/<str:schema>/permissions/", permissions.schema_permissions, name="schema_permissions"),
    path("grants/<str:kind>/<str:name>/grant/", permissions.grant_dialog, name="grant"),
    path("grants/<str:kind>/<str:name>/revoke/", permissions.revoke_dialog, name="revoke"),
    path("grants/<str:kind>/<str:name>/owner/", permissions.owner_dialog, name="owner"),
    path("models/<str:name>/", model.model_overview, name="model"),
    path("models/<str:name>/details/", model.model_details, name="model_details"),
    path("models/<str:name>/permissions/", model.model_permissions, name="model_permissions"),
    path("models/<str:name>/lineage/", model.model_lineage, name="model_lineage"),
    path("models/<str:name>/history/", model.model_history, name="model_history"),
    path("models/<str:name>/webhooks/", webhooks.model_webhooks, name="model_webhooks"),
    path("models/<str:name>/serving/", serving.model_serving, name="model_serving"),
    path("models/<str:name>/serving/status/", serving.model_serving_status, name="model_serving_status"),
    path("models/<str:name>/serving/enable/", serving.model_serving_enable, name="model_serving_enable"),
    path("models/<str:name>/serving/stop/", serving.model_serving_stop, name="model_serving_stop"),
    path("models/<str:name>/serving/settings/", serving.model_serving_settings, name="model_serving_settings"),
    path("models/<str:name>/serving/request/", serving.model_serving_request, name="model_serving_request"),
    path("models/<str:name>/serving/versions/<int:version>/", serving.model_serving_version,
         name="model_serving_version"),
    path("models/<str:name>/compare/", compare.model_compare, name="model_compare"),
    path("models/<str:name>/aliases/", dialogs.alias_dialog, name="aliases"),
    path("models/<str:name>/tags/", dialogs.model_tags_dialog, name="model_tags"),
    path("models/<str:name>/description/", dialogs.model_description_dialog, name="model_description"),
    path("models/<str:name>/rename/", dialogs.rename_dialog, name="model_rename"),
    path("models/<str:name>/delete/", dialogs.model_delete_dialog, name="model_delete"),
    path("models/<str:name>/upgrade/", upgrade.upgrade_dialog, name="model_upgrade"),
    path("models/<str:name>/versions/<int:version>/", version.version_overview, name="version"),
    path("models/<str:name>/versions/<int:version>/artifacts/", version.version_artifacts, name="version_artifacts"),
    path("models/<str:name>/versions/<int:version>/artifacts/download/", version.version_artifact_download,
         name="version_artifact_download"),
    path("models/<str:name>/versions/<int:version>/lineage/", version.version_lineage, name="version_lineage"),
    path("models/<str:name>/versions/<int:version>/history/", version.version_history, name="version_history"),
    path("models/<str:name>/versions/<int:version>/tags/", dialogs.version_tags_dialog, name="version_tags"),
    path("models/<str:name>/versions/<int:version>/description/", dialogs.version_description_dialog,
         name="version_description"),
    path("models/<str:name>/versions/<int:version>/delete/", dialogs.version_delete_dialog, name="version_delete"),
    path("models/<str:name>/versions/<int:version>/stage/", dialogs.stage_dialog, name="version_stage"),
    path("models/<str:name>/versions/<int:version>/copy/", jobs.copy_dialog, name="version_copy"),
    path("jobs/", jobs.jobs_page, name="jobs"),
    path("jobs/<int:job_id>/status/", jobs.job_status, name="job_status"),
    path("settings/tokens/", account.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", account.token_revoke_view, name="token_revoke"),
    path("audit/", audit.audit_log, name="audit"),
    path("settings/groups/", principals.groups, name="groups"),
    path("settings/groups/<int:group_id>/", principals.group_page, name="group"),
    path("settings/groups/<int:group_id>/rename/", principals.group_rename_view, name="group_rename"),
    path("settings/groups/<int:group_id>/delete/", principals.group_delete_view, name="group_delete"),
    path("settings/groups/<int:group_id>/members/add/", principals.group_member_add_view, name="group_member_add"),
    path("settings/groups/<int:group_id>/members/remove/", principals.group_member_remove_view, name="group_member_remove"),
    path("settings/service-principals/", principals.service_principals, name="service_principals"),
    path("settings/service-principals/<str:application_id>/", principals.service_principal_page,
         name="service_principal"),
    path("settings/service-principals/<str:application_id>/active/", principals.service_principal_active_view,
         name="service_principal_active"),
    path("settings/service-principals/<str:application_id>/delete/", principals.service_principal_delete_view,
         name="service_principal_delete"),
    path("settings/service-principals/<str:application_id>/tokens/<int:token_id>/revoke/",
         principals.service_principal_token_revoke_view, name="service_principal_token_revoke"),
    path("settings/users/", principals.users, name="users"),
    path("settings/users/<str:username>/", principals.user_page, name="principal_user"),
    path("search/suggest/", search_suggest.suggest, name="search_suggest"),
    path("console/", console.console, name="console"),
    path("tables/<str:name>/", lineage.table_page, name="table"),
    path("", include("explorer.endpoint_urls")),  # serving endpoint pages
    path("", include("explorer.prompt_urls")),  # prompts: list, per schema, prompt pages
    path("create-catalog/", create.create_catalog_dialog, name="create_catalog"),
    path("catalogs/<str:catalog>/create-schema/", create.create_schema_dialog, name="create_schema"),
    path("schemas/<str:schema>/create-model/", create.create_model_dialog, name="create_model"),
    *tracking_urls.patterns,
    *collab_urls.patterns,  # comments, follows, webhooks
    *remote_urls.patterns,
    *approval_urls.patterns,  # protected aliases and alias change requests
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("registry.api.urls")),
    path("", include((ui_patterns, "explorer"))),
]

# Unknown paths and unexpected errors: JSON for API clients, pages for people (explorer/views/errors.py).
handler404 = "explorer.views.errors.not_found"
handler500 = "explorer.views.errors.server_error"
