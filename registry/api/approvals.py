"""Approvals over REST: alias change requests and protected aliases under /api/2.0/explorer/ (so a CI/CD with its own
token can hear "alias_change_request.created", run its checks and approve), and the Databricks workspace
registry's stage transition requests under /api/2.0/mlflow/transition-requests/. Thin adapters over
registry.services.approvals; a model the caller may not read answers as a missing one."""
from __future__ import annotations

from rest_framework.response import Response

from registry import approval_selectors as sel
from registry.api.base import MlflowView, QueryParams, max_results_param, ms, param
from registry.errors import InvalidParameter
from registry.models import AliasChangeRequest, RequestState, StageTransitionRequest
from registry.selectors import model_get, version_get
from registry.services import approvals as svc


def _user(user) -> str | None:
    return user.get_username() if user else None


def alias_request_json(req: AliasChangeRequest, *, now=...) -> dict:
    """The request as the API answers it; `now` (the alias's version, when the caller knows it) for `stale`."""
    body = {
        "id": str(req.pk),
        "name": req.model.full_name,
        "alias": req.alias,
        "action": req.action,
        "version": str(req.version) if req.version is not None else None,
        "from_version": str(req.from_version) if req.from_version is not None else None,
        "state": req.state,
        "comment": req.comment,
        "requested_by": _user(req.requested_by),
        "creation_timestamp": ms(req.created_at),
        "decided_by": _user(req.decided_by),
        "decision_comment": req.decision_comment,
        "decision_timestamp": ms(req.decided_at),
        "last_updated_timestamp": ms(req.updated_at),
    }
    if req.state == RequestState.PENDING:
        body["stale"] = svc.alias_request_staleness(req, now=now) or None
    return body


class AliasRequests(MlflowView):
    """POST opens a request; GET lists the requests the caller may see (optionally of one model, in one state)."""

    def post(self, request):
        p = self.params(request)
        req = svc.alias_request_create(
            actor=request.user, name=param(p, "name", required=True), alias=param(p, "alias", required=True),
            version=_version(p, required=False),
            action=param(p, "action", default="MOVE"), comment=param(p, "comment", default=""))
        return Response({"request": alias_request_json(req)})

    def get(self, request):
        p = self.params(request)
        qs = sel.alias_request_list_visible(actor=request.user)
        name = param(p, "name")
        if name:
            model = model_get(actor=request.user, name=name)  # a model one may not read is not found
            qs = qs.filter(model=model)
        state = param(p, "state")
        if state:
            if state.upper() not in RequestState.values:
                raise InvalidParameter(f"state must be one of {', '.join(RequestState.values)}.")
            qs = qs.filter(state=state.upper())
        limit = max_results_param(p, default=100, limit=1000)
        offset = param(p, "page_token", int, default=0)
        if offset < 0:
            raise InvalidParameter("page_token must be a value returned by a previous call.")
        rows = list(qs[offset:offset + limit + 1])
        rows, more = rows[:limit], len(rows) > limit
        now = svc.current_alias_versions(r for r in rows if r.state == RequestState.PENDING)
        body = {"requests": [alias_request_json(r, now=now.get(r.pk)) for r in rows]}
        if more:
            body["next_page_token"] = str(offset + limit)
        return Response(body)


class AliasRequestDetail(MlflowView):
    def get(self, request, request_id: str):
        return Response({"request": alias_request_json(sel.alias_request_get(actor=request.user,
                                                                             request_id=request_id))})


def _decision(service):
    class Decision(MlflowView):
        def post(self, request, request_id: str):
            p = self.params(request)
            req = service(actor=request.user, request_id=request_id, comment=param(p, "comment", default=""))
            return Response({"request": alias_request_json(req)})

    return Decision


ApproveAliasRequest = _decision(svc.alias_request_approve)
RejectAliasRequest = _decision(svc.alias_request_reject)
CancelAliasRequest = _decision(svc.alias_request_cancel)


class ProtectedAliases(MlflowView):
    """GET ?name= lists a model's protected aliases; POST {name, alias} protects one; DELETE {name, alias} lifts it."""

    def get(self, request):
        model = model_get(actor=request.user, name=param(self.params(request), "name", required=True))
        return Response({"name": model.full_name, "protected_aliases": sel.protected_alias_names(model),
                         "transitions_need_approval": sel.transitions_need_approval(model)})

    def post(self, request):
        p = self.params(request)
        found = svc.protected_alias_add(actor=request.user, name=param(p, "name", required=True),
                                        alias=param(p, "alias", required=True))
        return Response({"name": found.model.full_name, "alias": found.alias})

    def delete(self, request):
        p = _merged(request)
        svc.protected_alias_remove(actor=request.user, name=param(p, "name", required=True),
                                   alias=param(p, "alias", required=True))
        return Response({})


