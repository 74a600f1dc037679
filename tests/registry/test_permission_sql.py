"""registry.permission_sql renders the permission rules as raw SQL for the hot read paths; these tests hold it to
the Q rendering of registry.permissions (`restrict`) for every securable class and action, over a random but
seeded registry of owners (users, groups, none), group memberships and grants at every level, and hold the
version provenance columns built on it to the ones compiled from `restrict`."""
from __future__ import annotations

import random
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Exists, OuterRef

from registry import permissions
from registry.models import (
    Catalog,
    Experiment,
    Grant,
    LoggedModel,
    ModelVersion,
    Privilege,
    RegisteredModel,
    Run,
    Schema,
)
from registry.permission_sql import restrict_outer
from registry.permissions import Action
from registry.source_visibility import _base_columns

SEEDS = [1, 2, 3]


def _random_registry(seed: int):
    rng = random.Random(seed)
    User = get_user_model()
    groups = [Group.objects.create(name=f"g{seed}_{i}") for i in range(3)]
    users = [User.objects.create_user(f"u{seed}_{i}") for i in range(6)]
    for user in users:
        user.groups.set(rng.sample(groups, rng.randint(0, 2)))
    inactive = User.objects.create_user(f"inactive{seed}", is_active=False)

    def owner():
        kind = rng.choice(["user", "group", "none"])
        return {"owner_user": rng.choice(users) if kind == "user" else None,
                "owner_group": rng.choice(groups) if kind == "group" else None}

    catalogs = [Catalog.objects.create(name=f"c{seed}_{i}", **owner()) for i in range(3)]
    schemas = [Schema.objects.create(catalog=rng.choice(catalogs), name=f"s{i}", **owner()) for i in range(5)]
    models = [RegisteredModel.objects.create(schema=rng.choice(schemas), name=f"m{i}", **owner()) for i in range(8)]
    models += [RegisteredModel.objects.create(schema=None, name=f"w{seed}_{i}", **owner()) for i in range(6)]
    now = int(time.time() * 1000)
    experiments = [Experiment.objects.create(id=1000 * seed + i, name=f"e{seed}_{i}", artifact_location="x",
                                             open_to_all=rng.random() < 0.3, creation_time=now,
                                             last_update_time=now, **owner())
                   for i in range(5)]
    securables = {"catalog": catalogs, "schema": schemas, "model": models, "experiment": experiments}
    for _ in range(60):
        level = rng.choice(list(securables))
        principal = {"user": rng.choice(users)} if rng.random() < 0.6 else {"group": rng.choice(groups)}
        Grant.objects.create(privilege=rng.choice(Privilege.values), **{level: rng.choice(securables[level])},
                             **principal)
    return [*users, inactive], models, experiments, rng


def _pks(queryset) -> set:
    return set(queryset.values_list("pk", flat=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_rule_renders_to_the_same_rows_as_restrict(db, seed):
    actors, _, _, _ = _random_registry(seed)
    compared = 0
    for cls in (Catalog, Schema, RegisteredModel, Experiment, ModelVersion):
        for action in Action:
            for actor in actors:
                try:
                    expected = _pks(permissions.restrict(actor, cls.objects.all(), action))
                except ValueError:  # the action does not apply to this class
                    break
                assert _pks(restrict_outer(actor, cls.objects.all(), action)) == expected, (cls, action, actor)
                compared += 1
    assert compared > 100


@pytest.mark.parametrize("seed", SEEDS)
def test_provenance_columns_match_the_compiled_rules(db, seed):
    actors, models, experiments, rng = _random_registry(seed)
    versions = []
    for i in range(20):
        experiment = rng.choice(experiments)
        run = Run.objects.create(run_id=f"r{seed}_{i}", experiment=experiment, artifact_uri="x")
        logged = LoggedModel.objects.create(model_id=f"m-{seed}x{i}", experiment=rng.choice(experiments),
                                            name="model", artifact_uri="x", creation_timestamp_ms=0,
                                            last_updated_timestamp_ms=0)
        model = rng.choice(models)
        model.last_version_number += 1
        model.save(update_fields=["last_version_number"])
        copied_from = rng.choice(versions) if versions and rng.random() < 0.5 else None
        versions.append(ModelVersion.objects.create(
            model=model, version=model.last_version_number, source="x", copied_from=copied_from,
            run_id=run.run_id if rng.random() < 0.8 else "", logged_model_id=logged.model_id if rng.random() < 0.7
            else ""))
    table = connection.ops.quote_name(ModelVersion._meta.db_table)
    seen = set()
    for actor in actors:
        # The columns as source_visibility compiled them before they were rendered as raw SQL.
        compiled = {
            "run_ok": Exists(permissions.restrict(actor, Experiment.objects.filter(runs__run_id=OuterRef("run_id")))),
            "logged_ok": Exists(permissions.restrict(
                actor, Experiment.objects.filter(logged_models__model_id=OuterRef("logged_model_id")))),
            "copied_ok": Exists(permissions.restrict(
                actor, RegisteredModel.objects.filter(pk=OuterRef("copied_from__model_id")))),
        }
        expected = list(ModelVersion.objects.order_by("pk").annotate(**compiled).values_list("pk", *compiled))
        rendered = list(ModelVersion.objects.order_by("pk").annotate(**_base_columns(actor, f"{table}.id"))
                        .values_list("pk", *compiled))
        assert [(pk, *map(bool, rest)) for pk, *rest in rendered] == \
               [(pk, *map(bool, rest)) for pk, *rest in expected], actor
        seen.update((pk, *map(bool, rest)) for pk, *rest in expected)
    # The registry gives a mix: some sources readable by some actors, some not.
    assert {value for _, *rest in seen for value in rest} == {True, False}
