"""URLs of the Unity Catalog prompt API that MLflow's client calls with a `databricks-uc` registry URI
(mlflow.protos.unity_catalog_prompt_service). Fixed segments (search, by-alias) come before the patterns they
would otherwise match."""
from django.urls import re_path

from registry.api import uc_prompts as v

_P = r"^api/2\.0/mlflow/unity-catalog/prompts"
_N = r"[^/]+"

urlpatterns: list = [
    re_path(rf"{_P}$", v.PromptListView.as_view(), name="uc-prompts"),
    re_path(rf"{_P}/search$", v.PromptSearchView.as_view(), name="uc-prompts-search"),
    re_path(rf"{_P}/(?P<name>{_N})$", v.PromptDetailView.as_view(), name="uc-prompt"),
    re_path(rf"{_P}/(?P<name>{_N})/tags$", v.PromptTagView.as_view(), name="uc-prompt-tags"),
    re_path(rf"{_P}/(?P<name>{_N})/tags/(?P<key>{_N})$", v.PromptTagDeleteView.as_view(), name="uc-prompt-tag"),
    re_path(rf"{_P}/(?P<name>{_N})/aliases/(?P<alias>{_N})$", v.PromptAliasView.as_view(), name="uc-prompt-alias"),
    re_path(rf"{_P}/(?P<name>{_N})/versions$", v.PromptVersionListView.as_view(), name="uc-prompt-versions"),
    re_path(rf"{_P}/(?P<name>{_N})/versions/search$", v.PromptVersionSearchView.as_view(),
            name="uc-prompt-versions-search"),
    re_path(rf"{_P}/(?P<name>{_N})/versions/by-alias/(?P<alias>{_N})$", v.PromptVersionByAliasView.as_view(),
            name="uc-prompt-version-by-alias"),
    re_path(rf"{_P}/(?P<name>{_N})/versions/(?P<version>{_N})$", v.PromptVersionDetailView.as_view(),
            name="uc-prompt-version"),
    re_path(rf"{_P}/(?P<name>{_N})/versions/(?P<version>{_N})/tags$", v.PromptVersionTagView.as_view(),
            name="uc-prompt-version-tags"),
    re_path(rf"{_P}/(?P<name>{_N})/versions/(?P<version>{_N})/tags/(?P<key>{_N})$",
            v.PromptVersionTagDeleteView.as_view(), name="uc-prompt-version-tag"),
]
