"""URLs of the Unity Catalog API. Path parts use [^/]+ (which admits newlines and control characters) so bad
names reach the validators and get a 400 rather than an unmatched 404."""
from django.urls import re_path

from registry.api import uc_catalogs, uc_groups, uc_models, uc_permissions

_P = r"^api/2\.1/unity-catalog"
_N = r"[^/]+"

urlpatterns: list = [
    re_path(rf"{_P}/catalogs$", uc_catalogs.CatalogListView.as_view(), name="uc-catalogs"),
    re_path(rf"{_P}/catalogs/(?P<name>{_N})$", uc_catalogs.CatalogDetailView.as_view(), name="uc-catalog"),
    re_path(rf"{_P}/schemas$", uc_catalogs.SchemaListView.as_view(), name="uc-schemas"),
    re_path(rf"{_P}/schemas/(?P<full_name>{_N})$", uc_catalogs.SchemaDetailView.as_view(), name="uc-schema"),
    re_path(rf"{_P}/models$", uc_models.ModelListView.as_view(), name="uc-models"),
    re_path(rf"{_P}/models/versions$", uc_models.VersionCreateView.as_view(), name="uc-version-create"),
    re_path(rf"{_P}/models/(?P<full_name>{_N})$", uc_models.ModelDetailView.as_view(), name="uc-model"),
    re_path(rf"{_P}/models/(?P<full_name>{_N})/versions$", uc_models.VersionListView.as_view(), name="uc-versions"),
    re_path(rf"{_P}/models/(?P<full_name>{_N})/versions/(?P<version>{_N})$", uc_models.VersionDetailView.as_view(),
            name="uc-version"),
    re_path(rf"{_P}/models/(?P<full_name>{_N})/versions/(?P<version>{_N})/finalize$",
            uc_models.VersionFinalizeView.as_view(), name="uc-version-finalize"),
    re_path(rf"{_P}/models/(?P<full_name>{_N})/aliases/(?P<alias>{_N})$", uc_models.AliasView.as_view(),
            name="uc-alias"),
    re_path(rf"{_P}/permissions/(?P<securable_type>{_N})/(?P<full_name>{_N})$",
            uc_permissions.PermissionsView.as_view(), name="uc-permissions"),
    re_path(rf"{_P}/effective-permissions/(?P<securable_type>{_N})/(?P<full_name>{_N})$",
            uc_permissions.EffectivePermissionsView.as_view(), name="uc-effective-permissions"),
    re_path(rf"{_P}/privilege-assignments/(?P<securable_type>{_N})/(?P<full_name>{_N})$",
            uc_permissions.PrivilegeAssignmentsView.as_view(), name="uc-privilege-assignments"),
    re_path(rf"{_P}/effective-privilege-assignments/(?P<securable_type>{_N})/(?P<full_name>{_N})$",
            uc_permissions.EffectivePrivilegeAssignmentsView.as_view(), name="uc-effective-privilege-assignments"),
    re_path(rf"{_P}/statements$", uc_permissions.StatementView.as_view(), name="uc-statements"),
    re_path(rf"{_P}/groups$", uc_groups.GroupListView.as_view(), name="uc-groups"),
    re_path(rf"{_P}/groups/(?P<name>{_N})$", uc_groups.GroupDetailView.as_view(), name="uc-group"),
    re_path(rf"{_P}/groups/(?P<name>{_N})/members$", uc_groups.GroupMembersView.as_view(), name="uc-group-members"),
    re_path(rf"{_P}/groups/(?P<name>{_N})/members/(?P<user>{_N})$", uc_groups.GroupMemberView.as_view(),
            name="uc-group-member"),
]
