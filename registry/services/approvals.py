"""Approvals: protected aliases and the requests that move them, and the workspace registry's stage transition
requests. Anyone who may read a model may ask; its owner or a holder of MANAGE decides, never on their own request
(four eyes). An approval applies the change in the same transaction, under the model's row lock, audited and with
its events, so a request is approved exactly when its change is made.

A request records what it would change from (the alias's version, the version's stage). Approving an alias request
whose alias has moved (or been set or deleted) since it was opened is refused with INVALID_STATE and the request
stays pending: the approver decided on a diff that no longer exists, so it is rejected or cancelled and asked
again. A stage transition is absolute ("version 4 to Production"), so its approval applies it whatever the stage
is by then, as Databricks does; the activity says which stage it left."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import audit, permissions
from registry.approval_selectors import (
    ALIAS_REQUEST_ROUTE,
    alias_request_get,
    protected_alias_get,
    transition_requests_open,
)
from registry.errors import AlreadyExists, InvalidParameter, InvalidState, NotFound, PermissionDenied
from registry.events.approval_events import alias_request_event, transition_request_event
from registry.models import (
    AliasChangeRequest,
    ModelAlias,
    ApprovalPolicy,
    ModelVersion,
    ProtectedAlias,
    RegisteredModel,
    RequestState,
    StageTransitionRequest,
)
from registry.names import validate_alias, validate_alias_syntax
from registry.permissions import Action
from registry.selectors import (
    alias_lookup,
    model_get,
    model_not_found_message,
    parse_version_number,
    version_get,
    version_not_found_message,
)
from registry.services.aliases import alias_apply_delete, alias_apply_set
from registry.services.core import authorize, require_authenticated, require_text, service
from registry.services.models import model_lock
from registry.services.versions import model_version_apply_stage, stage_canonical

# Who decides: the model's owner or a holder of MANAGE (the same rule as managing its grants).
DECIDE = Action.MANAGE_GRANTS
MAX_COMMENT = 65535  # Databricks' limit on an activity's comment


def _comment(value) -> str:
    return require_text(value, "comment", max_length=MAX_COMMENT)


def _not_own(actor, requested_by_id, what: str) -> None:
    if requested_by_id is not None and requested_by_id == actor.pk:
        raise PermissionDenied(f"Permission denied: a request needs another person's decision; you opened this "
                               f"{what} (cancel it instead).")


# Protection ---------------------------------------------------------------------------------------------------

@service("registered_model.protect_alias")
def protected_alias_add(*, actor, name: str, alias: str) -> ProtectedAlias:
    model = model_get(actor=actor, name=name)
    authorize(actor, DECIDE, model, not_found_message=model_not_found_message(name))
    alias = validate_alias(alias)
    found = protected_alias_get(model, alias)
    if found is not None:
        return found  # protecting a protected alias changes nothing
    try:
        with transaction.atomic():
            found = ProtectedAlias.objects.create(model=model, alias=alias, created_by=actor)
    except IntegrityError:  # protected at the same moment by someone else
        return protected_alias_get(model, alias)
    audit.record(actor=actor, action="registered_model.protect_alias", obj=model, params={"alias": alias})
    return found


@service("registered_model.unprotect_alias")
def protected_alias_remove(*, actor, name: str, alias: str) -> None:
    model = model_get(actor=actor, name=name)
    authorize(actor, DECIDE, model, not_found_message=model_not_found_message(name))
    alias = validate_alias_syntax(alias)
    found = protected_alias_get(model, alias)
    if found is None:
        raise NotFound(f"Alias '{alias}' of model {model.full_name} is not protected.")
    found.delete()
    audit.record(actor=actor, action="registered_model.unprotect_alias", obj=model, params={"alias": found.alias})


@service("registered_model.set_approval_policy")
def approval_policy_set(*, actor, name: str, transitions_need_approval: bool) -> ApprovalPolicy:
    model = model_get(actor=actor, name=name)
    authorize(actor, DECIDE, model, not_found_message=model_not_found_message(name))
    if not isinstance(transitions_need_approval, bool):
        raise InvalidParameter("transitions_need_approval must be true or false.")
    if model.is_unity_catalog and transitions_need_approval:
        raise InvalidParameter(f"{model.full_name} is a Unity Catalog model: it has no stages. Protect its "
                               "aliases instead (for example 'Champion').")
    policy, _ = ApprovalPolicy.objects.select_for_update().get_or_create(model=model)
    policy.transitions_need_approval = transitions_need_approval
    policy.updated_by = actor
    policy.save()
    audit.record(actor=actor, action="registered_model.set_approval_policy", obj=model,
                 params={"transitions_need_approval": transitions_need_approval})
    return policy


# Alias change requests -----------------------------------------------------------------------------------------

@service("alias_request.create")
def alias_request_create(*, actor, name: str, alias: str, version=None, action: str = "MOVE",
                         comment: str = "") -> AliasChangeRequest:
    require_authenticated(actor)
    model = model_get(actor=actor, name=name)  # anyone who may read the model may ask
    action = str(action or "MOVE").upper()
    if action not in AliasChangeRequest.Action.values:
        raise InvalidParameter(f"action must be MOVE or DELETE, got {str(action)[:20]!r}.")
    comment = _comment(comment)
    current = None
    if action == AliasChangeRequest.Action.MOVE:
        alias = validate_alias(alias)
        if version is None or version == "":
            raise InvalidParameter("A request to move an alias needs the version to move it to.")
        number = parse_version_number(version)
        if not ModelVersion.objects.filter(model=model, version=number).exists():
            raise NotFound(version_not_found_message(model.full_name, number))
    else:
        alias = validate_alias_syntax(alias)
        if version not in (None, ""):
            raise InvalidParameter("A request to delete an alias takes no version.")
        number = None
    current = alias_lookup(model, alias).select_related("version").first()
    if action == AliasChangeRequest.Action.DELETE and current is None:
        raise NotFound(f"Registered model alias {alias} not found.")
    if current is not None and current.version.version == number:
        raise InvalidParameter(f"Alias '{current.alias}' is already on version {number}.")
    req = AliasChangeRequest.objects.create(
        model=model, alias=current.alias if current else alias, action=action, version=number,
        from_version=current.version.version if current else None, comment=comment, requested_by=actor,
    )
    audit.record(actor=actor, action="alias_request.create", obj=model, params={
        "request_id": req.pk, "alias": req.alias, "action": action, "version": number,
        "from_version": req.from_version, "comment": comment})
    alias_request_event(req, "created")
    return req


def _locked_pending(actor, request_id) -> AliasChangeRequest:
    """The request (visible to `actor`), its model locked, the request row locked and still PENDING."""
    req = alias_request_get(actor=actor, request_id=request_id)
    model_lock(req.model)  # the alias service's lock: no alias change of this model runs meanwhile
    state = AliasChangeRequest.objects.select_for_update().filter(pk=req.pk).values_list("state", flat=True).first()
    if state is None:
        raise NotFound(f"Alias change request {req.pk} not found")
    if state != RequestState.PENDING:
        raise InvalidState(f"Alias change request {req.pk} is {state.lower()} already: only a pending request can "
                           "be decided or cancelled.")
    return req


def _decide(req, actor, state: str, comment: str) -> None:
    req.state, req.decided_by, req.decided_at, req.decision_comment = state, actor, timezone.now(), comment
    req.save(update_fields=["state", "decided_by", "decided_at", "decision_comment", "updated_at"])


def alias_request_staleness(req: AliasChangeRequest, *, now: int | None | type = ...) -> str:
    """Why the request's alias is no longer where it was when the request was opened ("" when it still is).
    `now`: the alias's version as the caller already knows it (see current_alias_versions), else looked up."""
    if now is ...:
        current = alias_lookup(req.model, req.alias).select_related("version").first()
        now = current.version.version if current else None
    if now == req.from_version:
        return ""
    was = f"version {req.from_version}" if req.from_version is not None else "not set"
    is_ = f"version {now}" if now is not None else "not set"
    return f"Alias '{req.alias}' has changed since the request was opened (it was {was}, it is now {is_})"


