"""Reads of approvals that apply visibility: a request is seen by whoever may read its model, and a request of a
model one may not read is "not found", like the model."""
from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Lower

from registry import permissions
from registry.errors import NotFound
from registry.models import (
    AliasChangeRequest,
    ApprovalPolicy,
    ModelVersion,
    ProtectedAlias,
    RegisteredModel,
    RequestState,
    StageTransitionRequest,
)

ALIAS_REQUEST_ROUTE = "POST /api/2.0/explorer/alias-requests"
TRANSITION_REQUEST_ROUTE = "POST /api/2.0/mlflow/transition-requests/create"


def alias_request_not_found_message(request_id) -> str:
    return f"Alias change request {str(request_id)[:50]} not found"


def protected_alias_get(model: RegisteredModel, alias: str) -> ProtectedAlias | None:
    """The protection covering `alias` of `model` (ignoring case on every model), or None."""
    return (ProtectedAlias.objects.filter(model=model).alias(key=Lower("alias"))
            .filter(key=alias.lower()).first())


def protected_alias_names(model: RegisteredModel) -> list[str]:
    return list(ProtectedAlias.objects.filter(model=model).values_list("alias", flat=True))


def transitions_need_approval(model: RegisteredModel) -> bool:
    return ApprovalPolicy.objects.filter(model=model, transitions_need_approval=True).exists()


def alias_request_list_visible(*, actor) -> QuerySet[AliasChangeRequest]:
    visible = permissions.restrict(actor, RegisteredModel.objects.all()).values("pk")
    return (AliasChangeRequest.objects.filter(model__in=visible)
            .select_related("model__schema__catalog", "requested_by", "decided_by"))


def alias_request_get(*, actor, request_id) -> AliasChangeRequest:
    try:
        pk = int(str(request_id))
    except (TypeError, ValueError):
        raise NotFound(alias_request_not_found_message(request_id)) from None
    found = alias_request_list_visible(actor=actor).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if found is None:
        raise NotFound(alias_request_not_found_message(request_id))
    return found


def transition_request_list_visible(*, actor) -> QuerySet[StageTransitionRequest]:
    visible = permissions.restrict(actor, RegisteredModel.objects.all()).values("pk")
    return (StageTransitionRequest.objects.filter(version__model__in=visible)
            .select_related("version__model", "requested_by", "decided_by"))


def transition_requests_open(version: ModelVersion) -> QuerySet[StageTransitionRequest]:
    """The open requests of a version the caller has already read (version_get), oldest first."""
    return (StageTransitionRequest.objects.filter(version=version, state=RequestState.PENDING)
            .select_related("requested_by").order_by("created_at", "id"))


def requests_to_decide(*, actor) -> dict[str, QuerySet]:
    """Pending requests `actor` may decide (owner or MANAGE on the model, not opened by them), oldest first."""
    deciding = permissions.restrict(actor, RegisteredModel.objects.all(), permissions.Action.MANAGE_GRANTS)
    return {
        "alias": (alias_request_list_visible(actor=actor).filter(model__in=deciding.values("pk"),
                                                                 state=RequestState.PENDING)
                  .exclude(requested_by=actor).order_by("created_at", "id")[:100]),
        "transition": (transition_request_list_visible(actor=actor)
                       .filter(version__model__in=deciding.values("pk"), state=RequestState.PENDING)
                       .exclude(requested_by=actor).order_by("created_at", "id")[:100]),
    }
