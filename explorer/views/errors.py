"""The answers to a path that matches nothing and to an unexpected error. API clients always get the JSON
envelope, never an HTML page; nothing here touches the database (it may be the reason we are here)."""
from __future__ import annotations

from django.http import HttpResponseServerError, JsonResponse
from django.template import loader
from django.views.defaults import page_not_found

# /model/ and /serving-endpoints/: invocations; /.well-known/: what the databricks-sdk probes for its config;
# /dbfs/: the upload area of the remote-registry path.
_API_PREFIXES = ("/api/", "/ajax-api/", "/model/", "/serving-endpoints/", "/.well-known/", "/dbfs/")


def not_found(request, exception=None):
    """A path that matches no URL pattern (or an Http404 outside the API views, which answer their own)."""
    if request.path.startswith(_API_PREFIXES):
        return JsonResponse({"error_code": "ENDPOINT_NOT_FOUND",
                             "message": f"No API endpoint at {request.path[:200]!r}."}, status=404)
    return page_not_found(request, exception)


def server_error(request):
    if request.path.startswith(_API_PREFIXES):
        return JsonResponse({"error_code": "INTERNAL_ERROR",
                             "message": "The server could not complete the request; it has been logged. "
                                        "Nothing of it was saved: retrying is safe."}, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())