def current_alias_versions(requests) -> dict[int, int | None]:
    """{request pk: the version its alias is on now} for many requests in one query (a list's staleness). No two
    aliases of a model differ only in case, so the lower-case name finds the one alias either case rule means."""
    requests = list(requests)
    on = {(model_id, alias.lower()): number for model_id, alias, number in ModelAlias.objects.filter(
        model_id__in={r.model_id for r in requests}).values_list("model_id", "alias", "version__version")}
    return {r.pk: on.get((r.model_id, r.alias.lower())) for r in requests}


@service("alias_request.approve")
def alias_request_approve(*, actor, request_id, comment: str = "") -> AliasChangeRequest:
    req = alias_request_get(actor=actor, request_id=request_id)
    authorize(actor, DECIDE, req.model, not_found_message=model_not_found_message(req.model.full_name))
    comment = _comment(comment)
    req = _locked_pending(actor, request_id)
    _not_own(actor, req.requested_by_id, "request")
    stale = alias_request_staleness(req)
    if stale:
        raise InvalidState(f"{stale}: approving would apply a change nobody reviewed. Reject or cancel this request "
                           "and open a new one.")
    if req.action == AliasChangeRequest.Action.MOVE:
        if not ModelVersion.objects.filter(model=req.model, version=req.version).exists():
            raise InvalidState(f"Version {req.version} of {req.model.full_name} no longer exists: reject this "
                               "request.")
        alias_apply_set(actor=actor, model=req.model, alias=req.alias, number=req.version)
    else:
        alias_apply_delete(actor=actor, model=req.model, alias=req.alias)
    _decide(req, actor, RequestState.APPROVED, comment)
    audit.record(actor=actor, action="alias_request.approve", obj=req.model, params={
        "request_id": req.pk, "alias": req.alias, "action": req.action, "version": req.version,
        "from_version": req.from_version, "comment": comment})
    alias_request_event(req, "approved")
    return req


