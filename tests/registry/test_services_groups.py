"""Group services: admins create and delete groups and change membership, every change audited; a group that
owns objects cannot be deleted; group grants disappear with the group."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from registry.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from registry.models import AuditEvent, Grant
from registry.services.grants import grant_add, owner_set
from registry.services.groups import group_create, group_delete, group_member_add, group_member_remove


@pytest.mark.django_db
def test_admin_creates_fills_and_deletes_a_group(admin, reader):
    group = group_create(actor=admin, name="Data Science")
    group_member_add(actor=admin, name="Data Science", user="reader")
    group_member_add(actor=admin, name="Data Science", user="reader")  # idempotent
    assert list(group.user_set.values_list("username", flat=True)) == ["reader"]
    group_member_remove(actor=admin, name="Data Science", user="reader")
    assert not group.user_set.exists()
    group_delete(actor=admin, name="Data Science")
    assert not Group.objects.filter(name="Data Science").exists()
    events = AuditEvent.objects.filter(action__startswith="group.", outcome="success").order_by("id")
    assert [e.action for e in events] == ["group.create", "group.member_add", "group.member_add",
                                          "group.member_remove", "group.delete"]
    assert [e.parameters.get("added") for e in events[1:3]] == [True, False]


@pytest.mark.django_db
def test_non_admins_cannot_manage_groups(reader, team, member):
    for call in (lambda: group_create(actor=reader, name="mine"),
                 lambda: group_member_add(actor=reader, name="ml_team", user="reader"),
                 lambda: group_member_remove(actor=reader, name="ml_team", user="member"),
                 lambda: group_delete(actor=reader, name="ml_team")):
        with pytest.raises(PermissionDenied):
            call()
    assert list(team.user_set.values_list("username", flat=True)) == ["member"]
    assert not Group.objects.filter(name="mine").exists()
    assert AuditEvent.objects.filter(action__startswith="group.", outcome="denied").count() == 4


@pytest.mark.django_db
def test_duplicates_unknowns_and_ambiguous_names(admin, reader, team):
    with pytest.raises(AlreadyExists):
        group_create(actor=admin, name="ml_team")
    with pytest.raises(AlreadyExists):
        group_create(actor=admin, name="reader")  # a user's name would make grants ambiguous
    with pytest.raises(NotFound):
        group_member_add(actor=admin, name="nope", user="reader")
    with pytest.raises(NotFound):
        group_member_add(actor=admin, name="ml_team", user="nobody")
    with pytest.raises(InvalidParameter):
        group_create(actor=admin, name="bad\u202ename")


@pytest.mark.django_db
def test_group_that_owns_objects_cannot_be_deleted(admin, governed, team):
    grant_add(actor=admin, securable=governed, principal=team, privilege="USE SCHEMA")
    owner_set(actor=admin, securable=governed, principal=team)
    with pytest.raises(InvalidParameter, match="transfer their ownership"):
        group_delete(actor=admin, name="ml_team")
    owner_set(actor=admin, securable=governed, principal=admin)
    group_delete(actor=admin, name="ml_team")
    assert not Grant.objects.filter(group__name="ml_team").exists()
