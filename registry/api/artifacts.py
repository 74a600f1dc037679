"""The MLflow artifacts proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) and `server-info`.

Uploads stream from the request to storage in chunks: no parser is attached, so neither DRF nor Django ever
reads the body into memory, and DATA_UPLOAD_MAX_MEMORY_SIZE (which guards JSON bodies) does not apply. An upload
is stored whole or not at all: one that must be read to its end (chunked) is, one whose length cannot be known
is refused with 411 (registry/request_guard.py), one shorter than announced is refused with 400.
Downloads stream back with a Content-Length, or redirect to a presigned URL (ARTIFACT_DOWNLOAD_REDIRECT). Who may touch which path is `authorize_artifact_path`'s call."""
from __future__ import annotations

import io
import mimetypes
import posixpath

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import storage
from registry.artifact_access import authorize_artifact_path, refuse_if_registered
from registry.errors import InvalidParameter
from registry.api.base import MlflowView, param
from registry.request_guard import ChunkedBody, announced_length, is_chunked
from registry.sources import artifact_path_of
from registry.tracking_selectors import run_get

UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # the UI's upload-artifact, as MLflow's server limits it

# Types a browser would render or run: served as plain text so an uploaded artifact can never script the
# explorer's own origin (the ajax-api prefix is reachable with the session cookie).
_ACTIVE_TYPES = {
    "text/html", "application/xhtml+xml", "image/svg+xml", "text/javascript", "application/javascript",
    "text/xml", "application/xml",
}


class ArtifactView(APIView):
    """GET (download, or list with `?path=` on the bare URL), PUT (upload), DELETE (file or tree)."""

    parser_classes: list = []  # the body is read as a stream by `put`, never parsed
    streams_request_body = True  # RequestGuardMiddleware leaves chunked bodies to `put` (STREAMS_BODY)

    def get(self, request, artifact_path: str | None = None):
        if artifact_path is None:
            return self._list(request)
        return download_response(authorize_artifact_path(request.user, artifact_path, write=False))

    def _list(self, request):
        path = authorize_artifact_path(request.user, request.query_params.get("path", ""), write=False)
        files = []
        for entry in storage.list_dir(path):
            item = {"path": entry.path, "is_dir": entry.is_dir}
            if not entry.is_dir:
                # The client reads file_size only when present: directories must not carry it.
                item["file_size"] = entry.size
            files.append(item)
        # MLflow answers an empty listing (or a file's) with an empty object, not an empty list.
        return Response({"files": files} if files else {})

    def put(self, request, artifact_path: str = ""):
        path = authorize_artifact_path(request.user, artifact_path, write=True)
        stream, expected = _upload_stream(request._request)
        storage.save_stream(path, stream, expected_size=expected,
                            before_commit=lambda: refuse_if_registered(request.user, path))
        return Response({})

    def delete(self, request, artifact_path: str = ""):
        path = authorize_artifact_path(request.user, artifact_path, write=True)
        storage.delete_tree(path)
        return Response({})


def owner_artifact_path(actor, artifact_uri: str, relative: str) -> str:
    """The store path of `relative` (already cleaned) below a run's or logged model's artifact root, if `actor`
    may read it."""
    root = artifact_path_of(artifact_uri)
    return authorize_artifact_path(actor, posixpath.join(root, relative) if relative else root, write=False)


def listing_response(root_uri: str, path: str, relative: str) -> Response:
    """MLflow's ListArtifacts answer for the directory at `path`: entries named relative to the owner's artifact
    root (`relative` is where `path` is inside it), in name order; no `files` when there is nothing."""
    files = []
    for entry in storage.list_dir(path):
        item = {"path": posixpath.join(relative, entry.path) if relative else entry.path, "is_dir": entry.is_dir}
        if not entry.is_dir:
            item["file_size"] = entry.size
        files.append(item)
    files.sort(key=lambda item: item["path"])
    return Response({"root_uri": root_uri, "files": files} if files else {"root_uri": root_uri})


class RunArtifactListView(MlflowView):
    """GET /api/2.0/mlflow/artifacts/list?run_id=&path=: one level of a run's artifacts (what the MLflow UI's
    artifact browser reads). Everything is listed at once: no page token is handed out."""

    def get(self, request):
        p = self.params(request)
        relative = param(p, "path", default="")
        relative = storage.clean_relative_path(relative) if relative else ""
        run = run_get(actor=request.user, run_id=param(p, "run_id", required=True, aliases=("run_uuid",)))
        return listing_response(run.artifact_uri, owner_artifact_path(request.user, run.artifact_uri, relative),
                                relative)


def download_response(path: str) -> HttpResponse:
    """The file at `path` (already authorized and confined) streamed as an attachment that a browser will not
    render, or a 302 to a short-lived presigned URL of it (ARTIFACT_DOWNLOAD_REDIRECT on an object store)."""
    name = posixpath.basename(path)
    content_type = download_content_type(name)
    redirect = storage.download_redirect(path, content_type=content_type)
    if redirect is not None:
        response = HttpResponseRedirect(redirect)
        response["Cache-Control"] = "no-store"  # the URL expires; nobody may keep answering with it
        return response
    handle = storage.open_read(path)
    length = handle.size
    response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
    response.block_size = storage.CHUNK_SIZE
    response["Content-Length"] = str(length)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def download_content_type(name: str) -> str:
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return "text/plain" if content_type in _ACTIVE_TYPES else content_type


def _upload_stream(django_request):
    """The request body as a stream, and its announced length (None for a chunked body, read to its end).
    RequestGuardMiddleware has refused every upload whose length cannot be known, so one of the two holds."""
    if is_chunked(django_request):
        return ChunkedBody(django_request), None
    # HttpRequest.read is bounded by Content-Length and does not buffer.
    return django_request, announced_length(django_request)


class UploadArtifactView(APIView):
    """POST /ajax-api/2.0/mlflow/upload-artifact?run_uuid=&path=: the MLflow UI's small upload (at most 10 MB,
    the body is the file) into a run's artifacts, checked in MLflow's order, then written like a proxy PUT."""

    parser_classes: list = []

    def post(self, request):
        run_id, path = request.query_params.get("run_uuid"), request.query_params.get("path")
        if not run_id:
            raise InvalidParameter("Request must specify run_uuid.")
        if not path:
            raise InvalidParameter("Request must specify path.")
        path = storage.clean_relative_path(path)
        length = announced_length(request._request)
        if length is not None and length > UPLOAD_MAX_BYTES:
            raise InvalidParameter("Artifact size is too large. Max size is 10MB.")
        data = request._request.read(UPLOAD_MAX_BYTES + 1)
        if not data:
            raise InvalidParameter("Request must specify data.")
        if len(data) > UPLOAD_MAX_BYTES:
            raise InvalidParameter("Artifact size is too large. Max size is 10MB.")
        run = run_get(actor=request.user, run_id=run_id)
        target = authorize_artifact_path(request.user, f"{run.experiment_id}/{run.run_id}/artifacts/{path}",
                                         write=True)
        storage.save_stream(target, io.BytesIO(data), expected_size=len(data),
                            before_commit=lambda: refuse_if_registered(request.user, target))
        return Response({})


class ServerInfoView(APIView):
    """What the MLflow client probes before transferring artifacts. Everything goes through this proxy:
    no multipart or presigned transfers, so uploads are single streamed PUTs."""

    authentication_classes: list = []  # capabilities only; answered even with a stale token
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({
            "store_type": "SqlStore",
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
        })
