"""Unity Catalog's rule for lineage: what a principal may not see is a restricted node that reveals nothing of
its name, in the JSON and in the picture; a start node it may not see does not exist."""
import json

import pytest

from registry.errors import NotFound
from registry.lineage.selectors import lineage_graph, table_usage
from registry.lineage.svg import render_svg, table_rows
from registry.models import Grant, Privilege, RunInput
from tests.lineage.conftest import context, make_experiment, make_run, table_dataset

pytestmark = pytest.mark.django_db

SECRETS = ("prod.ml_team.iris_model", "iris_model", "train-iris", "a" * 32, "m-iris1", "iris-logged", "iris-exp",
           "iris-eval", "Champion")


def _everything(graph) -> str:
    rows = [vars(r) for r in table_rows(graph, lambda n: f"/x/{n.key}")]
    return json.dumps(graph.as_dict()) + render_svg(graph, lambda n: f"/x/{n.key}") + json.dumps(rows)


def _execute(user, model):
    Grant.objects.create(privilege=Privilege.EXECUTE, user=user, model=model)


def test_reader_of_the_copy_only_sees_the_source_as_restricted(world, reader):
    _execute(reader, world.copy_model)
    g = lineage_graph(actor=reader, node=f"model_version:{world.copy.pk}", direction="upstream", depth=5)
    assert [n.type for n in g.nodes.values()] == ["model_version", "restricted"]
    text = _everything(g)
    for secret in SECRETS + ("prod.ml_team.iris\"",):
        assert secret not in text
    restricted = next(n for n in g.nodes.values() if n.restricted)
    assert restricted.as_dict() == {"key": "restricted:r1", "type": "restricted", "id": "r1"}
    assert g.edges[0].label == "copy" and g.edges[0].attrs == {}  # the job belongs to the visible copy, but hidden end


def test_reader_of_the_model_without_the_experiment_sees_a_restricted_logged_model(world, reader):
    _execute(reader, world.model)
    g = lineage_graph(actor=reader, node=f"model_version:{world.v1.pk}", direction="upstream", depth=5)
    types = sorted(n.type for n in g.nodes.values())
    assert types == ["alias", "model_version", "restricted"]
    text = _everything(g)
    for secret in ("train-iris", "a" * 32, "m-iris1", "iris-logged", "iris-exp", "iris-eval", "prod.ml_team.iris\""):
        assert secret not in text
    assert "prod.ml_team.iris_model v1" in text  # what it may see is named


def test_table_downstream_hides_runs_of_unreadable_experiments_and_their_context(world, owner, reader):
    other = make_experiment(8, "secret-exp")  # nobody but admins reads it
    hidden_run = make_run(other, "b" * 32, "secret-run")
    RunInput.objects.create(run=hidden_run, dataset=table_dataset(other, version=9), tags=context("secret-context"))
    g = lineage_graph(actor=owner, node="table:prod.ml_team.iris", direction="downstream", depth=2)
    text = _everything(g)
    for secret in ("secret-run", "b" * 32, "secret-context", "secret-exp"):
        assert secret not in text
    assert g.nodes["table:prod.ml_team.iris"].attrs["versions"] == ["3"]  # version 9 was read by the hidden run
    hidden = [e for e in g.edges if g.nodes[e.target].restricted]
    assert len(hidden) == 1 and hidden[0].label == "" and hidden[0].attrs == {}
    # The table page lists only what the actor may read.
    usage = table_usage(actor=owner, name="prod.ml_team.iris")
    assert [u.run.run_id for u in usage.runs] == [world.run.run_id]
    assert usage.versions == ["3"]
    assert {(mv.model.full_name, mv.version) for mv in usage.model_versions} == {
        ("prod.ml_team.iris_model", 1), ("prod.ml_team.iris_copy", 1)}


def test_start_node_the_actor_cannot_see_is_not_found(world, outsider):
    for node in (f"model_version:{world.v1.pk}", f"run:{world.run.run_id}", "table:prod.ml_team.iris",
                 f"alias:{world.alias.pk}", f"experiment:{world.experiment.pk}", "logged_model:m-iris1",
                 f"dataset:{world.csv.pk}"):
        with pytest.raises(NotFound) as hidden:
            lineage_graph(actor=outsider, node=node, direction="both", depth=1)
        assert "iris_model" not in hidden.value.message or node.startswith("model_version:prod")
    with pytest.raises(NotFound):
        table_usage(actor=outsider, name="prod.ml_team.iris")


def test_admin_sees_everything(world, admin):
    g = lineage_graph(actor=admin, node=f"model_version:{world.copy.pk}", direction="upstream", depth=5)
    assert not any(n.restricted for n in g.nodes.values())
    assert "table:prod.ml_team.iris" in g.nodes
