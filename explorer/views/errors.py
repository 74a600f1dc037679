"""The answer to an unexpected error. API clients always get the JSON envelope, never an HTML page; nothing
here touches the database (it may be the reason we are here)."""
from __future__ import annotations

from django.http import HttpResponseServerError, JsonResponse
from django.template import loader

_API_PREFIXES = ("/api/", "/ajax-api/", "/model/")  # /model/: legacy serving's invocations


def server_error(request):
    if request.path.startswith(_API_PREFIXES):
        return JsonResponse({"error_code": "INTERNAL_ERROR",
                             "message": "The server could not complete the request; it has been logged. "
                                        "Nothing of it was saved: retrying is safe."}, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())
