"""URL table of the REST APIs. Each area keeps its own module so they can grow independently."""
from registry.api import (urls_artifacts, urls_jobs, urls_lineage, urls_registry, urls_serving, urls_serving_endpoints,
                          urls_tracking, urls_unity_catalog, urls_webhooks)
from registry.api import urls_remote_registry
from registry.api import urls_approvals
from registry.api import urls_principals
from registry.api import urls_comments
from registry.api import urls_uc_prompts

urlpatterns = [
    # First: invocations are the hottest path, and a URL is matched against the patterns in order.
    *urls_serving.urlpatterns,
    *urls_tracking.urlpatterns,
    *urls_registry.urlpatterns,
    *urls_artifacts.urlpatterns,
    *urls_unity_catalog.urlpatterns,
    *urls_lineage.urlpatterns,
    *urls_jobs.urlpatterns,
    *urls_serving_endpoints.urlpatterns,
    *urls_webhooks.urlpatterns,
    *urls_remote_registry.urlpatterns,
    *urls_approvals.urlpatterns,
    *urls_principals.urlpatterns,
    *urls_comments.urlpatterns,
    *urls_uc_prompts.urlpatterns,
]