class ApprovalPolicy(MlflowView):
    """POST {name, transitions_need_approval}: whether a workspace model's stage transitions need a request."""

    def post(self, request):
        p = self.params(request)
        policy = svc.approval_policy_set(actor=request.user, name=param(p, "name", required=True),
                                         transitions_need_approval=param(p, "transitions_need_approval", bool,
                                                                         required=True))
        return Response({"name": policy.model.full_name,
                         "transitions_need_approval": policy.transitions_need_approval})


def _merged(request) -> dict:
    """A DELETE's parameters from its query string (Databricks' clients) and/or its JSON body."""
    out = QueryParams({k: request.query_params.get(k) for k in request.query_params})
    data = request.data
    if isinstance(data, dict):
        out.update(data)
    elif data not in (None, "", {}):
        raise InvalidParameter("Request body must be a JSON object.")
    return out


# Databricks' transition requests ------------------------------------------------------------------------------

_ACTIVITY = {RequestState.APPROVED: "APPROVED_REQUEST", RequestState.REJECTED: "REJECTED_REQUEST",
             RequestState.CANCELLED: "CANCELLED_REQUEST", RequestState.PENDING: "REQUESTED_TRANSITION"}


def transition_request_json(req: StageTransitionRequest, *, actor) -> dict:
    """Databricks' TransitionRequest: who asked, when, to which stage, and what the caller may do with it."""
    actions = []
    if req.state == RequestState.PENDING:
        if req.requested_by_id != actor.pk and svc.may_decide(actor, req.version.model):
            actions += ["APPROVE_TRANSITION_REQUEST", "REJECT_TRANSITION_REQUEST"]
        if req.requested_by_id == actor.pk:
            actions.append("CANCEL_TRANSITION_REQUEST")
    return {"id": str(req.pk), "creation_timestamp": ms(req.created_at), "to_stage": req.to_stage,
            "user_id": _user(req.requested_by), "comment": req.comment, "available_actions": actions}


def activity_json(req: StageTransitionRequest) -> dict:
    """Databricks' Activity of a decision."""
    return {"id": str(req.pk), "activity_type": _ACTIVITY[req.state], "creation_timestamp": ms(req.decided_at),
            "last_updated_timestamp": ms(req.updated_at), "user_id": _user(req.decided_by),
            "from_stage": req.from_stage, "to_stage": req.to_stage, "comment": req.decision_comment,
            "system_comment": ""}


def _version(p, *, required: bool = True) -> str | None:
    """A version number sent as a string (Databricks' type) or as a JSON integer."""
    version = p.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    return param(p, "version", required=required)


def _nvs(p):
    return param(p, "name", required=True), _version(p), param(p, "stage", required=True)


class CreateTransitionRequest(MlflowView):
    def post(self, request):
        p = self.params(request)
        name, version, stage = _nvs(p)
        req = svc.transition_request_create(actor=request.user, name=name, version=version, stage=stage,
                                            comment=param(p, "comment", default=""))
        return Response({"request": transition_request_json(req, actor=request.user)})


class ApproveTransitionRequest(MlflowView):
    def post(self, request):
        p = self.params(request)
        name, version, stage = _nvs(p)
        req = svc.transition_request_approve(
            actor=request.user, name=name, version=version, stage=stage,
            archive_existing_versions=param(p, "archive_existing_versions", bool, required=True),
            comment=param(p, "comment", default=""))
        return Response({"activity": activity_json(req)})


class RejectTransitionRequest(MlflowView):
    def post(self, request):
        p = self.params(request)
        name, version, stage = _nvs(p)
        req = svc.transition_request_reject(actor=request.user, name=name, version=version, stage=stage,
                                            comment=param(p, "comment", default=""))
        return Response({"activity": activity_json(req)})


class DeleteTransitionRequest(MlflowView):
    def delete(self, request):
        p = _merged(request)
        name, version, stage = _nvs(p)
        svc.transition_request_cancel(actor=request.user, name=name, version=version, stage=stage,
                                      creator=param(p, "creator", default=None),
                                      comment=param(p, "comment", default=""))
        return Response({})


class ListTransitionRequests(MlflowView):
    def get(self, request):
        p = self.params(request)
        mv = version_get(actor=request.user, name=param(p, "name", required=True),
                         version=param(p, "version", required=True))
        rows = sel.transition_requests_open(mv).select_related("version__model")
        return Response({"requests": [transition_request_json(r, actor=request.user) for r in rows]})

