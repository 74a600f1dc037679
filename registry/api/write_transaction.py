"""A committed write is answered as a success, once.

An API write request runs inside one transaction that also covers building its answer: the serializers read
tags, aliases and the row's latest state *before* the commit, so nothing that runs after the commit needs the
database except `on_commit` side effects, which are robust (a failure there is logged and left to the job
sweeper). If the database goes away mid-request, the write rolls back and the client's retry is not a duplicate;
if it goes away after the commit, the client still gets its 200.

Refusals and failures of services inside the block are audited after it ends (`all_or_nothing`). Artifact
uploads are left out: a streamed upload of gigabytes must not hold a transaction (on SQLite, the write lock)."""
from __future__ import annotations

from django.db import transaction

from registry.services.core import all_or_nothing

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_API_PREFIXES = ("/api/", "/ajax-api/")
_STREAMED = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")


class WriteTransactionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if request.method not in _UNSAFE or not path.startswith(_API_PREFIXES) or path.startswith(_STREAMED):
            return self.get_response(request)
        with all_or_nothing():
            response = self.get_response(request)
            if response.status_code >= 500:
                # An unexpected error (already turned into a response): keep none of the request's writes. A 4xx
                # commits what succeeded before it, as each service call would on its own.
                transaction.set_rollback(True)
        return response
