"""Reads of legacy model serving: the status of a served model in the shape the API and the Serving tab show, and
the resolution of an invocation's `<name>/<version|stage|alias>` to a version and the READY deployment that
answers for it. Resolution reads the registry on every request, so an alias or stage move takes effect on the
next request; visibility is the registry's own (`registry.selectors.model_get`: EXECUTE, or NotFound)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from registry.change_counter import CountedCache
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.models import ModelAlias, ModelVersion, RegisteredModel, ServedModel, ServingDeployment
from registry.models.models import Stage, VersionStatus
from registry.models.serving import ServingState
from registry.names import validate_alias_syntax
from registry.selectors import alias_lookup, model_get, parse_version_number, version_not_found_message

# The stages a workspace model's invocation URI may name (`/model/<name>/Production/invocations`).
SERVED_STAGES = (Stage.STAGING, Stage.PRODUCTION)
# Deployments that still stand for their version (the others are on their way out or gone).
_CURRENT = (ServingDeployment.State.PENDING, ServingDeployment.State.READY, ServingDeployment.State.FAILED)


class NotReady(RegistryError):
    """The version is served but no pool answers for it yet (being deployed), or its deployment failed: 503."""

    error_code = "TEMPORARILY_UNAVAILABLE"


def invocation_path(model: RegisteredModel, reference) -> str:
    return f"/model/{quote(model.full_name, safe='')}/{quote(str(reference), safe='')}/invocations"


def served_model_get(model: RegisteredModel) -> ServedModel | None:
    return ServedModel.objects.filter(model=model).first()


def versions_wanted(model: RegisteredModel):
    """The versions serving deploys while enabled: READY and not archived (the runtime derives the same set)."""
    return (ModelVersion.objects.filter(model=model, status=VersionStatus.READY)
            .exclude(current_stage=Stage.ARCHIVED).order_by("version"))


def _latest_in_stages(model: RegisteredModel) -> dict[int, list[str]]:
    """version number -> the stages it answers for (the newest version in a stage is that stage's version)."""
    if model.is_unity_catalog:
        return {}
    result: dict[int, list[str]] = {}
    for stage in SERVED_STAGES:
        number = (ModelVersion.objects.filter(model=model, current_stage=stage).order_by("-version")
                  .values_list("version", flat=True).first())
        if number is not None:
            result.setdefault(number, []).append(stage.value)
    return result


def _aliases(model: RegisteredModel) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for alias, number in ModelAlias.objects.filter(model=model).order_by("alias").values_list("alias", "version__version"):
        result.setdefault(number, []).append(alias)
    return result


def serving_status(*, actor, name: str) -> dict:
    """`{"state", "message", "versions": [{"version", "state", "message", "uris"}]}` for whoever may see the model.

    While serving is enabled, `versions` lists every version it deploys, each with its deployment's state (PENDING
    until a supervisor has a pool answering) and every invocation URI that reaches it: by number, by stage
    (workspace models) and by alias."""
    model = model_get(actor=actor, name=name)
    served = served_model_get(model)
    if served is None or not served.enabled:
        return {"state": ServingState.DISABLED.value, "message": served.message if served else "", "versions": []}
    deployments: dict[int, ServingDeployment] = {}
    current = (ServingDeployment.objects.filter(served_model=served, state__in=_CURRENT)
               .order_by("generation", "id").select_related("version"))
    for deployment in current:  # the newest generation's deployment of each version wins
        deployments[deployment.version.version] = deployment
    stages, aliases = _latest_in_stages(model), _aliases(model)
    versions = []
    for number in versions_wanted(model).values_list("version", flat=True):
        deployment = deployments.get(number)
        references = [number, *stages.get(number, []), *aliases.get(number, [])]
        versions.append({
            "version": str(number),
            "state": deployment.state if deployment else ServingDeployment.State.PENDING.value,
            "message": deployment.message if deployment else "Waiting for a serving supervisor to deploy it.",
            "uris": [invocation_path(model, reference) for reference in references],
        })
    return {"state": served.state, "message": served.message, "versions": versions}


# Invocations --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InvocationTarget:
    model: RegisteredModel
    version: ModelVersion
    deployment: ServingDeployment


def _reference_not_found(model: RegisteredModel, reference: str) -> NotFound:
    kinds = "version, stage or alias" if not model.is_unity_catalog else "version or alias"
    return NotFound(f"Model {model.full_name} has no {kinds} '{reference[:100]}'.")


def version_for_reference(*, model: RegisteredModel, reference: str) -> ModelVersion:
    """The version `reference` names now: a number, a stage (workspace models: the newest version in it) or an
    alias."""
    if reference.isascii() and reference.isdigit():
        number = parse_version_number(reference)
        version = ModelVersion.objects.filter(model=model, version=number).first()
        if version is None:
            raise NotFound(version_not_found_message(model.full_name, number))
        return version
    if not model.is_unity_catalog:
        stage = next((s for s in SERVED_STAGES if s.value.lower() == reference.lower()), None)
        if stage is not None:
            version = ModelVersion.objects.filter(model=model, current_stage=stage).order_by("-version").first()
            if version is None:
                raise NotFound(f"Model {model.full_name} has no version in stage {stage.value}.")
            return version
    try:
        alias = validate_alias_syntax(reference)
    except InvalidParameter:  # not an alias's spelling either
        raise _reference_not_found(model, reference) from None
    found = alias_lookup(model, alias).select_related("version").first()
    if found is None:
        raise _reference_not_found(model, reference)
    return found.version


def _why_not_served(model: RegisteredModel, version: ModelVersion) -> RegistryError:
    served = served_model_get(model)
    label = f"Version {version.version} of model {model.full_name}"
    if served is None or not served.enabled:
        return NotFound(f"Serving is not enabled for model {model.full_name}; its owner (or a user with MANAGE) "
                        "can enable it on the model's Serving tab or with POST /api/2.0/explorer/serving/models/enable.")
    if version.current_stage == Stage.ARCHIVED:
        return NotFound(f"{label} is archived and not served.")
    if version.status != VersionStatus.READY:
        return NotFound(f"{label} is not served: its status is {version.status}.")
    latest = (ServingDeployment.objects.filter(served_model=served, version=version, state__in=_CURRENT)
              .order_by("-generation", "-id").first())
    if latest is not None and latest.state == ServingDeployment.State.FAILED:
        return NotReady(f"{label} could not be deployed: {latest.message or 'no reason recorded'}")
    return NotReady(f"{label} is being deployed and does not answer yet; retry in a few seconds.")


def invocation_target(*, actor, name: str, reference: str) -> InvocationTarget:
    """What answers `POST /model/<name>/<reference>/invocations` for `actor`, now. NotFound for a model the actor
    may not see (EXECUTE), as for one that does not exist, and for what is not served; NotReady while deploying."""
    model = model_get(actor=actor, name=name)
    version = version_for_reference(model=model, reference=reference)
    deployment = (ServingDeployment.objects
                  .filter(served_model__model=model, served_model__enabled=True, version=version,
                          state=ServingDeployment.State.READY)
                  .exclude(version__current_stage=Stage.ARCHIVED)
                  .order_by("-generation", "-id").first())
    if deployment is None:
        raise _why_not_served(model, version)
    return InvocationTarget(model=model, version=version, deployment=deployment)


# (actor, name, reference) -> what answered last, while nothing it was decided from has changed (the change counter
# covers models, versions, aliases, grants, groups, users and deployments). Refusals are not cached.
_targets: CountedCache[InvocationTarget] = CountedCache()


def invocation_target_now(*, actor, name: str, reference: str) -> InvocationTarget:
    """`invocation_target`, from the cache while the registry has not changed since it was last resolved."""
    return _targets.get_or_compute((actor.pk, name, reference),
                                   lambda: invocation_target(actor=actor, name=name, reference=reference))


def signature_columns(version: ModelVersion) -> list[str] | None:
    """The input column names of the version's signature (for examples in error messages), when it has them."""
    inputs = (version.signature or {}).get("inputs") if isinstance(version.signature, dict) else None
    if not isinstance(inputs, list):
        return None
    names = [item.get("name") for item in inputs if isinstance(item, dict) and isinstance(item.get("name"), str)]
    return names or None
