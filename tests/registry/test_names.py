"""Name rules with hostile input: three-level Unity Catalog names, flat workspace names, aliases and tag keys.
Every refusal is an InvalidParameter with a message that says what is wrong."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter
from registry.names import (
    parse_model_name,
    parse_schema_name,
    validate_alias,
    validate_tag,
    validate_uc_part,
    validate_workspace_name,
)

HOSTILE_CHARACTERS = {
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "zero-width space": "\u200b",
    "NUL": "\x00",
    "DEL": "\x7f",
    "newline": "\n",
    "escape": "\x1b",
    "byte order mark": "\ufeff",
    "line separator": "\u2028",
}


@pytest.mark.parametrize("char", HOSTILE_CHARACTERS.values(), ids=HOSTILE_CHARACTERS.keys())
def test_control_and_bidi_characters_are_refused_in_every_kind_of_name(char):
    for call in (
        lambda: parse_model_name(f"prod.ml_team.iris{char}"),
        lambda: parse_model_name(f"pr{char}od.ml_team.iris"),
        lambda: parse_model_name(f"iris{char}model"),
        lambda: validate_alias(f"Champ{char}ion"),
        lambda: validate_tag(f"ta{char}sk", "v", max_key=255, max_value=5000),
    ):
        with pytest.raises(InvalidParameter):
            call()


def test_spoofed_name_is_not_the_same_name():
    # "iris" followed by an override would display like another name: refused rather than stored.
    with pytest.raises(InvalidParameter, match="control or bidirectional"):
        validate_workspace_name("iris\u202egpj.exe")


@pytest.mark.parametrize("kind", ["Catalog", "Schema", "Model"])
def test_uc_part_of_255_characters_is_valid_and_256_is_refused(kind):
    assert validate_uc_part("a" * 255, kind) == "a" * 255
    with pytest.raises(InvalidParameter, match="at most 255 characters"):
        validate_uc_part("a" * 256, kind)


def test_overlong_names_are_refused_before_anything_else():
    with pytest.raises(InvalidParameter, match="255"):
        parse_model_name("prod.ml_team." + "m" * 256)
    with pytest.raises(InvalidParameter, match="255"):
        parse_model_name("w" * 256)
    assert parse_model_name("w" * 255).name == "w" * 255
    with pytest.raises(InvalidParameter):
        parse_model_name("x" * 100_000)


def test_two_part_name_says_what_is_expected():
    with pytest.raises(InvalidParameter, match=r"catalog>\.<schema>\.<model"):
        parse_model_name("a.b")


@pytest.mark.parametrize("name", ["a.b.c.d", "prod.ml_team.iris.v2", "a..b", "..", ".", "prod..iris", ".prod.x"])
def test_names_with_the_wrong_number_of_parts_or_empty_parts_are_refused(name):
    with pytest.raises(InvalidParameter):
        parse_model_name(name)


@pytest.mark.parametrize("name", ["prod.ml team.iris", "prod.ml_team.iris model", "prod.ml_team.iris\tx",
                                  "prod.ml_team.a/b", "prod.ml_team. iris"])
def test_spaces_and_slashes_are_refused_in_three_level_names(name):
    with pytest.raises(InvalidParameter):
        parse_model_name(name)


def test_three_level_names_are_lower_cased():
    parsed = parse_model_name("Prod.ML_Team.Iris")
    assert (parsed.catalog, parsed.schema, parsed.name) == ("prod", "ml_team", "iris")
    assert parsed.full_name == "prod.ml_team.iris"
    assert parsed.is_unity_catalog
    assert parse_schema_name("Prod.ML_Team") == ("prod", "ml_team")


@pytest.mark.parametrize("name", ["UpdateRMTest 2", "Fraud Detector", "iris", "IRIS", "model-1_x", "naïve bayes"])
def test_workspace_names_keep_their_spelling(name):
    parsed = parse_model_name(name)
    assert parsed.name == name and parsed.full_name == name
    assert not parsed.is_unity_catalog


@pytest.mark.parametrize("name", ["a/b", "a\\b", "..\\x", "a:b", "models:iris", "", "   "])
def test_workspace_names_refuse_path_separators_colons_and_blanks(name):
    with pytest.raises(InvalidParameter):
        validate_workspace_name(name)


@pytest.mark.parametrize("name", ["%2e%2e", "%2e", "%2E%2E%2Fetc", "..%2f", "%252e%252e"])
def test_percent_encoded_names_are_never_decoded(name):
    """An encoded '..' is either refused or kept literally; it never becomes a relative path segment."""
    try:
        parsed = parse_model_name(name)
    except InvalidParameter:
        return
    assert parsed.name == name
    assert ".." not in parsed.name


def test_percent_encoded_dot_in_a_three_level_name_stays_literal():
    assert parse_model_name("prod.ml_team.%2e%2e").name == "%2e%2e"


@pytest.mark.parametrize("value", [None, 42, b"iris", ["iris"]])
def test_non_string_names_are_invalid_parameters(value):
    with pytest.raises(InvalidParameter):
        parse_model_name(value)
    with pytest.raises(InvalidParameter):
        parse_schema_name(value)


@pytest.mark.parametrize("alias", ["Champion", "champion", "v1-candidate", "version_2", "A" * 255, "-", "_x", "v"])
def test_valid_aliases(alias):
    assert validate_alias(alias) == alias


@pytest.mark.parametrize("alias", ["latest", "LATEST", "Latest", "v1", "V12", "v007", "A" * 256, "", "with space",
                                   "a.b", "a/b", "a@b", "café", "%2e", None, 3])
def test_invalid_aliases_are_refused(alias):
    with pytest.raises(InvalidParameter):
        validate_alias(alias)


def test_reserved_alias_message_explains_why():
    with pytest.raises(InvalidParameter, match="reserved"):
        validate_alias("v3")


def test_tag_limits():
    assert validate_tag("k" * 255, "v" * 5000, max_key=255, max_value=5000) == ("k" * 255, "v" * 5000)
    assert validate_tag("k", None, max_key=255, max_value=5000) == ("k", "")
    for key, value in (("k" * 256, "v"), ("k", "v" * 5001), ("", "v"), (None, "v"), ("k", 5)):
        with pytest.raises(InvalidParameter):
            validate_tag(key, value, max_key=255, max_value=5000)
