"""The caches behind token authentication and invocation targets (registry.change_counter): a write to any table
that decides a token's owner or what an invocation reaches changes the counter in its own transaction, so the next
request sees it; writes that decide nothing (a token's last use, a deployment's lease) leave the cache warm; a
cached invocation reads the counter and nothing else."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from registry import change_counter
from registry.models import ChangeCounter, ModelVersion, PersonalAccessToken, ServingDeployment
from registry.services.aliases import alias_set
from registry.services.grants import grant_add, grant_remove
from registry.services.models import registered_model_update
from registry.services.tokens import token_authenticate, token_create, token_revoke
from registry.services.versions import model_version_transition_stage
from tests.serving.test_legacy_api import UC, WS, invoke, iris_server, manager, models, serve, split  # noqa: F401


def _changes(write) -> bool:
    before = change_counter.current()
    write()
    return change_counter.current() != before


def test_every_write_that_decides_access_or_the_target_changes_the_counter(models, owner, reader, admin):
    model = models[WS]
    served = serve(model, address="http://127.0.0.1:9")
    deployment = served.deployments.first()
    token = token_create(actor=reader, user=reader)[0]
    team = Group.objects.create(name="cc_team")
    writes = {
        "grant added": lambda: grant_add(actor=owner, securable=model, principal=admin, privilege="EXECUTE"),
        "grant removed": lambda: grant_remove(actor=owner, securable=model, principal=reader, privilege="EXECUTE"),
        "alias set": lambda: alias_set(actor=owner, name=WS, alias="Champion", version=1),
        "alias moved": lambda: alias_set(actor=owner, name=WS, alias="Champion", version=2),
        "stage moved": lambda: model_version_transition_stage(actor=owner, name=WS, version=1, stage="Production"),
        "model described": lambda: registered_model_update(actor=owner, name=WS, description="changed"),
        "token revoked": lambda: token_revoke(actor=reader, token_id=token.pk),
        "member added": lambda: reader.groups.add(team),
        "member removed": lambda: reader.groups.remove(team),
        "user deactivated": lambda: type(reader).objects.filter(pk=reader.pk).update(is_active=False),
        "deployment stopped": lambda: ServingDeployment.objects.filter(pk=deployment.pk).update(state="STOPPED"),
        "serving disabled": lambda: type(served).objects.filter(pk=served.pk).update(enabled=False),
        "version deleted": lambda: ModelVersion.objects.filter(model=models[UC], version=2).delete(),
    }
    unchanged = [name for name, write in writes.items() if not _changes(write)]
    assert unchanged == []


def test_writes_that_decide_nothing_leave_the_counter(models, reader):
    served = serve(models[WS], address="http://127.0.0.1:9")
    token = token_create(actor=reader, user=reader)[0]
    now = timezone.now()
    assert not _changes(lambda: PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now))
    assert not _changes(lambda: served.deployments.update(lease_expires_at=now))


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_never_brings_its_value_back(make_user):
    make_user("first")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            make_user("rolled_back")
            seen_inside = change_counter.current()
            raise RuntimeError
    assert change_counter.current() != seen_inside
    make_user("after")
    assert change_counter.current() != seen_inside  # a fresh value, not the one the rolled-back write showed


@pytest.mark.django_db(transaction=True)
def test_a_deleted_counter_row_comes_back_with_a_fresh_value(make_user):
    before = change_counter.current()
    ChangeCounter.objects.all().delete()
    again = change_counter.current()
    assert again is not None and again != before
    assert _changes(lambda: make_user("someone"))


def test_token_revocation_and_deactivation_act_on_the_next_request(reader):
    token, secret = token_create(actor=reader, user=reader)
    assert token_authenticate(secret) == reader
    assert token_authenticate(secret) == reader  # now from the cache
    token_revoke(actor=reader, token_id=token.pk)
    assert token_authenticate(secret) is None
    other = token_create(actor=reader, user=reader)[1]
    assert token_authenticate(other) == reader
    type(reader).objects.filter(pk=reader.pk).update(is_active=False)
    assert token_authenticate(other) is None


def test_a_cached_invocation_reads_only_the_counter(api, models, reader, iris_server, django_assert_num_queries):
    serve(models[UC], address=iris_server.address)
    client = api(reader)
    payload = split(iris_server.X.iloc[:3])
    assert invoke(client, UC, "1", payload).status_code == 200  # resolves and fills the caches
    with django_assert_num_queries(2):  # the counter, read once for the token and once for the target
        response = invoke(client, UC, "1", payload)
    assert response.status_code == 200, response.content


def test_cached_targets_follow_grants_aliases_and_deployments(api, models, owner, reader, iris_server):
    served = serve(models[WS], address=iris_server.address)
    alias_set(actor=owner, name=WS, alias="Champion", version=1)
    client = api(reader)
    payload = split(iris_server.X.iloc[:3])
    assert invoke(client, WS, "Champion", payload)["X-Model-Version"] == "1"
    alias_set(actor=owner, name=WS, alias="Champion", version=2)
    assert invoke(client, WS, "Champion", payload)["X-Model-Version"] == "2"
    served.deployments.filter(version__version=2).update(state="STOPPED")
    assert invoke(client, WS, "Champion", payload).status_code in (404, 503)
    assert invoke(client, WS, "1", payload).status_code == 200
    grant_remove(actor=owner, securable=models[WS], principal=reader, privilege="EXECUTE")
    response = invoke(client, WS, "1", payload)
    assert response.status_code == 404, response.content


def test_without_all_its_triggers_nothing_is_cached(db, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(change_counter, "_triggers_in_place", None)
    assert change_counter.triggers_in_place() and change_counter.current() is not None
    monkeypatch.setattr(change_counter, "_triggers_in_place", None)
    with connection.cursor() as cursor:  # inside the test's transaction: rolled back after it
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER change_counter ON registry_grant")
        else:
            cursor.execute("DROP TRIGGER change_counter_registry_grant_insert")
    assert change_counter.current() is None  # a grant could change unseen: no value, so no cache
    calls = []
    cache = change_counter.CountedCache()
    for _ in range(2):
        cache.get_or_compute("key", lambda: calls.append(1) or "value")
    assert len(calls) == 2