@service("alias_request.reject")
def alias_request_reject(*, actor, request_id, comment: str = "") -> AliasChangeRequest:
    req = alias_request_get(actor=actor, request_id=request_id)
    authorize(actor, DECIDE, req.model, not_found_message=model_not_found_message(req.model.full_name))
    comment = _comment(comment)
    req = _locked_pending(actor, request_id)
    _not_own(actor, req.requested_by_id, "request")
    _decide(req, actor, RequestState.REJECTED, comment)
    audit.record(actor=actor, action="alias_request.reject", obj=req.model,
                 params={"request_id": req.pk, "alias": req.alias, "comment": comment})
    alias_request_event(req, "rejected")
    return req


@service("alias_request.cancel")
def alias_request_cancel(*, actor, request_id, comment: str = "") -> AliasChangeRequest:
    """By the person who opened it, or by someone who could have decided it."""
    req = alias_request_get(actor=actor, request_id=request_id)
    comment = _comment(comment)
    if req.requested_by_id != actor.pk:
        authorize(actor, DECIDE, req.model, not_found_message=model_not_found_message(req.model.full_name))
    req = _locked_pending(actor, request_id)
    _decide(req, actor, RequestState.CANCELLED, comment)
    audit.record(actor=actor, action="alias_request.cancel", obj=req.model,
                 params={"request_id": req.pk, "alias": req.alias, "comment": comment})
    alias_request_event(req, "cancelled")
    return req


# Stage transition requests (workspace registry) ---------------------------------------------------------------

def _workspace_version(actor, name: str, version) -> ModelVersion:
    mv = version_get(actor=actor, name=name, version=version)
    if mv.model.is_unity_catalog:
        raise InvalidParameter(
            f"Model stages are not supported for Unity Catalog models such as {mv.model.full_name}: protect an "
            f"alias and request its change instead ({ALIAS_REQUEST_ROUTE}).")
    return mv


@service("transition_request.create")
def transition_request_create(*, actor, name: str, version, stage: str, comment: str = "") -> StageTransitionRequest:
    require_authenticated(actor)
    mv = _workspace_version(actor, name, version)
    stage = stage_canonical(stage)
    comment = _comment(comment)
    if mv.current_stage == stage:
        raise InvalidParameter(f"Version {mv.version} of {mv.model.full_name} is in {stage} already.")
    try:
        with transaction.atomic():
            req = StageTransitionRequest.objects.create(version=mv, to_stage=stage, from_stage=mv.current_stage,
                                                        comment=comment, requested_by=actor)
    except IntegrityError:
        raise AlreadyExists(f"You already have an open request to move version {mv.version} of "
                            f"{mv.model.full_name} to {stage}.") from None
    audit.record(actor=actor, action="transition_request.create", obj=mv, params={
        "request_id": req.pk, "stage": stage, "from_stage": req.from_stage, "comment": comment})
    transition_request_event(req, "created")
    return req


