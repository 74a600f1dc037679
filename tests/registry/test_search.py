"""The registry search grammar: filters, LIKE escaping, the prompt clause, ordering, page tokens and visibility."""
from __future__ import annotations

import base64

import pytest

from registry.errors import InvalidParameter
from registry.models import RegisteredModel
from registry.search import search_model_versions, search_registered_models
from registry.search.grammar import parse_filter
from registry.search.like import to_glob, to_regex
from registry.search.pages import decode_page_token, encode_page_token
from registry.services.grants import grant_add
from registry.services.tags import model_tag_set, version_tag_set
from registry.services.versions import model_version_transition_stage
from tests.registry.factories import make_model, make_run, make_version, run_source

PROMPT_CLAUSE = "tag.`mlflow.prompt.is_prompt` != 'true'"


@pytest.fixture
def catalog_models(admin, owner, governed):
    """Workspace models and three-level models in two catalogs, with a few tags."""
    for name in ("Iris", "iris_v2", "fraud 1", "a%b", "axb", "a_b", "a*b", "a[1]"):
        make_model(admin, name)
    make_model(owner, "prod.ml_team.alpha")
    make_model(owner, "prod.ml_team.beta_model")
    from registry.services.catalogs import catalog_create, schema_create

    catalog_create(actor=admin, name="staging")
    schema_create(actor=admin, catalog_name="staging", name="ml_team")
    make_model(admin, "staging.ml_team.alpha")
    model_tag_set(actor=admin, name="Iris", key="task", value="classification")
    model_tag_set(actor=admin, name="Iris", key="key.with dots", value="x")
    model_tag_set(actor=admin, name="iris_v2", key="task", value="Regression\nmulti-line")
    model_tag_set(actor=owner, name="prod.ml_team.alpha", key="task", value="classification")


def names(actor, filter_string=None, **kwargs) -> list[str]:
    return [m.full_name for m in search_registered_models(actor=actor, filter_string=filter_string, **kwargs).items]


# Names ----------------------------------------------------------------------------------------------------

def test_workspace_name_equality_is_exact_and_case_sensitive(admin, catalog_models):
    assert names(admin, "name = 'Iris'") == ["Iris"]
    assert names(admin, "name = 'iris'") == []
    assert names(admin, "name = 'fraud 1'") == ["fraud 1"]


def test_three_level_name_equality_matches_lower_case(admin, catalog_models):
    assert names(admin, "name = 'Prod.ML_Team.Alpha'") == ["prod.ml_team.alpha"]
    assert names(admin, "name = 'prod.alpha'") == []


def test_name_not_equal_keeps_workspace_and_other_models(admin, catalog_models):
    found = names(admin, "name != 'prod.ml_team.alpha'")
    assert "prod.ml_team.alpha" not in found
    assert {"Iris", "staging.ml_team.alpha", "prod.ml_team.beta_model"} <= set(found)
    assert len(found) == RegisteredModel.objects.count() - 1


def test_name_like_compares_the_full_three_level_name(admin, catalog_models):
    assert names(admin, "name LIKE 'prod.%'") == ["prod.ml_team.alpha", "prod.ml_team.beta_model"]
    assert names(admin, "name LIKE '%.alpha'") == ["prod.ml_team.alpha", "staging.ml_team.alpha"]
    assert names(admin, "name LIKE 'Prod.%'") == ["prod.ml_team.alpha", "prod.ml_team.beta_model"]


def test_like_is_case_sensitive_and_ilike_is_not(admin, catalog_models):
    assert names(admin, "name LIKE 'I%'") == ["Iris"]
    assert names(admin, "name LIKE 'i%'") == ["iris_v2"]
    assert names(admin, "name ILIKE 'i%'") == ["Iris", "iris_v2"]


