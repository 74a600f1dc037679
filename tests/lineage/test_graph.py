"""The lineage graph selector: directions, depth, copies with their job, aliases, renames and deletions."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.errors import NotFound
from registry.lineage.selectors import lineage_graph
from registry.models import Job, ModelVersion, RunInput
from registry.services.models import registered_model_delete, registered_model_rename
from registry.services.versions import model_version_delete
from tests.lineage.conftest import context, edge_set, keys, make_experiment, make_run, make_version, table_dataset

pytestmark = pytest.mark.django_db


def test_upstream_of_a_version_reaches_the_table_with_its_version(world, owner):
    g = lineage_graph(actor=owner, node=f"model_version:{world.v1.pk}", direction="upstream", depth=3)
    run, v1 = f"run:{world.run.run_id}", f"model_version:{world.v1.pk}"
    assert edge_set(g) >= {
        ("table:prod.ml_team.iris", run, "training"),
        (f"dataset:{world.csv.pk}", run, "evaluation"),
        (f"experiment:{world.experiment.pk}", run, "run"),
        (run, "logged_model:m-iris1", "logged"),
        ("logged_model:m-iris1", v1, "registered"),
        (f"alias:{world.alias.pk}", v1, "alias"),
    }
    table = g.nodes["table:prod.ml_team.iris"]
    assert table.type == "table" and table.name == "prod.ml_team.iris" and table.attrs["versions"] == ["3"]
    training = next(e for e in g.edges if e.label == "training")
    assert training.attrs == {"table_version": "3"}
    assert g.nodes[f"dataset:{world.csv.pk}"].attrs["source"] == {"url": "https://example.com/iris-eval.csv"}
    assert f"model_version:{world.copy.pk}" not in g.nodes  # downstream was not asked for


def test_depth_bounds_the_walk(world, owner):
    g = lineage_graph(actor=owner, node=f"model_version:{world.v1.pk}", direction="upstream", depth=1)
    assert keys(g) == {f"model_version:{world.v1.pk}", "logged_model:m-iris1", f"alias:{world.alias.pk}"}
    g2 = lineage_graph(actor=owner, node=f"model_version:{world.v1.pk}", direction="upstream", depth=2)
    assert f"run:{world.run.run_id}" in g2.nodes and "table:prod.ml_team.iris" not in g2.nodes


def test_downstream_of_the_table_reaches_the_copy_and_its_job(world, owner):
    g = lineage_graph(actor=owner, node="table:Prod.ML_Team.Iris", direction="downstream", depth=4)
    assert g.root == "table:prod.ml_team.iris"
    copy_edge = next(e for e in g.edges if e.label == "copy")
    assert (copy_edge.source, copy_edge.target) == (f"model_version:{world.v1.pk}", f"model_version:{world.copy.pk}")
    assert copy_edge.attrs == {"job_id": world.job.pk, "job_kind": "register", "job_state": "SUCCEEDED"}
    assert f"dataset:{world.csv.pk}" not in g.nodes  # a sibling input is neither upstream nor downstream


def test_both_directions_and_readable_start_node_forms(world, owner):
    g = lineage_graph(actor=owner, node="model_version:prod.ml_team.iris_model/1", direction="both", depth=3)
    assert "table:prod.ml_team.iris" in g.nodes and f"model_version:{world.copy.pk}" in g.nodes
    a = lineage_graph(actor=owner, node="alias:prod.ml_team.iris_model@Champion", direction="upstream", depth=1)
    assert a.root == f"alias:{world.alias.pk}" and "logged_model:m-iris1" in a.nodes
    assert a.nodes[a.root].name == "prod.ml_team.iris_model@Champion"


def test_a_copy_does_not_hang_off_the_run_it_inherited(world, owner):
    g = lineage_graph(actor=owner, node=f"run:{world.run.run_id}", direction="downstream", depth=1)
    assert f"model_version:{world.copy.pk}" not in g.nodes
    assert edge_set(g) == {(f"run:{world.run.run_id}", "logged_model:m-iris1", "logged")}


def test_version_registered_from_a_run_without_logged_model(world, owner):
    plain = make_version(world.model, 2, run=world.run)
    g = lineage_graph(actor=owner, node=f"run:{world.run.run_id}", direction="downstream", depth=1)
    assert (f"run:{world.run.run_id}", f"model_version:{plain.pk}", "registered") in edge_set(g)


def test_rename_keeps_edges_and_shows_the_new_name(world, owner):
    registered_model_rename(actor=owner, name="prod.ml_team.iris_model", new_name="prod.ml_team.flowers")
    g = lineage_graph(actor=owner, node=f"model_version:{world.copy.pk}", direction="upstream", depth=4)
    assert g.nodes[f"model_version:{world.v1.pk}"].name == "prod.ml_team.flowers v1"
    assert "table:prod.ml_team.iris" in g.nodes


def test_deleted_source_version_is_shown_as_deleted_not_dropped(world, owner):
    registered_model_rename(actor=owner, name="prod.ml_team.iris_model", new_name="prod.ml_team.flowers")
    model_version_delete(actor=owner, name="prod.ml_team.flowers", version=1)
    g = lineage_graph(actor=owner, node=f"model_version:{world.copy.pk}", direction="upstream", depth=2)
    source = next(g.nodes[e.source] for e in g.edges if e.label == "copy")
    assert source.type == "model_version" and source.deleted
    assert source.name == "prod.ml_team.flowers v1"  # found by the model's uid, through the rename
    assert len(g.nodes) == 2  # a deleted node is a leaf


def test_source_of_a_deleted_model_is_restricted_except_for_admins(world, owner, admin):
    registered_model_delete(actor=owner, name="prod.ml_team.iris_model")
    seen_by_owner = lineage_graph(actor=owner, node=f"model_version:{world.copy.pk}", direction="upstream", depth=1)
    assert [n.type for n in seen_by_owner.nodes.values()].count("restricted") == 1
    seen_by_admin = lineage_graph(actor=admin, node=f"model_version:{world.copy.pk}", direction="upstream", depth=1)
    ghost = next(n for n in seen_by_admin.nodes.values() if n.deleted)
    assert ghost.name == "prod.ml_team.iris_model v1"


def test_deleted_run_and_dangling_run_id_are_deleted_nodes(world, owner):
    world.run.lifecycle_stage = "deleted"
    world.run.save()
    g = lineage_graph(actor=owner, node=f"model_version:{world.v1.pk}", direction="upstream", depth=2)
    assert g.nodes[f"run:{world.run.run_id}"].deleted
    orphan = ModelVersion.objects.create(model=world.model, version=3, source=f"runs:/{'f' * 32}/model",
                                         run_id="f" * 32)
    g = lineage_graph(actor=owner, node=f"model_version:{orphan.pk}", direction="upstream", depth=2)
    assert g.nodes[f"run:{'f' * 32}"].deleted and len(g.nodes) == 2


def test_missing_start_node_is_not_found(world, owner):
    for node in ("run:nope", "model_version:999999", "table:prod.ml_team.nope", "alias:prod.ml_team.iris_model@x",
                 "experiment:abc", "model_version:not.a/name"):
        with pytest.raises(NotFound):
            lineage_graph(actor=owner, node=node, direction="both", depth=2)


def _grow(world, n: int) -> None:
    """n more runs on the iris table, each with a version registered from it and a copy of that version."""
    exp = make_experiment(100 + n, f"scale-{n}", world.experiment.owner_user)
    for i in range(n):
        run = make_run(exp, f"{n:02d}{i:030d}", f"run-{i}")
        RunInput.objects.create(run=run, dataset=table_dataset(exp, digest=f"d{i}"), tags=context("training"))
        v = make_version(world.model, 10 + i + 100 * n, run=run)
        copy = make_version(world.copy_model, 10 + i + 100 * n, run=run, copied_from=v)
        Job.objects.create(kind=Job.Kind.REGISTER, model_version=copy, params={})


def test_queries_are_batched_by_level_not_by_node(world, owner):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            g = lineage_graph(actor=owner, node="table:prod.ml_team.iris", direction="downstream", depth=4)
        return len(ctx.captured_queries), len(g.nodes)

    _grow(world, 3)
    small, small_nodes = count()
    _grow(world, 25)
    large, large_nodes = count()
    assert large_nodes > small_nodes + 60
    assert large == small
