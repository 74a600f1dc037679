"""The audit trail: every successful change, refused attempt and failed validation is recorded with who, what,
which object, the parameters, the outcome and the client address."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import AuditEvent, RegisteredModel
from registry.request_context import request_context
from registry.selectors import model_get
from registry.services.aliases import alias_delete, alias_set
from registry.services.catalogs import catalog_create, catalog_update, schema_create, schema_delete
from registry.services.grants import grant_add, grant_remove, owner_set
from registry.services.models import (
    registered_model_create,
    registered_model_delete,
    registered_model_rename,
    registered_model_update,
)
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from registry.services.tokens import token_create, token_revoke
from registry.services.versions import (
    model_version_delete,
    model_version_transition_stage,
    model_version_update,
)
from tests.registry.factories import make_model, make_version

N = "Audited Model"
SUCCESSES = [
    ("registered_model.create", lambda w: registered_model_create(actor=w.owner, name="Another", description="d")),
    ("registered_model.rename", lambda w: registered_model_rename(actor=w.owner, name=N, new_name="Renamed")),
    ("registered_model.update", lambda w: registered_model_update(actor=w.owner, name=N, description="new")),
    ("registered_model.delete", lambda w: registered_model_delete(actor=w.owner, name=N)),
    ("model_version.create", lambda w: make_version(w.owner, N)),
    ("model_version.update", lambda w: model_version_update(actor=w.owner, name=N, version=1, description="x")),
    ("model_version.delete", lambda w: model_version_delete(actor=w.owner, name=N, version=1)),
    ("model_version.transition_stage",
     lambda w: model_version_transition_stage(actor=w.owner, name=N, version=1, stage="Staging")),
    ("registered_model.set_alias", lambda w: alias_set(actor=w.owner, name=N, alias="Champion", version=1)),
    ("registered_model.delete_alias", lambda w: alias_delete(actor=w.owner, name=N, alias="Old")),
    ("registered_model.set_tag", lambda w: model_tag_set(actor=w.owner, name=N, key="k", value="v")),
    ("registered_model.delete_tag", lambda w: model_tag_delete(actor=w.owner, name=N, key="task")),
    ("model_version.set_tag", lambda w: version_tag_set(actor=w.owner, name=N, version=1, key="k", value="v")),
    ("model_version.delete_tag", lambda w: version_tag_delete(actor=w.owner, name=N, version=1, key="vs")),
    ("grant.add", lambda w: grant_add(actor=w.owner, securable=w.model, principal=w.reader, privilege="EXECUTE")),
    ("grant.remove", lambda w: grant_remove(actor=w.owner, securable=w.model, principal=w.reader, privilege="MANAGE")),
    ("owner.set", lambda w: owner_set(actor=w.owner, securable=w.model, principal=w.reader)),
    ("catalog.create", lambda w: catalog_create(actor=w.admin, name="audited")),
    ("catalog.update", lambda w: catalog_update(actor=w.admin, name="prod", comment="c")),
    ("schema.create", lambda w: schema_create(actor=w.admin, catalog_name="prod", name="more")),
    ("schema.delete", lambda w: schema_delete(actor=w.admin, full_name="prod.ml_team")),
    ("token.create", lambda w: token_create(actor=w.owner, user=w.owner, name="t")),
    ("token.revoke", lambda w: token_revoke(actor=w.owner, token_id=token_create(actor=w.owner, user=w.owner)[0].pk)),
]


class World:
    pass


@pytest.fixture
def world(governed, admin, owner, reader, outsider):
    w = World()
    w.admin, w.owner, w.reader, w.outsider = admin, owner, reader, outsider
    w.model = make_model(owner, N, tags={"task": "classification"})
    make_version(owner, N, tags={"vs": "approved"})
    alias_set(actor=owner, name=N, alias="Old", version=1)
    grant_add(actor=owner, securable=w.model, principal=reader, privilege="MANAGE")
    AuditEvent.objects.all().delete()
    return w


@pytest.mark.django_db
@pytest.mark.parametrize("action,call", SUCCESSES, ids=[a for a, _ in SUCCESSES])
def test_every_successful_service_records_who_what_where_and_the_outcome(world, action, call):
    with request_context(client_address="10.1.2.3", via="api"):
        call(world)
    event = AuditEvent.objects.filter(action=action).order_by("id").last()
    assert event is not None, f"no audit event for {action}"
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.actor in (world.owner, world.admin) and event.actor_name == event.actor.username
    assert event.client_address == "10.1.2.3" and event.via == "api"
    assert event.object_type and event.object_name
    assert isinstance(event.parameters, dict) and event.parameters
    assert event.created_at is not None


@pytest.mark.django_db
def test_event_names_the_object_and_its_parameters(world):
    registered_model_update(actor=world.owner, name=N, description="better")
    event = AuditEvent.objects.get(action="registered_model.update")
    assert (event.object_type, event.object_id, event.object_name) == ("registeredmodel", str(world.model.pk), N)
    assert event.parameters == {"description": "better"}
    assert event.via == "command" and event.client_address is None


@pytest.mark.django_db
def test_denied_attempt_is_recorded_although_the_change_rolled_back(world, governed):
    make_model(world.owner, "prod.ml_team.iris")
    grant_add(actor=world.owner, securable=model_get(actor=world.owner, name="prod.ml_team.iris"),
              principal=world.reader, privilege="EXECUTE")
    with request_context(client_address="10.9.9.9", via="ui"), pytest.raises(PermissionDenied):
        registered_model_update(actor=world.reader, name="prod.ml_team.iris", description="hacked")
    assert model_get(actor=world.owner, name="prod.ml_team.iris").description == ""
    event = AuditEvent.objects.get(action="registered_model.update", outcome=AuditEvent.Outcome.DENIED)
    assert event.actor == world.reader and event.client_address == "10.9.9.9" and event.via == "ui"
    assert event.object_name == "prod.ml_team.iris"
    assert event.parameters == {"name": "prod.ml_team.iris", "description": "hacked"}
    assert "Permission denied" in event.message
    assert not AuditEvent.objects.filter(action="registered_model.update", outcome="success").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("call", [
    lambda w: registered_model_update(actor=w.outsider, name=N, description="x"),
    lambda w: registered_model_delete(actor=w.outsider, name=N),
    lambda w: alias_set(actor=w.outsider, name=N, alias="Mine", version=1),
    lambda w: make_version(w.outsider, N),
    lambda w: registered_model_create(actor=w.outsider, name="prod.ml_team.sneaky"),
    lambda w: schema_create(actor=w.outsider, catalog_name="prod", name="sneaky"),
    lambda w: catalog_create(actor=w.outsider, name="sneaky"),
    lambda w: grant_add(actor=w.outsider, securable=w.model, principal=w.outsider, privilege="MANAGE"),
], ids=["update", "delete", "alias", "version", "create_uc", "schema", "catalog", "grant"])
def test_attempt_on_a_hidden_object_is_audited_as_denied(world, call):
    with pytest.raises((NotFound, PermissionDenied)):
        call(world)
    event = AuditEvent.objects.get()
    assert (event.actor, event.outcome) == (world.outsider, AuditEvent.Outcome.DENIED)


@pytest.mark.django_db
def test_attempt_on_a_truly_missing_object_is_audited_as_failed(world):
    with pytest.raises(NotFound):
        registered_model_update(actor=world.owner, name="Nothing Here", description="x")
    assert AuditEvent.objects.get().outcome == AuditEvent.Outcome.FAILED


@pytest.mark.django_db
def test_failed_validation_is_recorded_as_failed(world):
    with request_context(client_address="10.1.2.3", via="api"), pytest.raises(InvalidParameter):
        alias_set(actor=world.owner, name=N, alias="latest", version=1)
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor) == ("registered_model.set_alias", "failed", world.owner)
    assert event.parameters["alias"] == "latest" and "reserved" in event.message
    assert event.client_address == "10.1.2.3"


@pytest.mark.django_db
def test_hostile_and_huge_parameters_are_bounded(world):
    with pytest.raises(InvalidParameter):
        registered_model_create(actor=world.owner, name="x" * 100_000)
    event = AuditEvent.objects.get()
    assert len(event.object_name) <= 800 and len(event.parameters["name"]) < 1000


@pytest.mark.django_db
def test_token_secret_never_reaches_the_audit_log(world):
    _, secret = token_create(actor=world.owner, user=world.owner, name="ci")
    assert not any(secret in str(e.parameters) + e.message + e.object_name for e in AuditEvent.objects.all())
    assert AuditEvent.objects.filter(action="token.create", outcome="success").exists()


@pytest.mark.django_db
def test_deleting_a_model_keeps_its_audit_history(world):
    registered_model_delete(actor=world.owner, name=N)
    assert not RegisteredModel.objects.filter(name=N).exists()
    assert AuditEvent.objects.get(action="registered_model.delete").object_name == N


@pytest.mark.django_db
def test_refused_grant_names_the_securable(world):
    with pytest.raises(NotFound):
        grant_add(actor=world.outsider, securable=world.model, principal=world.outsider, privilege="MANAGE")
    event = AuditEvent.objects.get()
    assert (event.action, event.object_name, event.parameters["privilege"]) == ("grant.add", N, "MANAGE")