def _open_request(actor, mv: ModelVersion, stage: str, *, creator: str | None = None,
                  decide: bool) -> StageTransitionRequest:
    """The open request to move `mv` to `stage` to decide (the oldest not opened by `actor`) or to cancel (the one
    opened by `creator`, the actor by default), locked."""
    model_lock(mv.model)
    rows = transition_requests_open(mv).filter(to_stage=stage).select_for_update(of=("self",))
    if decide:
        found = rows.exclude(requested_by=actor).first()
        if found is None and rows.exists():
            _not_own(actor, actor.pk, "transition request")
    else:
        found = rows.filter(requested_by__username=creator).first() if creator else rows.filter(
            requested_by=actor).first()
    if found is None:
        raise NotFound(f"No open transition request to move version {mv.version} of {mv.model.full_name} to "
                       f"{stage}" + (f" by {creator[:150]}" if creator else "") + ".")
    return found


def _decide_transition(actor, name, version, stage, comment):
    mv = _workspace_version(actor, name, version)
    authorize(actor, DECIDE, mv.model, not_found_message=model_not_found_message(name))
    stage = stage_canonical(stage)
    comment = _comment(comment)
    return mv, _open_request(actor, mv, stage, decide=True), comment


@service("transition_request.approve")
def transition_request_approve(*, actor, name: str, version, stage: str, archive_existing_versions: bool = False,
                               comment: str = "") -> StageTransitionRequest:
    mv, req, comment = _decide_transition(actor, name, version, stage, comment)
    if not isinstance(archive_existing_versions, bool):
        raise InvalidParameter("archive_existing_versions must be true or false.")
    req.from_stage = mv.current_stage  # the stage it leaves now
    model_version_apply_stage(actor=actor, mv=mv, stage=req.to_stage,
                              archive_existing_versions=archive_existing_versions)
    req.archive_existing_versions = archive_existing_versions
    req.save(update_fields=["from_stage", "archive_existing_versions"])
    _decide(req, actor, RequestState.APPROVED, comment)
    audit.record(actor=actor, action="transition_request.approve", obj=mv, params={
        "request_id": req.pk, "stage": req.to_stage, "from_stage": req.from_stage,
        "archive_existing_versions": archive_existing_versions, "comment": comment})
    transition_request_event(req, "approved")
    return req


@service("transition_request.reject")
def transition_request_reject(*, actor, name: str, version, stage: str, comment: str = "") -> StageTransitionRequest:
    mv, req, comment = _decide_transition(actor, name, version, stage, comment)
    _decide(req, actor, RequestState.REJECTED, comment)
    audit.record(actor=actor, action="transition_request.reject", obj=mv,
                 params={"request_id": req.pk, "stage": req.to_stage, "comment": comment})
    transition_request_event(req, "rejected")
    return req


@service("transition_request.cancel")
def transition_request_cancel(*, actor, name: str, version, stage: str, creator: str | None = None,
                              comment: str = "") -> StageTransitionRequest:
    """Databricks' DELETE transition-requests/delete: the actor's own request, or (for who may decide) anyone's."""
    require_authenticated(actor)
    mv = _workspace_version(actor, name, version)
    stage = stage_canonical(stage)
    comment = _comment(comment)
    if creator is not None and not isinstance(creator, str):
        raise InvalidParameter("creator must be a user name.")
    if creator and creator != actor.get_username():
        authorize(actor, DECIDE, mv.model, not_found_message=model_not_found_message(name))
    req = _open_request(actor, mv, stage, creator=creator or None, decide=False)
    _decide(req, actor, RequestState.CANCELLED, comment)
    audit.record(actor=actor, action="transition_request.cancel", obj=mv,
                 params={"request_id": req.pk, "stage": req.to_stage, "comment": comment})
    transition_request_event(req, "cancelled")
    return req


def may_decide(actor, model: RegisteredModel) -> bool:
    """Whether `actor` may approve or reject requests of `model` (not counting their own), for the UI."""
    return bool(permissions.check(actor, DECIDE, model))


__all__ = [
    "alias_request_approve", "alias_request_cancel", "alias_request_create", "alias_request_reject",
    "alias_request_staleness", "approval_policy_set", "may_decide", "protected_alias_add", "protected_alias_remove",
    "transition_request_approve", "transition_request_cancel", "transition_request_create",
    "transition_request_reject",
]