def test_like_wildcards_and_escapes(admin, catalog_models):
    assert names(admin, "name LIKE 'iris_v_'") == ["iris_v2"]
    assert set(names(admin, "name LIKE 'a_b'")) == {"a%b", "axb", "a_b", "a*b"}
    assert names(admin, r"name LIKE 'a\_b'") == ["a_b"]
    assert names(admin, r"name LIKE 'a\%b'") == ["a%b"]
    # Characters special to GLOB or regular expressions are literals in LIKE.
    assert names(admin, "name LIKE 'a*b'") == ["a*b"]
    assert names(admin, "name LIKE 'a[1]'") == ["a[1]"]
    assert names(admin, "name LIKE 'a[%'") == ["a[1]"]


def test_pattern_translation():
    assert to_glob(r"a%b_c\%*?[") == "a*b?c%[*][?][[]"
    assert to_regex(r"a%.\_") == r"(?s)^a.*\._$"


def test_name_in_and_not_in(admin, catalog_models):
    assert names(admin, "name IN ('Iris', 'PROD.ml_team.alpha', 'missing')") == ["Iris", "prod.ml_team.alpha"]
    found = names(admin, "name NOT IN ('Iris', 'prod.ml_team.alpha')")
    assert "Iris" not in found and "prod.ml_team.alpha" not in found and "iris_v2" in found


# Tags -----------------------------------------------------------------------------------------------------

def test_tag_equality_and_spellings(admin, catalog_models):
    assert names(admin, "tags.task = 'classification'") == ["Iris", "prod.ml_team.alpha"]
    assert names(admin, "tag.task = 'classification'") == ["Iris", "prod.ml_team.alpha"]
    assert names(admin, "tags.`key.with dots` = 'x'") == ["Iris"]
    assert names(admin, 'tags."key.with dots" = "x"') == ["Iris"]


def test_tag_not_equal_needs_the_tag(admin, catalog_models):
    # As on an MLflow server: a model without the tag does not match `tags.k != 'v'`.
    assert names(admin, "tags.task != 'classification'") == ["iris_v2"]


def test_tag_like_ilike_and_null(admin, catalog_models):
    assert names(admin, "tags.task LIKE 'class%'") == ["Iris", "prod.ml_team.alpha"]
    assert names(admin, "tags.task LIKE 'regression%'") == []
    assert names(admin, "tags.task ILIKE 'regression%'") == ["iris_v2"]  # % spans the newline
    assert names(admin, "tags.task IS NOT NULL") == ["Iris", "iris_v2", "prod.ml_team.alpha"]
    assert "Iris" not in names(admin, "tags.task IS NULL")
    assert "axb" in names(admin, "tags.task IS NULL")


def test_conditions_are_anded_with_case_insensitive_keywords(admin, catalog_models):
    assert names(admin, "name like 'prod.%' and tags.task = 'classification'") == ["prod.ml_team.alpha"]
    assert names(admin, "tags.task = 'classification' AND tags.`key.with dots` = 'x'") == ["Iris"]


def test_client_prompt_clause_keeps_models_without_the_tag(admin, catalog_models):
    everything = names(admin)
    assert names(admin, PROMPT_CLAUSE) == everything
    assert names(admin, f"name LIKE 'prod.%' AND {PROMPT_CLAUSE}") == ["prod.ml_team.alpha", "prod.ml_team.beta_model"]


def test_prompts_are_hidden_unless_asked_for(admin, catalog_models):
    model_tag_set(actor=admin, name="axb", key="mlflow.prompt.is_prompt", value="true")
    assert "axb" not in names(admin)
    assert "axb" not in names(admin, PROMPT_CLAUSE)
    assert names(admin, "tags.`mlflow.prompt.is_prompt` = 'true'") == ["axb"]


# Errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    "name = ",
    "name ~ 'x'",
    "foo = 'x'",
    "name = 'x' OR name = 'y'",
    "name = 'x' name = 'y'",
    "name = 'x' AND",
    "tags.k > 'x'",
    "name = 5",
    "name LIKE 'abc\\'",
    "name = 'unterminated",
    "metrics.acc = 1",
    "name IN 'x'",
    "name IN ('a', 'b'",
    "(name = 'x')",
    "name IS NULL",
    "tags.k = 1",
    "name NOT LIKE 'x'",
    "tags. = 'x'",
    "name = 'a\x00'",
    "creation_timestamp > 5",
])
def test_invalid_model_filters_are_refused(admin, bad):
    with pytest.raises(InvalidParameter) as exc:
        search_registered_models(actor=admin, filter_string=bad)
    assert exc.value.message.startswith("Invalid filter")


def test_overlong_filter_is_refused(admin):
    with pytest.raises(InvalidParameter):
        search_registered_models(actor=admin, filter_string="name = '" + "x" * 20_000 + "'")
    with pytest.raises(InvalidParameter):
        search_registered_models(actor=admin, filter_string=" AND ".join(["tags.a = 'b'"] * 51))


def test_long_in_lists_work(admin, catalog_models, versions):
    many = ", ".join(f"'m{i}'" for i in range(998))
    assert names(admin, f"name IN ({many}, 'Iris', 'prod.ml_team.alpha')") == ["Iris", "prod.ml_team.alpha"]
    assert len(version_ids(admin, f"run_id IN ({many}, '{versions[0].run_id}')")) == 2
    assert len(version_ids(admin, f"name NOT IN ({many})")) == 4


def test_parser_reports_structure():
    [first, second] = parse_filter("tags.`a.b` ILIKE \"x%\" and version_number >= 3")
    assert (first.entity, first.key, first.op, first.value) == ("tag", "a.b", "ILIKE", "x%")
    assert (second.entity, second.key, second.op, second.value) == ("attribute", "version_number", ">=", 3)
    [in_list] = parse_filter("run_id NOT IN ('a', 'b''c')")
    assert (in_list.op, in_list.value) == ("NOT IN", ["a", "b'c"])


# Ordering and pages ---------------------------------------------------------------------------------------

def test_order_by_name_and_timestamps(admin, catalog_models):
    ascending = names(admin, order_by=["name ASC"])
    assert ascending == sorted(ascending, key=lambda n: ascending.index(n))
    assert names(admin, order_by=["name DESC"]) == list(reversed(ascending))
    model_tag_set(actor=admin, name="axb", key="touched", value="1")  # moves its last-updated time
    assert names(admin, order_by=["last_updated_timestamp DESC"])[0] == "axb"
    assert names(admin, order_by=["timestamp ASC"])[0] == "Iris"
    assert names(admin, order_by=["creation_timestamp DESC", "name ASC"])[0] == "staging.ml_team.alpha"


@pytest.mark.parametrize("bad", [["size ASC"], ["name sideways"], ["name ASC", "name DESC"], ["name ASC extra"], [""]])
def test_bad_order_by_is_refused(admin, bad):
    with pytest.raises(InvalidParameter):
        search_registered_models(actor=admin, order_by=bad)


