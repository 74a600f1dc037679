"""The two DBFS endpoints the MLflow client's remote-registry path calls before it creates a version:
`GET /api/2.0/dbfs/list?path=` and `POST /dbfs/<absolute path>` (the body is the file's bytes), both confined to
the caller's own upload area (registry/upload_area.py). Every other DBFS path answers a JSON refusal."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry import upload_area
from registry.api.base import MlflowView, param
from registry.request_guard import ChunkedBody, announced_length, is_chunked
from registry.services.upload_area import upload_area_save


class DbfsList(MlflowView):
    def get(self, request):
        files = upload_area.listing(request.user, param(self.params(request), "path", required=True))
        return Response({"files": files} if files else {})


class DbfsUpload(APIView):
    """POST /dbfs/<path>: streamed to storage in chunks, never parsed (as the artifacts proxy's PUT)."""

    parser_classes: list = []
    streams_request_body = True  # RequestGuardMiddleware leaves chunked bodies to `post`

    def post(self, request, dbfs_path: str):
        raw = request._request
        stream, expected = (ChunkedBody(raw), None) if is_chunked(raw) else (raw, announced_length(raw))
        upload_area_save(actor=request.user, path="/" + dbfs_path, stream=stream, expected_size=expected)
        return Response({})
