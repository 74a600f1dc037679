"""Concurrency: version numbers allocated under 50 simultaneous creations and during renames, one winner when
many create the same model name, one alias or tag when many set it for the first time, and no service writing
back a stale row. Real threads, real transactions, each thread on its own database connection."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from registry.errors import AlreadyExists, NotFound
from registry.models import (
    AuditEvent,
    Catalog,
    Grant,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
    Schema,
)
from registry.services.aliases import alias_set
from registry.services.catalogs import catalog_update, schema_update
from registry.services.grants import grant_add
from registry.services.models import registered_model_create, registered_model_rename
from registry.services.tags import model_tag_set, version_tag_set
from registry.services.versions import model_version_create
from tests.registry.factories import make_model, make_run

THREADS = 50


def _run_together(count: int, work):
    """Run `work(i)` in `count` threads released at the same moment; returns (results, errors) by index."""
    barrier = threading.Barrier(count)

    def task(i):
        try:
            barrier.wait(timeout=60)
            return work(i), None
        except Exception as exc:  # noqa: BLE001 - every outcome is inspected by the test
            return None, exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        outcomes = list(pool.map(task, range(count)))
    return [r for r, _ in outcomes], [e for _, e in outcomes]


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_version_creations_give_exactly_one_to_fifty(owner):
    make_model(owner, "Concurrent Model")
    sources = [f"runs:/{make_run().run_id}/model" for _ in range(THREADS)]

    def create(i):
        return model_version_create(actor=owner, name="Concurrent Model", source=sources[i]).version

    numbers, errors = _run_together(THREADS, create)
    assert [e for e in errors if e is not None] == []
    assert sorted(numbers) == list(range(1, THREADS + 1))
    stored = ModelVersion.objects.filter(model__name="Concurrent Model")
    assert sorted(stored.values_list("version", flat=True)) == list(range(1, THREADS + 1))
    assert sorted(stored.values_list("source", flat=True)) == sorted(sources)
    assert RegisteredModel.objects.get(name="Concurrent Model").last_version_number == THREADS
    assert AuditEvent.objects.filter(action="model_version.create", outcome="success").count() == THREADS


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["Race Model", "prod.ml_team.race"])
def test_parallel_creation_of_one_name_has_exactly_one_winner(governed, owner, admin, name):
    count = 20
    actors = [owner if i % 2 else admin for i in range(count)]

    def create(i):
        return registered_model_create(actor=actors[i], name=name).pk

    created, errors = _run_together(count, create)
    winners = [pk for pk in created if pk is not None]
    assert len(winners) == 1
    losers = [e for e in errors if e is not None]
    assert len(losers) == count - 1
    assert all(isinstance(e, AlreadyExists) for e in losers), {type(e).__name__ for e in losers}
    assert all("already exists" in e.message for e in losers)
    assert RegisteredModel.objects.filter(name=name.split(".")[-1]).count() == 1
    assert AuditEvent.objects.filter(action="registered_model.create", outcome="failed").count() == count - 1


# Stale rows: a service that read a row, then writes it back whole after someone else changed it, undoes that
# change. To make the interleaving certain, one thread holds the row lock (as a version creation in flight
# does) while the service under test reads the row and blocks on its write; the holder then changes the row and
# commits. SQLite serialises whole write transactions, so there the service simply runs after the holder.

def _wait_until_someone_waits_for_a_lock(timeout: float = 10.0) -> None:
    if connection.vendor != "postgresql":
        time.sleep(0.3)
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise sees one frozen snapshot
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the service under test never waited for the row lock")


def _run_while_row_is_locked(model_class, pk, *, change, service_call):
    """Hold a lock on row `pk`, let `service_call()` start, then apply `change(row)` and commit; returns the
    service's result (or raises its exception)."""
    locked, outcome = threading.Event(), {}

    def holder():
        try:
            with transaction.atomic():
                row = model_class.objects.select_for_update().get(pk=pk)
                locked.set()
                _wait_until_someone_waits_for_a_lock()
                change(row)
        finally:
            locked.set()
            connection.close()

    def caller():
        locked.wait(timeout=10)
        try:
            outcome["result"] = service_call()
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=holder), threading.Thread(target=caller)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name, new_name", [("Renamed Model", "Renamed Model 2"),
                                            ("prod.ml_team.renamed", "prod.ml_team.renamed_2")])
def test_a_rename_does_not_write_back_a_stale_version_counter(governed, owner, name, new_name):
    model = make_model(owner, name)

    def allocate_a_number(row):
        row.last_version_number += 1
        row.save(update_fields=["last_version_number"])

    _run_while_row_is_locked(RegisteredModel, model.pk, change=allocate_a_number,
                             service_call=lambda: registered_model_rename(actor=owner, name=name, new_name=new_name))
    model.refresh_from_db()
    assert (model.name, model.last_version_number) == (new_name.split(".")[-1], 1)
    # The next version gets the next number instead of colliding with the one allocated during the rename.
    assert model_version_create(actor=owner, name=new_name, source=f"runs:/{make_run().run_id}/model").version == 2


@pytest.mark.django_db(transaction=True)
def test_a_catalog_comment_edit_does_not_undo_an_ownership_change(governed, admin, owner):
    catalog = Catalog.objects.get(name="prod")

    def hand_to_owner(row):
        row.owner_user = owner
        row.save(update_fields=["owner_user"])

    _run_while_row_is_locked(Catalog, catalog.pk, change=hand_to_owner,
                             service_call=lambda: catalog_update(actor=admin, name="prod", comment="edited"))
    catalog.refresh_from_db()
    assert (catalog.comment, catalog.owner_user) == ("edited", owner)