def test_pages_cover_everything_once(admin, catalog_models):
    everything = names(admin, order_by=["name ASC"])
    seen, token, pages = [], None, 0
    while True:
        page = search_registered_models(actor=admin, max_results=3, page_token=token, order_by=["name ASC"])
        seen += [m.full_name for m in page.items]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == everything
    assert pages == -(-len(everything) // 3)


def test_page_tokens_are_base64_json_offsets(admin):
    token = encode_page_token(7)
    assert base64.b64decode(token) == b'{"offset": 7}'
    assert decode_page_token(token) == 7
    for bad in ("not-base64!", base64.b64encode(b"[1]").decode(), base64.b64encode(b'{"offset": -1}').decode(),
                base64.b64encode(b'{"offset": "3"}').decode(), base64.b64encode(b"\xff").decode()):
        with pytest.raises(InvalidParameter):
            decode_page_token(bad)


# Visibility -----------------------------------------------------------------------------------------------

def test_outsider_finds_nothing(outsider, catalog_models):
    assert names(outsider) == []
    assert names(outsider, "name = 'Iris'") == []


def test_reader_finds_only_models_it_may_execute(admin, reader, governed, catalog_models):
    assert names(reader) == []
    grant_add(actor=admin, securable=governed, principal=reader, privilege="EXECUTE")
    assert names(reader) == ["prod.ml_team.alpha", "prod.ml_team.beta_model"]
    assert names(reader, "name LIKE '%alpha'") == ["prod.ml_team.alpha"]


# Model versions -------------------------------------------------------------------------------------------

@pytest.fixture
def versions(admin):
    make_model(admin, "wine")
    make_model(admin, "other")
    runs = [make_run() for _ in range(3)]
    for run in runs:
        make_version(admin, "wine", source=run_source(run))
    make_version(admin, "other", source=f"runs:/{runs[0].run_id}/elsewhere")
    version_tag_set(actor=admin, name="wine", version="2", key="validation_status", value="approved")
    return runs


def version_ids(actor, filter_string=None, **kwargs) -> list[tuple[str, int]]:
    page = search_model_versions(actor=actor, filter_string=filter_string, **kwargs)
    return [(mv.model.full_name, mv.version) for mv in page.items]


def test_version_filters(admin, versions):
    runs = versions
    assert sorted(version_ids(admin, "name = 'wine'")) == [("wine", 1), ("wine", 2), ("wine", 3)]
    assert sorted(version_ids(admin, f"run_id = '{runs[0].run_id}'")) == [("other", 1), ("wine", 1)]
    assert sorted(version_ids(admin, f"run_id IN ('{runs[1].run_id}', '{runs[2].run_id}')")) == [("wine", 2), ("wine", 3)]
    assert version_ids(admin, "source_path LIKE '%/elsewhere'") == [("other", 1)]
    assert sorted(version_ids(admin, "name = 'wine' AND version_number >= 2")) == [("wine", 2), ("wine", 3)]
    assert version_ids(admin, "name = 'wine' AND version_number = '2'") == [("wine", 2)]
    assert sorted(version_ids(admin, "name='wine' and version_number != 2")) == [("wine", 1), ("wine", 3)]
    assert sorted(version_ids(admin, "version_number IN (1, 3) AND name LIKE 'w%'")) == [("wine", 1), ("wine", 3)]
    assert version_ids(admin, "tags.validation_status = 'approved'") == [("wine", 2)]
    assert version_ids(admin, "name = 'wine' AND version_number < 2") == [("wine", 1)]


@pytest.mark.parametrize("bad", ["version_number = 1.5", "version_number LIKE '1'", "source_path IN ('a')",
                                 "version_number = 'x'", "status = 'READY'", "run_id > 'a'"])
def test_invalid_version_filters_are_refused(admin, versions, bad):
    with pytest.raises(InvalidParameter):
        search_model_versions(actor=admin, filter_string=bad)


def test_version_default_order_is_last_updated_first(admin, versions):
    model_version_transition_stage(actor=admin, name="wine", version="1", stage="Staging")
    assert version_ids(admin, "name = 'wine'")[0] == ("wine", 1)
    assert version_ids(admin, "name = 'wine'", order_by=["version_number ASC"]) == [("wine", 1), ("wine", 2), ("wine", 3)]
    assert version_ids(admin, order_by=["name DESC", "version_number DESC"])[:2] == [("wine", 3), ("wine", 2)]


def test_version_pages(admin, versions):
    first = search_model_versions(actor=admin, max_results=3, order_by=["name ASC", "version_number ASC"])
    second = search_model_versions(actor=admin, max_results=3, page_token=first.next_page_token,
                                   order_by=["name ASC", "version_number ASC"])
    assert [(m.model.name, m.version) for m in first.items + second.items] == [("other", 1), ("wine", 1), ("wine", 2),
                                                                                ("wine", 3)]
    assert second.next_page_token is None


def test_outsider_finds_no_versions(outsider, versions):
    assert version_ids(outsider) == []
