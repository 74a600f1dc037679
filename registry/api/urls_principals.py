"""URLs of the identity APIs (registry/api/scim.py): SCIM service principals and groups, token management."""
from django.urls import re_path

from registry.api import principals, scim

_SCIM = r"^api/2\.0/preview/scim/v2"
_N = r"[^/]+"

urlpatterns: list = [
    re_path(rf"{_SCIM}/ServicePrincipals$", scim.ServicePrincipalListView.as_view(), name="scim-service-principals"),
    re_path(rf"{_SCIM}/ServicePrincipals/(?P<id>{_N})$", scim.ServicePrincipalDetailView.as_view(),
            name="scim-service-principal"),
    re_path(rf"{_SCIM}/Groups$", scim.ScimGroupListView.as_view(), name="scim-groups"),
    re_path(rf"{_SCIM}/Groups/(?P<id>{_N})$", scim.ScimGroupDetailView.as_view(), name="scim-group"),
    re_path(r"^api/2\.0/token-management/on-behalf-of/tokens$", scim.OnBehalfOfTokenView.as_view(),
            name="token-management-obo"),
    re_path(r"^api/2\.0/token-management/tokens$", scim.TokenListView.as_view(), name="token-management-tokens"),
    re_path(rf"^api/2\.0/token-management/tokens/(?P<token_id>{_N})$", scim.TokenDetailView.as_view(),
            name="token-management-token"),
    # Ours: what the admin's principal page shows (registry/api/principals.py).
    re_path(rf"^api/2\.0/explorer/principals/(?P<kind>{_N})/(?P<name>{_N})$", principals.PrincipalView.as_view(),
            name="explorer-principal"),
]