@pytest.mark.django_db(transaction=True)
def test_a_schema_comment_edit_does_not_undo_an_ownership_change(governed, admin, owner):
    def hand_to_owner(row):
        row.owner_user = owner
        row.save(update_fields=["owner_user"])

    _run_while_row_is_locked(Schema, governed.pk, change=hand_to_owner,
                             service_call=lambda: schema_update(actor=admin, full_name="prod.ml_team", comment="e"))
    governed.refresh_from_db()
    assert (governed.comment, governed.owner_user) == ("e", owner)


# Many clients at once ------------------------------------------------------------------------------------

def _create_under_either_name(owner, names, source):
    """A client that lost track of a rename tries the other name (as a user would after a 404)."""
    for attempt in range(40):
        try:
            return model_version_create(actor=owner, name=names[attempt % 2], source=source).version
        except NotFound:
            continue
    raise AssertionError("the model was never found under either name")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("names", [("Busy Model", "Busy Model B"), ("prod.ml_team.busy", "prod.ml_team.busy_b")])
def test_versions_created_during_renames_are_numbered_without_gaps_or_duplicates(governed, owner, names):
    count, renamers = 30, 6
    make_model(owner, names[0])
    sources = [f"runs:/{make_run().run_id}/model" for _ in range(count)]

    def work(i):
        if i < renamers:
            current = RegisteredModel.objects.get(pk=model_pk).full_name
            other = names[1] if current == names[0] else names[0]
            try:
                return registered_model_rename(actor=owner, name=current, new_name=other).full_name
            except NotFound:  # another renamer got there first
                return None
        return _create_under_either_name(owner, names, sources[i])

    model_pk = RegisteredModel.objects.get().pk
    results, errors = _run_together(count, work)
    assert [e for e in errors if e is not None] == []
    numbers = sorted(r for r in results[renamers:])
    assert numbers == list(range(1, count - renamers + 1))
    model = RegisteredModel.objects.get(pk=model_pk)
    assert model.last_version_number == count - renamers
    assert sorted(model.versions.values_list("version", flat=True)) == numbers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["Alias Race", "prod.ml_team.alias_race"])
def test_first_time_sets_of_one_alias_leave_one_alias(governed, owner, name):
    count = 20
    make_model(owner, name)
    for _ in range(2):
        model_version_create(actor=owner, name=name, source=f"runs:/{make_run().run_id}/model")

    def work(i):
        return alias_set(actor=owner, name=name, alias="Champion", version=1 + i % 2).version.version

    results, errors = _run_together(count, work)
    assert [e for e in errors if e is not None] == []
    aliases = list(ModelAlias.objects.filter(model__name=name.split(".")[-1]))
    assert [a.alias for a in aliases] == ["Champion"]
    assert aliases[0].version.version in (1, 2)


@pytest.mark.django_db(transaction=True)
def test_case_variants_of_one_new_alias_set_at_once_are_one_alias_on_a_three_level_model(governed, owner):
    name, count = "prod.ml_team.case_race", 20
    make_model(owner, name)
    model_version_create(actor=owner, name=name, source=f"runs:/{make_run().run_id}/model")
    spellings = ["Champion", "champion", "CHAMPION", "cHampion"]

    results, errors = _run_together(count, lambda i: alias_set(actor=owner, name=name, alias=spellings[i % 4],
                                                               version=1).alias)
    assert [e for e in errors if e is not None] == []
    stored = list(ModelAlias.objects.filter(model__name="case_race").values_list("alias", flat=True))
    assert len(stored) == 1 and stored[0] in spellings
    assert set(results) == set(stored)  # every caller was answered with the one alias that exists


@pytest.mark.django_db(transaction=True)
def test_case_variants_of_one_new_alias_set_at_once_on_a_workspace_model_leave_one_and_refuse_the_rest(owner):
    name, count = "Case Race", 20
    make_model(owner, name)
    model_version_create(actor=owner, name=name, source=f"runs:/{make_run().run_id}/model")
    spellings = ["Champion", "champion"]

    results, errors = _run_together(count, lambda i: alias_set(actor=owner, name=name, alias=spellings[i % 2],
                                                               version=1).alias)
    stored = list(ModelAlias.objects.filter(model__name=name).values_list("alias", flat=True))
    assert len(stored) == 1
    assert {r for r in results if r is not None} == set(stored)
    refused = [e for e in errors if e is not None]
    assert refused and all(isinstance(e, AlreadyExists) for e in refused), refused
    assert len(refused) == results.count(None) == sum(1 for i in range(count) if spellings[i % 2] != stored[0])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["Tag Race", "prod.ml_team.tag_race"])
def test_first_time_sets_of_one_tag_key_leave_one_tag(governed, owner, name):
    count = 20
    make_model(owner, name)
    model_version_create(actor=owner, name=name, source=f"runs:/{make_run().run_id}/model")

    def work(i):
        if i % 2:
            return model_tag_set(actor=owner, name=name, key="task", value=f"v{i}").value
        return version_tag_set(actor=owner, name=name, version=1, key="validation", value=f"v{i}").value

    results, errors = _run_together(count, work)
    assert [e for e in errors if e is not None] == []
    assert RegisteredModelTag.objects.filter(key="task").count() == 1
    assert ModelVersionTag.objects.filter(key="validation").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_grant_given_by_many_at_once_is_one_grant(governed, admin, reader):
    count = 20

    def work(i):
        return grant_add(actor=admin, securable=governed, principal=reader, privilege="CREATE MODEL").pk

    results, errors = _run_together(count, work)
    assert [e for e in errors if e is not None] == []
    assert len(set(results)) == 1
    assert Grant.objects.filter(schema=governed, user=reader, privilege="CREATE_MODEL").count() == 1
    grant_add(actor=admin, securable=governed, principal=reader, privilege="CREATE MODEL")  # and again later
