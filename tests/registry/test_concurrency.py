"""Concurrency: version numbers allocated under 50 simultaneous creations, and one winner when many create the
same model name. Real threads, real transactions, each thread on its own database connection."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from registry.errors import AlreadyExists
from registry.models import AuditEvent, ModelVersion, RegisteredModel
from registry.services.models import registered_model_create
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
