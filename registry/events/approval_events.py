"""Events of approvals (registry.services.approvals), one function per kind of request, called inside the service's
transaction. Every request, decision and cancellation fires one: a CI/CD that hears "alias_change_request.created"
runs its checks and approves or rejects through the REST API."""
from __future__ import annotations

from registry.events import names
from registry.events.outbox import emit
from registry.models import AliasChangeRequest, StageTransitionRequest

_ALIAS = {"created": names.ALIAS_REQUEST_CREATED, "approved": names.ALIAS_REQUEST_APPROVED,
          "rejected": names.ALIAS_REQUEST_REJECTED, "cancelled": names.ALIAS_REQUEST_CANCELLED}
_TRANSITION = {"created": names.TRANSITION_REQUEST_CREATED, "approved": names.TRANSITION_REQUEST_APPROVED,
               "rejected": names.TRANSITION_REQUEST_REJECTED, "cancelled": names.TRANSITION_REQUEST_CANCELLED}


def _user(user) -> str | None:
    return user.get_username() if user else None


def alias_request_data(req: AliasChangeRequest) -> dict:
    return {
        "id": str(req.pk), "name": req.model.full_name, "alias": req.alias, "action": req.action,
        "version": str(req.version) if req.version is not None else None,
        "from_version": str(req.from_version) if req.from_version is not None else None,
        "state": req.state, "comment": req.comment, "requested_by": _user(req.requested_by),
        "decided_by": _user(req.decided_by), "decision_comment": req.decision_comment or None,
    }


def alias_request_event(req: AliasChangeRequest, what: str) -> None:
    emit(_ALIAS[what], model=req.model, data=alias_request_data(req))


def transition_request_event(req: StageTransitionRequest, what: str) -> None:
    mv = req.version
    emit(_TRANSITION[what], model=mv.model, data={
        "id": str(req.pk), "name": mv.model.full_name, "version": str(mv.version), "to_stage": req.to_stage,
        "from_stage": req.from_stage, "state": req.state, "comment": req.comment,
        "requested_by": _user(req.requested_by), "decided_by": _user(req.decided_by),
        "decision_comment": req.decision_comment or None,
        "archive_existing_versions": req.archive_existing_versions,
    })
