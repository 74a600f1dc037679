"""GET /api/2.1/lineage and /api/2.1/lineage/tables/<name>: shapes, the error envelope, hidden = missing."""
import pytest

from registry.models import Grant, Privilege

pytestmark = pytest.mark.django_db
URL = "/api/2.1/lineage"


def test_graph_of_a_version(world, api, owner):
    r = api(owner).get(URL, {"node": f"model_version:{world.v1.pk}", "direction": "upstream", "depth": "3"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["root"] == f"model_version:{world.v1.pk}" and body["direction"] == "upstream" and body["depth"] == 3
    nodes = {n["key"]: n for n in body["nodes"]}
    assert nodes["table:prod.ml_team.iris"]["attrs"]["versions"] == ["3"]
    assert {"source": "table:prod.ml_team.iris", "target": f"run:{world.run.run_id}", "label": "training",
            "attrs": {"table_version": "3"}} in body["edges"]


def test_defaults_are_both_directions_depth_three(world, api, owner):
    body = api(owner).get(URL, {"node": "model_version:prod.ml_team.iris_model/1"}).json()
    assert (body["direction"], body["depth"]) == ("both", 3)


@pytest.mark.parametrize("params", [
    {}, {"node": ""}, {"node": "run"}, {"node": "bogus:1"}, {"node": "run:x\x01"},
    {"node": "run:x", "direction": "sideways"}, {"node": "run:x", "depth": "0"}, {"node": "run:x", "depth": "11"},
    {"node": "run:x", "depth": "two"}, {"node": ["run:x", "run:y"]},
])
def test_bad_input_is_a_400_envelope(api, owner, params):
    r = api(owner).get(URL, params)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and r.json()["message"]


def test_hidden_node_answers_exactly_like_a_missing_one(world, api, outsider):
    hidden = api(outsider).get(URL, {"node": f"model_version:{world.v1.pk}"})
    missing = api(outsider).get(URL, {"node": "model_version:987654"})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert hidden.json()["message"].replace(str(world.v1.pk), "X") == missing.json()["message"].replace("987654", "X")


def test_authentication_is_required(world, api):
    assert api().get(URL, {"node": f"model_version:{world.v1.pk}"}).status_code == 401


def test_table_usage_endpoint(world, api, owner, reader):
    body = api(owner).get(f"{URL}/tables/Prod.ML_Team.Iris").json()
    assert body["name"] == "prod.ml_team.iris" and body["versions"] == ["3"]
    assert body["runs"][0]["run_id"] == world.run.run_id and body["runs"][0]["context"] == "training"
    assert {(v["name"], v["copied"]) for v in body["model_versions"]} == {
        ("prod.ml_team.iris_model", False), ("prod.ml_team.iris_copy", True)}
    # A reader of the experiment but of neither model sees the run and no version.
    Grant.objects.create(privilege=Privilege.EXECUTE, user=reader, experiment=world.experiment)
    body = api(reader).get(f"{URL}/tables/prod.ml_team.iris").json()
    assert len(body["runs"]) == 1 and body["model_versions"] == []
    assert api(owner).get(f"{URL}/tables/prod.ml_team.nope").status_code == 404
    assert api(owner).get(f"{URL}/tables/prod.ml_team.%01bad").status_code == 400
