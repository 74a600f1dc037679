"""What the MLflow client's remote-registry path reads from this deployment besides the registry API:
`/.well-known/databricks-config` (the databricks-sdk's host metadata), and a version's files through
`model-versions/list-artifacts` and `model-versions/get-signed-download-uri` (registry/signed_downloads.py)."""
from __future__ import annotations

from django.http import FileResponse
from django.urls import reverse
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import selectors, signed_downloads, storage
from registry.api.artifacts import download_response
from registry.api.base import MlflowView, param


class DatabricksConfig(APIView):
    """Host metadata the SDK probes on every client construction; with a workspace_id it stops warning."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"workspace_id": signed_downloads.workspace_id(), "oidc_endpoint": ""})


def _version_and_path(view: MlflowView, request):
    p = view.params(request)
    mv = selectors.version_get(actor=request.user, name=param(p, "name", required=True),
                               version=param(p, "version", required=True))
    return mv, signed_downloads.version_path(mv, param(p, "path", default=""))


class ListVersionArtifacts(MlflowView):
    """One level of a READY version's files, named relative to the version's root; everything at once."""

    def get(self, request):
        mv, (root, relative) = _version_and_path(self, request)
        here = f"{root}/{relative}" if relative else root
        files = []
        for entry in storage.list_dir(here):
            item = {"path": f"{relative}/{entry.path}" if relative else entry.path, "is_dir": entry.is_dir}
            if not entry.is_dir:
                item["file_size"] = entry.size
            files.append(item)
        return Response({"files": files} if files else {})


class GetSignedDownloadUri(MlflowView):
    def get(self, request):
        mv, (_, relative) = _version_and_path(self, request)
        token = signed_downloads.sign(mv, relative)
        url = request.build_absolute_uri(reverse("signed-download")) + f"?token={token}"
        return Response({"signed_uri": url, "headers": []})


class SignedDownload(APIView):
    """The file a signed URL names: no credential but the URL, which opens one path of one version until it
    expires."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request) -> FileResponse:
        path = signed_downloads.open_path(request.query_params.get("token", ""))
        response = download_response(path)
        # The SHA-256 recorded when the file was written, so that a downloader (an import into another
        # deployment, registry/remote_import.py) can verify what it received end to end.
        if checksum := storage.recorded_sha256(path):
            response["X-Checksum-Sha256"] = checksum
        return response
