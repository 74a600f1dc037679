"""The prompt pages' URLs (explorer.views.prompts), included by explorer.urls."""
from django.urls import path

from explorer.views import prompts

urlpatterns = [
    path("prompts/", prompts.prompts_list, name="prompts"),
    path("schemas/<str:schema>/prompts/", prompts.schema_prompts, name="schema_prompts"),
    path("prompts/<str:name>/", prompts.prompt_overview, name="prompt"),
    path("prompts/<str:name>/compare/", prompts.prompt_diff, name="prompt_diff"),
    path("prompts/<str:name>/permissions/", prompts.prompt_permissions, name="prompt_permissions"),
    path("prompts/<str:name>/history/", prompts.prompt_history, name="prompt_history"),
]
