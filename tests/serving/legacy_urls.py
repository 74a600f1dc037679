"""The URL table with legacy serving's routes, for the tests, until registry/api/urls.py includes them (it can
once the runtime modules they import are in the tree)."""
from explorer.urls import urlpatterns as explorer_patterns
from registry.api.urls_serving import urlpatterns as serving_patterns

urlpatterns = [*serving_patterns, *explorer_patterns]
