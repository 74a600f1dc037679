"""`permissions.abilities` answers many actions in one query and agrees with `check` on every one: each persona
against every action on every kind of securable, with ownership, direct, group and inherited grants in play."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from registry import permissions
from registry.permissions import Action
from registry.selectors import model_get
from registry.services.catalogs import schema_create
from registry.services.grants import grant_add, owner_set
from registry.services.tracking import experiment_create
from tests.registry.factories import default_experiment, make_model

PERSONAS = ["admin", "owner", "reader", "member", "outsider", "inactive", "anonymous", "nobody"]
KINDS = ["catalog", "schema", "team_schema", "uc_model", "team_model", "workspace_model", "experiment",
         "default_experiment"]


@pytest.fixture
def world(admin, owner, reader, outsider, member, team, governed, make_user):
    """Everything a rule can turn on: `owner` owns the UC model, the workspace model and an experiment; `reader`
    holds EXECUTE on them; the member's group owns a second schema (and so what is in it), holds USE on both
    containers, EXECUTE + APPLY TAG on the UC model, MANAGE on the workspace model and the experiment."""
    catalog = governed.catalog
    inactive = make_user("inactive")
    grant_add(actor=admin, securable=catalog, principal=inactive, privilege="ALL PRIVILEGES")
    inactive.is_active = False
    inactive.save()

    uc_model = make_model(owner, "prod.ml_team.iris")
    grant_add(actor=admin, securable=uc_model, principal=reader, privilege="EXECUTE")
    grant_add(actor=admin, securable=catalog, principal=team, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=team, privilege="USE SCHEMA")
    for privilege in ("EXECUTE", "APPLY TAG"):
        grant_add(actor=admin, securable=uc_model, principal=team, privilege=privilege)

    team_schema = schema_create(actor=admin, catalog_name="prod", name="team_space")
    owner_set(actor=admin, securable=team_schema, principal=team)
    grant_add(actor=admin, securable=team_schema, principal=reader, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=team_schema, principal=reader, privilege="APPLY TAG")
    team_model = make_model(admin, "prod.team_space.churn")
    grant_add(actor=admin, securable=team_model, principal=reader, privilege="EXECUTE")

    workspace_model = make_model(owner, "Fraud Detector")
    grant_add(actor=owner, securable=workspace_model, principal=reader, privilege="EXECUTE")
    grant_add(actor=owner, securable=workspace_model, principal=team, privilege="MANAGE")

    experiment = experiment_create(actor=owner, name="churn-experiments")
    grant_add(actor=owner, securable=experiment, principal=reader, privilege="EXECUTE")
    grant_add(actor=owner, securable=experiment, principal=team, privilege="MANAGE")

    objects = {"catalog": catalog, "schema": governed, "team_schema": team_schema,
               "uc_model": model_get(actor=admin, name="prod.ml_team.iris"),
               "team_model": model_get(actor=admin, name="prod.team_space.churn"),
               "workspace_model": model_get(actor=admin, name="Fraud Detector"),
               "experiment": experiment, "default_experiment": default_experiment()}
    personas = {"admin": admin, "owner": owner, "reader": reader, "member": member, "outsider": outsider,
                "inactive": inactive, "anonymous": AnonymousUser(), "nobody": None}
    return SimpleNamespace(objects=objects, personas=personas)


def _applicable(world, obj) -> list[Action]:
    """The actions that have a rule for `obj` (`check` refuses the others with ValueError)."""
    actions = []
    for action in Action:
        try:
            permissions.check(world.personas["outsider"], action, obj)
        except ValueError:
            continue
        actions.append(action)
    return actions


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_abilities_agree_with_check_for_every_action(world, persona, kind, django_assert_max_num_queries):
    actor, obj = world.personas[persona], world.objects[kind]
    actions = _applicable(world, obj)
    with django_assert_max_num_queries(1):
        answers = permissions.abilities(actor, obj, actions)
    expected = {action: permissions.check(actor, action, obj).allowed for action in actions}
    assert answers == expected


@pytest.mark.django_db
def test_the_matrix_has_both_answers_for_every_non_admin_persona_that_can_see_something(world):
    """Guards the test above against a world in which everything is simply allowed or refused."""
    for persona in ("owner", "reader", "member"):
        actor = world.personas[persona]
        answers = [allowed for obj in world.objects.values()
                   for allowed in permissions.abilities(actor, obj, _applicable(world, obj)).values()]
        assert True in answers and False in answers, persona


@pytest.mark.django_db
def test_admin_and_anonymous_abilities_need_no_query(world, django_assert_num_queries):
    model = world.objects["uc_model"]
    actions = _applicable(world, model)
    with django_assert_num_queries(0):
        assert all(permissions.abilities(world.personas["admin"], model, actions).values())
        assert not any(permissions.abilities(AnonymousUser(), model, actions).values())
        assert permissions.abilities(world.personas["reader"], model, []) == {}


@pytest.mark.django_db
def test_an_action_that_does_not_apply_is_refused_like_check(world):
    model = world.objects["uc_model"]
    with pytest.raises(ValueError):
        permissions.check(world.personas["reader"], Action.CREATE_SCHEMA, model)
    with pytest.raises(ValueError):
        permissions.abilities(world.personas["reader"], model, [Action.READ, Action.CREATE_SCHEMA])


@pytest.mark.django_db
def test_abilities_follow_a_grant_change_on_the_next_call(world, admin):
    reader, model = world.personas["reader"], world.objects["uc_model"]
    assert permissions.abilities(reader, model, [Action.TAG]) == {Action.TAG: False}
    grant_add(actor=admin, securable=model, principal=reader, privilege="APPLY TAG")
    assert permissions.abilities(reader, model, [Action.TAG]) == {Action.TAG: True}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_allows_agrees_with_the_sql_rule_for_every_action(world, persona, kind, django_assert_max_num_queries):
    """The rules evaluated in Python over a loaded row (`allows`, behind `check` and the single-object lookups)
    and compiled to SQL (`restrict`, behind every list) agree."""
    actor, obj = world.personas[persona], world.objects[kind]
    for action in _applicable(world, obj):
        with django_assert_max_num_queries(2):
            answer = permissions.allows(actor, action, obj)
        in_sql = permissions.restrict(actor, type(obj).objects.filter(pk=obj.pk), action).exists()
        assert answer == in_sql, action


@pytest.mark.django_db
def test_a_row_looked_up_for_one_actor_is_decided_anew_for_another(world):
    """first_allowed brings the looking actor's grants with the row; a check of that row for someone else must
    read that someone's grants, not the carried ones (a manager's lookup, then an outsider's check)."""
    member, outsider = world.personas["member"], world.personas["outsider"]
    model, _ = permissions.first_allowed(member, type(world.objects["workspace_model"]).objects.filter(
        pk=world.objects["workspace_model"].pk))
    assert permissions.allows(member, Action.MODIFY, model)  # MANAGE through the member's group
    assert not permissions.allows(outsider, Action.MODIFY, model)
    assert not permissions.check(outsider, Action.READ, model).allowed
