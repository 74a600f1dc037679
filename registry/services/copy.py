"""Copy a model version to another model (promotion across catalogs, e.g. staging.x.y -> prod.x.y): the new
version records its source `models:/<name>/<version>`, the source's run, description and tags, and a COPY
job fills its managed storage. A generated description is copied saying that it describes the source."""
from __future__ import annotations

from registry import audit
from registry.generated_descriptions import copied_description
from registry.models import ModelVersion
from registry.selectors import model_lookup, version_get
from registry.services.core import require_authenticated, service
from registry.services.models import registered_model_create
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
