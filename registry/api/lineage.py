"""Lineage JSON API: `GET /api/2.1/lineage?node=<type>:<id>&direction=upstream|downstream|both&depth=N` (and
`GET /api/2.1/lineage/tables/<name>`), thin adapters over the lineage selectors."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.errors import InvalidParameter
from registry.lineage.selectors import lineage_graph, table_usage


def _single(request, name: str):
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise InvalidParameter(f"Parameter '{name}' may be given once.")
    return values[0] if values else None


class LineageView(APIView):
    def get(self, request):
        node = _single(request, "node")
        if not node:
            raise InvalidParameter("Missing value for required parameter 'node' (expected '<type>:<id>').")
        graph = lineage_graph(actor=request.user, node=node, direction=_single(request, "direction"),
                              depth=_single(request, "depth"))
        return Response(graph.as_dict())


class TableUsageView(APIView):
    def get(self, request, name: str):
        usage = table_usage(actor=request.user, name=name)
        return Response({
            "name": usage.name,
            "versions": usage.versions,
            "runs": [{"run_id": u.run.run_id, "run_name": u.run.name, "experiment_id": str(u.run.experiment_id),
                      "context": u.context, "table_version": u.table_version, "dataset_name": u.dataset_name,
                      "dataset_digest": u.dataset_digest} for u in usage.runs],
            "model_versions": [{"name": mv.model.full_name, "version": str(mv.version), "status": mv.status,
                                "run_id": mv.run_id, "copied": mv.copied_from_id is not None}
                               for mv in usage.model_versions],
        })
