"""Which logged inputs are tables (three-level name + version) and which are datasets, and their contexts."""
import json

import pytest

from registry.errors import InvalidParameter
from registry.lineage.capture import classify, input_context, parse_node


def _classify(source_type, source, name="ds"):
    return classify(name=name, source_type=source_type, source_text=json.dumps(source) if isinstance(source, dict)
                    else source)


def test_delta_table_source_is_a_table_with_its_version():
    ref = _classify("delta_table", {"delta_table_name": "prod.ml_team.iris", "delta_table_version": 3,
                                    "is_databricks_uc_table": True, "delta_table_id": None})
    assert (ref.kind, ref.name, ref.version) == ("table", "prod.ml_team.iris", "3")


def test_spark_table_name_is_a_table_and_names_are_normalised():
    ref = _classify("spark", {"table_name": "`Prod`.`ML_Team`.`Iris`"})
    assert (ref.kind, ref.name, ref.version) == ("table", "prod.ml_team.iris", "")


def test_uc_table_source_with_plain_version_key():
    ref = _classify("uc_table", {"table_name": "main.sales.orders", "version": 12})
    assert (ref.kind, ref.name, ref.version) == ("table", "main.sales.orders", "12")


@pytest.mark.parametrize("source_type,source", [
    ("delta_table", {"path": "s3://bucket/iris"}),  # a Delta table by path: a dataset with its path
    ("spark", {"sql": "SELECT * FROM prod.ml_team.iris"}),
    ("http", {"url": "https://example.com/iris.csv"}),
    ("code", {"tags": {"mlflow.source.name": "train.py"}}),
    ("local", {"uri": "/data/iris.parquet"}),
    ("delta_table", "not json"),
    ("delta_table", "[1, 2]"),
    ("delta_table", {"delta_table_name": "a..b"}),
    ("delta_table", {"delta_table_name": "bad\nname"}),
])
def test_other_sources_are_datasets_with_their_source(source_type, source):
    ref = _classify(source_type, source, name="iris-data")
    assert ref.kind == "dataset" and ref.name == "iris-data" and ref.source_type == source_type
    if isinstance(source, dict):
        assert ref.source == source


def test_input_context_reads_the_mlflow_tag():
    assert input_context([{"key": "other", "value": "x"}, {"key": "mlflow.data.context", "value": "evaluation"}]) \
        == "evaluation"
    assert input_context([]) == "" and input_context(None) == ""


def test_parse_node_accepts_every_type_and_normalises_tables():
    assert parse_node("table:Prod.ML_Team.Iris").key == "table:prod.ml_team.iris"
    assert parse_node("model_version:prod.ml_team.m/1").id == "prod.ml_team.m/1"
    assert parse_node("run:abc").type == "run"


@pytest.mark.parametrize("value", ["", "run", "nope:1", "run:", "run:a\x00b", "run:" + "x" * 601, None, 3])
def test_parse_node_rejects_bad_input(value):
    with pytest.raises(InvalidParameter):
        parse_node(value)
