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


# ---- hidden and missing start nodes take the same path (issue 11) ---------------------------------------------

def _start_queries(actor, node: str) -> list[str]:
    """The SQL a start node costs until it is refused, with literal values blanked."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx, pytest.raises(NotFound) as refused:
        lineage_graph(actor=actor, node=node, direction="both", depth=1)
    assert refused.value.message == f"Lineage node '{node}' not found."
    return [re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"]) for q in ctx.captured_queries]


def _hidden_and_missing(world):
    return [
        (f"model_version:{world.v1.pk}", "model_version:987654"),
        ("model_version:prod.ml_team.iris_model/1", "model_version:prod.ml_team.nothing_here/1"),
        (f"alias:{world.alias.pk}", "alias:987654"),
        ("alias:prod.ml_team.iris_model@Champion", "alias:prod.ml_team.iris_model@Nobody"),
        (f"run:{world.run.run_id}", "run:" + "f" * 32),
        (f"experiment:{world.experiment.pk}", "experiment:987654"),
        ("logged_model:m-iris1", "logged_model:m-nothere"),
        (f"dataset:{world.csv.pk}", "dataset:987654"),
        ("table:prod.ml_team.iris", "table:prod.ml_team.no_such_table"),
    ]


def test_hidden_and_missing_start_nodes_run_the_same_queries(world, outsider):
    for hidden, missing in _hidden_and_missing(world):
        hidden_sql, missing_sql = _start_queries(outsider, hidden), _start_queries(outsider, missing)
        assert len(hidden_sql) == len(missing_sql) == 1, (hidden, hidden_sql, missing_sql)
        assert hidden_sql == missing_sql, hidden


def test_hidden_and_missing_cost_the_same_over_the_api(world, outsider, api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(outsider)
    client.get("/api/2.1/lineage", {"node": "run:" + "e" * 32})  # token and session lookups warmed up
    counts = {}
    for node in (f"model_version:{world.v1.pk}", "model_version:987654", "table:prod.ml_team.iris",
                 "table:prod.ml_team.no_such_table"):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/api/2.1/lineage", {"node": node})
        assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        counts[node] = (len(ctx.captured_queries), response.json()["message"].replace(node, "<node>"))
    assert len(set(counts.values())) == 1, counts


def test_a_visible_start_node_is_loaded_once(world, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        g = lineage_graph(actor=owner, node="model_version:prod.ml_team.iris_model/1", direction="upstream", depth=1)
    assert g.root == f"model_version:{world.v1.pk}"
    version_loads = [q for q in ctx.captured_queries if 'FROM "registry_modelversion"' in q["sql"]
                     and "WHERE" in q["sql"] and '"registry_modelversion"."id" IN' in q["sql"]]
    assert version_loads == []  # the root came with its visibility in one lookup, not loaded again by pk


def test_an_unreadable_table_page_costs_what_a_missing_one_does(world, outsider):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for name in ("prod.ml_team.iris", "prod.ml_team.no_such_table"):
        with CaptureQueriesContext(connection) as ctx, pytest.raises(NotFound):
            table_usage(actor=outsider, name=name)
        counts.append(len(ctx.captured_queries))
    assert counts == [1, 1]
