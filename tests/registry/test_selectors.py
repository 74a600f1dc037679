"""Visibility-aware reads: every list and count agrees, object by object, with `permissions.check`."""
from __future__ import annotations

import pytest

from registry import permissions
from registry.models import Catalog, ModelVersion, RegisteredModel, Schema
from registry.permissions import Action
from registry.selectors import catalog_list_visible, model_list_visible, schema_list_visible, version_list_visible
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from tests.registry.factories import make_model, make_version

PERSONAS = ["admin", "owner", "reader", "outsider", "member"]


@pytest.fixture
def landscape(governed, admin, owner, reader, outsider, member, team):
    """Two catalogs, three schemas, UC and workspace models, grants at every level to users and a group."""
    dev = catalog_create(actor=admin, name="dev")
    sandbox = schema_create(actor=admin, catalog_name="dev", name="sandbox")
    schema_create(actor=admin, catalog_name="prod", name="secret")
    for name, creator in (("prod.ml_team.iris", owner), ("prod.ml_team.fraud", admin), ("prod.secret.x", admin),
                          ("dev.sandbox.y", admin), ("dev.sandbox.z", admin), ("ws_a", owner), ("ws_b", outsider)):
        make_model(creator, name)
        make_version(creator, name)
    grant_add(actor=owner, securable=RegisteredModel.objects.get(name="iris"), principal=reader, privilege="EXECUTE")
    grant_add(actor=owner, securable=RegisteredModel.objects.get(name="ws_a"), principal=reader, privilege="EXECUTE")
    grant_add(actor=admin, securable=dev, principal=team, privilege="USE CATALOG")
    grant_add(actor=admin, securable=sandbox, principal=team, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=dev, principal=team, privilege="EXECUTE")
    return {"admin": admin, "owner": owner, "reader": reader, "outsider": outsider, "member": member}


def _allowed(actor, queryset, model_of=lambda obj: obj):
    return sorted(obj.pk for obj in queryset if permissions.check(actor, Action.READ, model_of(obj)))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_lists_and_counts_agree_with_check(landscape, persona):
    actor = landscape[persona]
    pairs = [
        (model_list_visible(actor=actor), _allowed(actor, RegisteredModel.objects.all())),
        (catalog_list_visible(actor=actor), _allowed(actor, Catalog.objects.all())),
        (schema_list_visible(actor=actor), _allowed(actor, Schema.objects.all())),
        (version_list_visible(actor=actor), _allowed(actor, ModelVersion.objects.all(), lambda mv: mv.model)),
    ]
    for visible, expected in pairs:
        assert sorted(obj.pk for obj in visible) == expected
        assert visible.count() == len(expected)


@pytest.mark.django_db
def test_each_persona_sees_what_its_grants_say(landscape):
    def names(persona):
        return sorted(m.full_name for m in model_list_visible(actor=landscape[persona]))

    assert names("admin") == sorted(["prod.ml_team.iris", "prod.ml_team.fraud", "prod.secret.x", "dev.sandbox.y",
                                     "dev.sandbox.z", "ws_a", "ws_b"])
    assert names("owner") == ["prod.ml_team.iris", "ws_a"]
    assert names("reader") == ["prod.ml_team.iris", "ws_a"]
    assert names("outsider") == ["ws_b"]
    assert names("member") == ["dev.sandbox.y", "dev.sandbox.z"]  # inherited EXECUTE through the group
    assert sorted(c.name for c in catalog_list_visible(actor=landscape["member"])) == ["dev"]
    assert [s.full_name for s in schema_list_visible(actor=landscape["reader"])] == ["prod.ml_team"]
    assert catalog_list_visible(actor=landscape["outsider"]).count() == 0


@pytest.mark.django_db
def test_model_list_of_one_schema(landscape, governed):
    assert sorted(m.name for m in model_list_visible(actor=landscape["admin"], schema=governed)) == ["fraud", "iris"]
    assert [m.name for m in model_list_visible(actor=landscape["reader"], schema=governed)] == ["iris"]


@pytest.mark.django_db
def test_lists_are_filtered_in_sql_not_in_python(landscape, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        list(model_list_visible(actor=landscape["member"]))
    with django_assert_max_num_queries(1):
        version_list_visible(actor=landscape["reader"]).count()
