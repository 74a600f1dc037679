"""Comments and follows API (not MLflow's; under /api/2.0/explorer/): comments on a model or a version, and the
caller's follows, over registry.services.comments and registry.services.follows.

    GET    /api/2.0/explorer/comments?name=<model>[&version=<n>]   the thread, oldest first
    POST   /api/2.0/explorer/comments {name, version?, body}      a new comment
    PATCH  /api/2.0/explorer/comments/<id> {body}                 edit (author, or who may manage the model)
    DELETE /api/2.0/explorer/comments/<id>                        delete (same)
    GET    /api/2.0/explorer/follows                              the caller's follows
    POST   /api/2.0/explorer/follows {name | schema, events?}     follow (or change the events)
    DELETE /api/2.0/explorer/follows {name | schema}              unfollow
"""
from __future__ import annotations

from django.db.models import Q
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import permissions
from registry.api.base import param
from registry.comment_selectors import comment_get, comment_thread
from registry.errors import InvalidParameter
from registry.events.names import followable
from registry.models import Follow, RegisteredModel, Schema
from registry.selectors import model_get, version_get
from registry.services.comments import comment_create, comment_delete, comment_json, comment_update
from registry.services.follows import follow_delete, follow_set

MAX_COMMENTS = 1000


def _body(request, allowed: set[str]) -> dict:
    data = request.data if request.data not in (None, "") else {}
    if not isinstance(data, dict):
        raise InvalidParameter("Request body must be a JSON object.")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidParameter(f"Unknown field {unknown[0][:100]!r}: expected {', '.join(sorted(allowed))}.")
    return data


def _version(value):
    return None if value in (None, "") else value


class CommentsView(APIView):
    def get(self, request):
        name = param(request.query_params, "name", required=True)
        version = _version(request.query_params.get("version"))
        if version is None:
            thread = comment_thread(model=model_get(actor=request.user, name=name))
        else:
            mv = version_get(actor=request.user, name=name, version=version)
            thread = comment_thread(model=mv.model, version=mv)
        return Response({"comments": [comment_json(c) for c in thread[:MAX_COMMENTS]]})

    def post(self, request):
        data = _body(request, {"name", "version", "body"})
        comment = comment_create(actor=request.user, name=param(data, "name", required=True),
                                 version=_version(data.get("version")), body=param(data, "body", required=True))
        return Response({"comment": comment_json(comment)})


class CommentDetailView(APIView):
    def get(self, request, comment_id: str):
        return Response({"comment": comment_json(comment_get(actor=request.user, comment_id=comment_id))})

    def patch(self, request, comment_id: str):
        data = _body(request, {"body"})
        comment = comment_update(actor=request.user, comment_id=comment_id, body=param(data, "body", required=True))
        return Response({"comment": comment_json(comment)})

    def delete(self, request, comment_id: str):
        comment_delete(actor=request.user, comment_id=comment_id)
        return Response({})


def follow_json(follow: Follow) -> dict:
    body = {"events": follow.events, "creation_timestamp": int(follow.created_at.timestamp() * 1000)}
    if follow.model_id:
        body["name"] = follow.model.full_name
    else:
        body["schema"] = follow.schema.full_name
    return body


class FollowsView(APIView):
    def get(self, request):
        # Only what the caller may still read: a follow of a model since hidden from them says nothing about it.
        follows = Follow.objects.filter(user=request.user).select_related("model__schema__catalog",
                                                                          "schema__catalog")
        models = permissions.restrict(request.user, RegisteredModel.objects.all()).values("pk")
        schemas = permissions.restrict(request.user, Schema.objects.all()).values("pk")
        follows = follows.filter(Q(model__in=models) | Q(schema__in=schemas))
        return Response({"follows": [follow_json(f) for f in follows], "events": list(followable())})

    def post(self, request):
        data = _body(request, {"name", "schema", "events"})
        events = data.get("events")
        if events is not None and not isinstance(events, list):
            raise InvalidParameter("events must be a list of event names.")
        follow = follow_set(actor=request.user, name=param(data, "name"), schema=param(data, "schema"),
                            events=events)
        return Response({"follow": follow_json(follow)})

    def delete(self, request):
        data = _body(request, {"name", "schema"})
        follow_delete(actor=request.user, name=param(data, "name"), schema=param(data, "schema"))
        return Response({})
