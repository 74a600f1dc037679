"""Grant statements: the tokenizer and recursive-descent parser (every form, every hostile input with its
position), and the executor, which changes grants only through the services and audits each change with the
statement that made it."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import AuditEvent, Grant, RegisteredModel
from registry.statements.executor import statement_execute
from registry.statements.lexer import StatementError, tokenize
from registry.statements.parser import (
    AlterOwnerStatement,
    GrantStatement,
    RevokeStatement,
    ShowGrantsStatement,
    parse_statement,
)
from tests.registry.factories import make_model, state_fingerprint

MODEL = "prod.ml_team.iris"


# --- parsing -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,cls,kind,parts,privileges,principal", [
    ("GRANT EXECUTE ON MODEL a.b.c TO alice", GrantStatement, "model", ("a", "b", "c"), ["EXECUTE"], "alice"),
    ("grant use catalog, Use_Schema on catalog prod to `ml-team`;", GrantStatement, "catalog", ("prod",),
     ["use catalog", "Use_Schema"], "ml-team"),
    ("GRANT CREATE_MODEL ON SCHEMA prod.ml_team TO 'alice@example.com'", GrantStatement, "schema",
     ("prod", "ml_team"), ["CREATE_MODEL"], "alice@example.com"),
    ("GRANT ALL PRIVILEGES ON DATABASE p.s TO \"x y\"", GrantStatement, "schema", ("p", "s"), ["ALL PRIVILEGES"],
     "x y"),
    ("GRANT EXECUTE ON REGISTERED MODEL `p`.`s`.`m` TO bob", GrantStatement, "model", ("p", "s", "m"),
     ["EXECUTE"], "bob"),
    ("GRANT EXECUTE ON FUNCTION p.s.m TO `we``ird`", GrantStatement, "model", ("p", "s", "m"), ["EXECUTE"],
     "we`ird"),
    ("REVOKE APPLY TAG, MANAGE ON FUNCTION p.s.m FROM bob", RevokeStatement, "model", ("p", "s", "m"),
     ["APPLY TAG", "MANAGE"], "bob"),
    ("  revoke\n\tEXECUTE\non model p.s.m from 'o''brien'  ", RevokeStatement, "model", ("p", "s", "m"),
     ["EXECUTE"], "o'brien"),
])
def test_grant_and_revoke_forms(text, cls, kind, parts, privileges, principal):
    statement = parse_statement(text)
    assert isinstance(statement, cls)
    assert (statement.securable.kind, statement.securable.parts) == (kind, parts)
    assert [p.text for p in statement.privileges] == privileges
    assert statement.principal.text == principal


@pytest.mark.parametrize("text,kind,parts,principal", [
    ("SHOW GRANTS", None, None, None),
    ("SHOW GRANTS;", None, None, None),
    ("show grants on catalog prod", "catalog", ("prod",), None),
    ("SHOW GRANTS alice ON SCHEMA prod.ml_team", "schema", ("prod", "ml_team"), "alice"),
    ("SHOW GRANTS `ml-team` ON MODEL p.s.m", "model", ("p", "s", "m"), "ml-team"),
    ("SHOW GRANTS ON REGISTERED MODEL p.s.m TO 'a@b.c'", "model", ("p", "s", "m"), "a@b.c"),
    ("SHOW GRANTS TO bob", None, None, "bob"),
    ("SHOW GRANTS 'bob'", None, None, "bob"),
])
def test_show_grants_forms(text, kind, parts, principal):
    statement = parse_statement(text)
    assert isinstance(statement, ShowGrantsStatement)
    if kind:
        assert (statement.securable.kind, statement.securable.parts) == (kind, parts)
    else:
        assert statement.securable is None
    assert (statement.principal.text if statement.principal else None) == principal


@pytest.mark.parametrize("text,kind,parts,principal", [
    ("ALTER CATALOG prod OWNER TO alice", "catalog", ("prod",), "alice"),
    ("alter schema prod.ml_team set owner to `ml-team`", "schema", ("prod", "ml_team"), "ml-team"),
    ("ALTER REGISTERED MODEL p.s.m SET OWNER TO 'a@b.c';", "model", ("p", "s", "m"), "a@b.c"),
    ("ALTER FUNCTION p.s.m OWNER TO g", "model", ("p", "s", "m"), "g"),
])
def test_alter_owner_forms(text, kind, parts, principal):
    statement = parse_statement(text)
    assert isinstance(statement, AlterOwnerStatement)
    assert (statement.securable.kind, statement.securable.parts, statement.principal.text) == (kind, parts, principal)


def test_backquoted_name_with_a_dot_is_one_identifier():
    statement = parse_statement("GRANT EXECUTE ON MODEL `my.catalog`.s.m TO bob")
    assert statement.securable.parts == ("my.catalog", "s", "m")


@pytest.mark.parametrize("text,position,fragment", [
    ("DROP TABLE grants", 1, "unknown statement 'DROP'"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob; DROP TABLE registry_grant", 38, "only one statement"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob;;", 37, "only one statement"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob -- and more", 37, "comments are not allowed"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob /* x */", 37, "comments are not allowed"),
    ("GRANT EXECUTE ON MODEL a.b.c TO 'bob", 33, "unterminated ' quote"),
    ("GRANT EXECUTE ON MODEL `a.b.c TO bob", 24, "unterminated ` quote"),
    ("GRANT EXECUTE ON MODEL a.b.c TO ''; DROP TABLE x; --'", 33, "empty quoted name"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob OR 1", 37, "expected the end of the statement, found 'OR'"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob OR 1=1", 41, "unexpected character '='"),
    ("GRANT EXECUTE ON TABLE a.b.c TO bob", 18, "unknown securable type 'TABLE'"),
    ("GRANT EXECUTE ON MODEL a.b TO bob", 24, "a model name has 3 parts"),
    ("GRANT EXECUTE ON CATALOG a.b TO bob", 26, "a catalog name has 1 part"),
    ("GRANT EXECUTE ON MODEL 'a'.b.c TO bob", 24, "not in quotes"),
    ("GRANT EXECUTE ON MODEL a..c TO bob", 26, "expected a name"),
    ("GRANT ON MODEL a.b.c TO bob", 7, "expected a privilege"),
    ("GRANT EXECUTE, ON MODEL a.b.c TO bob", 16, "expected a privilege"),
    ("GRANT EXECUTE ON MODEL a.b.c FROM bob", 30, "expected TO"),
    ("REVOKE EXECUTE ON MODEL a.b.c TO bob", 31, "expected FROM"),
    ("GRANT EXECUTE ON MODEL a.b.c TO", 32, "expected a principal"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob = 1", 37, "unexpected character '='"),
    ("SHOW GRANT", 6, "expected GRANTS"),
    ("SHOW GRANTS bob ON CATALOG c TO alice", 30, "principal is already given"),
    ("ALTER CATALOG c OWNER alice", 23, "expected TO"),
    ("ALTER CATALOG c SET owner_x TO alice", 21, "expected OWNER"),
    ("GRANT EXECUTE ON MODEL a.b.c TO bob\x00", 36, "U+0000"),
    ("GRANT EXECUTE ON MODEL a.b.c TO `a\nb`", 33, "control characters"),
])
def test_hostile_and_malformed_statements_name_position_and_problem(text, position, fragment):
    with pytest.raises(StatementError) as caught:
        parse_statement(text)
    assert caught.value.position == position
    assert f"position {position}" in caught.value.message
    assert fragment in caught.value.message


@pytest.mark.parametrize("text", ["", "   ", None, 7, "GRANT " * 1000])
def test_empty_non_text_and_huge_statements_are_refused(text):
    with pytest.raises(StatementError):
        tokenize(text)


# --- executing ---------------------------------------------------------------------------------------------

@pytest.fixture
def iris(governed, owner):
    return make_model(owner, MODEL)


def _grants() -> list:
    return sorted(Grant.objects.values_list("privilege", "user_id", "group_id", "catalog_id", "schema_id", "model_id"))


@pytest.mark.django_db
@pytest.mark.parametrize("text,field,privileges", [
    ("GRANT EXECUTE, APPLY TAG ON MODEL prod.ml_team.iris TO member", "model", {"EXECUTE", "APPLY_TAG"}),
    ("GRANT EXECUTE ON FUNCTION Prod.ML_Team.Iris TO `member`", "model", {"EXECUTE"}),
    ("GRANT CREATE_MODEL ON SCHEMA prod.ml_team TO 'member'", "schema", {"CREATE_MODEL"}),
    ("GRANT use schema ON DATABASE `prod`.`ml_team` TO member", "schema", {"USE_SCHEMA"}),
    ("GRANT CREATE SCHEMA, USE_CATALOG ON CATALOG prod TO member;", "catalog", {"CREATE_SCHEMA", "USE_CATALOG"}),
    ("GRANT ALL PRIVILEGES ON REGISTERED MODEL prod.ml_team.iris TO member", "model", {"ALL_PRIVILEGES"}),
])
def test_grant_then_revoke_through_the_services_audited_with_the_statement(admin, iris, member, text, field,
                                                                           privileges):
    result = statement_execute(actor=admin, text=text)
    assert result["statement_type"] == "GRANT" and result["principal"] == "member"
    held = Grant.objects.filter(user=member, **{f"{field}__isnull": False})
    assert set(held.values_list("privilege", flat=True)) == privileges
    events = AuditEvent.objects.filter(action="grant.add", parameters__principal="member")
    assert events.count() == len(privileges)
    assert all(e.parameters["statement"] == text for e in events)

    revoke = text.replace("GRANT", "REVOKE").replace(" TO ", " FROM ")
    assert statement_execute(actor=admin, text=revoke)["statement_type"] == "REVOKE"
    assert not Grant.objects.filter(user=member).exists()
    assert all(e.parameters["statement"] == revoke for e in AuditEvent.objects.filter(action="grant.remove"))


@pytest.mark.django_db
def test_grant_to_a_group(admin, iris, team):
    statement_execute(actor=admin, text=f"GRANT EXECUTE ON MODEL {MODEL} TO ml_team")
    assert Grant.objects.filter(group=team, model=iris, privilege="EXECUTE").exists()


@pytest.mark.django_db
def test_alter_owner_audited_with_the_statement(admin, iris, team):
    text = f"ALTER MODEL {MODEL} SET OWNER TO `ml_team`"
    assert statement_execute(actor=admin, text=text) == {"statement_type": "ALTER OWNER", "securable_type": "model",
                                                         "full_name": MODEL, "owner": "ml_team"}
    assert RegisteredModel.objects.get(pk=iris.pk).owner_group == team
    event = AuditEvent.objects.get(action="owner.set")
    assert event.parameters["statement"] == text and event.parameters["previous_owner"] == "owner"


@pytest.mark.django_db
def test_show_grants_with_and_without_securable(admin, iris, reader, outsider):
    statement_execute(actor=admin, text=f"GRANT EXECUTE ON MODEL {MODEL} TO reader")
    on_model = statement_execute(actor=reader, text=f"SHOW GRANTS ON MODEL {MODEL}")["rows"]
    assert {"principal": "owner", "action_type": "OWN", "object_type": "FUNCTION", "object_key": MODEL} in on_model
    assert {"principal": "admin", "action_type": "OWN", "object_type": "CATALOG", "object_key": "prod"} in on_model
    assert {"principal": "owner", "action_type": "CREATE MODEL", "object_type": "SCHEMA",
            "object_key": "prod.ml_team"} in on_model
    everything = statement_execute(actor=admin, text="SHOW GRANTS TO reader")["rows"]
    assert sorted(r["action_type"] for r in everything) == ["EXECUTE", "USE CATALOG", "USE SCHEMA"]
    # Someone who sees nothing sees no grants, and an object it may not see does not exist for it.
    assert statement_execute(actor=outsider, text="SHOW GRANTS")["rows"] == []
    with pytest.raises(NotFound):
        statement_execute(actor=outsider, text=f"SHOW GRANTS ON MODEL {MODEL}")


@pytest.mark.django_db
@pytest.mark.parametrize("text,error,fragment", [
    ("GRANT EXECUTE, SUPERUSER ON MODEL prod.ml_team.iris TO reader", InvalidParameter,
     "position 16: Unknown privilege 'SUPERUSER'"),
    ("GRANT EXECUTE, USE CATALOG ON MODEL prod.ml_team.iris TO reader", InvalidParameter, "cannot be granted"),
    ("GRANT EXECUTE ON MODEL prod.ml_team.iris TO nobody", InvalidParameter, "position 45: Unknown principal"),
    ("GRANT EXECUTE ON MODEL prod.ml_team.ghost TO reader", NotFound, "not found"),
    ("GRANT USE CATALOG ON CATALOG `prod.ml_team` TO reader", InvalidParameter, "must not contain a period"),
    ("GRANT USE CATALOG ON CATALOG `pr``od` TO reader", NotFound, "does not exist"),
    ("GRANT EXECUTE ON MODEL prod.ml_team.iris TO `reader; DROP TABLE registry_grant`", InvalidParameter,
     "Unknown principal"),
    ("GRANT EXECUTE ON MODEL prod.ml_team.iris TO reader; DELETE FROM registry_grant", InvalidParameter,
     "only one statement"),
    ("GRANT EXECUTE ON MODEL prod.ml_team.iris TO reader' OR '1'='1", InvalidParameter, "position 51"),
    ("REVOKE EXECUTE ON MODEL prod.ml_team.iris FROM reader --", InvalidParameter, "comments are not allowed"),
    ("TRUNCATE registry_grant", InvalidParameter, "unknown statement 'TRUNCATE'"),
    ("ALTER CATALOG prod OWNER TO `nobody`", InvalidParameter, "Unknown principal"),
])
def test_bad_statements_change_nothing_and_are_audited(admin, iris, reader, text, error, fragment):
    before, grants = state_fingerprint(), _grants()
    with pytest.raises(error) as caught:
        statement_execute(actor=admin, text=text)
    assert fragment in caught.value.message
    assert state_fingerprint() == before and _grants() == grants
    failed = AuditEvent.objects.filter(action="statement.execute").exclude(outcome="success").get()
    assert failed.parameters["text"] == text[:500]


@pytest.mark.django_db
def test_reader_cannot_grant_on_what_it_does_not_own(iris, reader, outsider):
    before = _grants()
    statement_execute(actor=iris.owner_user, text=f"GRANT EXECUTE ON MODEL {MODEL} TO reader")
    with pytest.raises(PermissionDenied):
        statement_execute(actor=reader, text=f"GRANT EXECUTE ON MODEL {MODEL} TO outsider")
    with pytest.raises(PermissionDenied):
        statement_execute(actor=reader, text=f"ALTER MODEL {MODEL} OWNER TO reader")
    with pytest.raises(NotFound):
        statement_execute(actor=outsider, text=f"GRANT EXECUTE ON MODEL {MODEL} TO outsider")
    assert len(_grants()) == len(before) + 1
    assert RegisteredModel.objects.get(pk=iris.pk).owner_user == iris.owner_user
