"""Copy a model version to another model (promotion across catalogs, e.g. staging.x.y -> prod.x.y): the new
version records its source `models:/<name>/<version>`, the source's run, description and tags, and a COPY
job fills its managed storage. A generated description is copied saying that it describes the source."""
from __future__ import annotations

from registry import audit, permissions
from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.generated_descriptions import copied_description
from registry.models import ModelVersion
from registry.names import parse_model_name
from registry.permissions import Action
from registry.selectors import model_get, model_lookup, version_get
from registry.services.core import require_authenticated, service
from registry.services.models import _schema_for_create, registered_model_create
from registry.services.versions import model_version_create


@service("model_version.copy")
def model_version_copy(*, actor, source_name: str, source_version, destination_name: str,
                       create_destination: bool = False) -> ModelVersion:
    require_authenticated(actor)
    # Reading the source needs EXECUTE (+ USE CATALOG/SCHEMA); a source the actor may not see is "not found".
    source = version_get(actor=actor, name=source_name, version=source_version)
    if create_destination and not model_lookup(destination_name).exists():
        # Creating needs CREATE MODEL on the destination schema; registered_model_create checks it.
        # The model's description is the source model's: a generated one says so (registry.generated_descriptions).
        registered_model_create(actor=actor, name=destination_name,
                                description=copied_description(source.model.description, "model"))
    tags = dict(source.tags.values_list("key", "value"))
    # model_version_create checks ownership (or MANAGE) of the destination and that the source is READY, and
    # starts the COPY job after commit.
    copied = model_version_create(
        actor=actor, name=destination_name, source=f"models:/{source.model.full_name}/{source.version}",
        run_id=source.run_id, description=source.description, tags=tags, run_link=source.run_link,
        model_id=source.logged_model_id,
    )
    audit.record(actor=actor, action="model_version.copy", obj=copied,
                 params={"source": f"{source.model.full_name}/{source.version}",
                         "destination": f"{copied.model.full_name}/{copied.version}",
                         "create_destination": create_destination})
    return copied


def model_version_copy_effect(*, actor, destination_name: str, create_destination: bool) -> tuple[str, str]:
    """What `model_version_copy` would do with this destination, said before it runs, as (level, sentence);
    level "" (it would go ahead) or "error" (it would be refused). Decided by the checks the copy makes: the
    destination as `model_get` shows it to `actor`, MODIFY on it, else CREATE MODEL on its schema through the
    create service's own parent lookup. A model the actor may not see reads exactly as one that does not exist."""
    name = (destination_name or "").strip()
    if not name:
        return "", "Pick a model you may add versions to, or type a new catalog.schema.model."
    try:
        parsed = parse_model_name(name)
    except InvalidParameter as exc:
        return "error", exc.message
    try:
        model = model_get(actor=actor, name=parsed.full_name)
    except NotFound:
        model = None
    if model is not None:
        decision = permissions.check(actor, Action.MODIFY, model)
        if not decision:
            return "error", f"You may not add versions to {model.full_name}: {decision.reason}."
        return "", f"Becomes version {model.last_version_number + 1} of {model.full_name}."
    if not create_destination:
        return "error", (f"{parsed.full_name} does not exist; tick \u201cCreate the model if it does not exist\u201d "
                         "to create it.")
    if not parsed.is_unity_catalog:
        return "", f"Creates the workspace-registry model {parsed.full_name}; the copy becomes its version 1."
    schema = f"{parsed.catalog}.{parsed.schema}"
    try:
        _schema_for_create(actor, parsed)
    except PermissionDenied:
        return "error", f"Creates {parsed.full_name}: needs CREATE MODEL on {schema}, which you do not have."
    except NotFound as exc:
        return "error", exc.message
    return "", f"Creates {parsed.full_name} (you may create models in {schema}); the copy becomes its version 1."
