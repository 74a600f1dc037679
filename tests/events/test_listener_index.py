"""The index of who may hear an event (registry.events.listener_index): a write nobody listens to runs no webhook or
follower lookup, and a webhook or follow made, changed or removed is heard (or not) from the next write on, because
the `listeners` change counter moves with it in its own transaction."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import change_counter
from registry.models import NotificationEmail, WebhookDelivery
from registry.services.aliases import alias_set
from registry.services.follows import follow_delete, follow_set
from registry.services.models import registered_model_create
from registry.services.tags import version_tag_set
from registry.services.webhooks import webhook_create, webhook_delete, webhook_update
from tests.registry.factories import make_version

pytestmark = pytest.mark.django_db

NAME = "prod.ml_team.fraud"
OTHER = "prod.ml_team.churn"
CREATED = [{"entity": "MODEL_VERSION", "action": "CREATED"}]
ALIAS_CREATED = [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}]


def tables_read_by(action) -> str:
    """The SQL `action()` ran, as one string."""
    with CaptureQueriesContext(connection) as queries:
        action()
    return "\n".join(q["sql"] for q in queries)


@pytest.fixture(autouse=True)
def loopback_webhooks(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # no delivery is attempted: no worker runs here


@pytest.fixture
def models(governed, owner):
    for name in (NAME, OTHER):
        registered_model_create(actor=owner, name=name)
        make_version(owner, name)


def test_a_write_nobody_listens_to_looks_up_no_webhook_or_follower(models, owner):
    # Listeners elsewhere: another model's webhook and follow do not make this model's writes look.
    webhook_create(actor=owner, name="other", url="http://127.0.0.1:9/hook", events=CREATED, model_name=OTHER)
    follow_set(actor=owner, name=OTHER, events=["model_version.created"])
    make_version(owner, NAME)  # the first write after those builds the index (two small queries), once
    for action in (lambda: make_version(owner, NAME),
                   lambda: alias_set(actor=owner, name=NAME, alias="champion", version=1),
                   lambda: version_tag_set(actor=owner, name=NAME, version=1, key="k", value="v")):
        sql = tables_read_by(action)
        assert "registry_webhook" not in sql and "registry_follow" not in sql, sql
    assert not WebhookDelivery.objects.exists() and not NotificationEmail.objects.exists()


def test_webhooks_and_follows_are_heard_from_the_next_write_on(models, owner, admin):
    make_version(owner, NAME)  # the index is computed (nobody listens) and kept
    hook = webhook_create(actor=owner, name="mine", url="http://127.0.0.1:9/hook", events=CREATED,
                          model_name=NAME)
    make_version(owner, NAME)
    assert WebhookDelivery.objects.filter(webhook=hook, event="model_version.created").count() == 1

    webhook_update(actor=owner, webhook_id=str(hook.webhook_id), events=ALIAS_CREATED)
    make_version(owner, NAME)  # no longer an event it hears
    alias_set(actor=owner, name=NAME, alias="champion", version=1)
    assert list(WebhookDelivery.objects.values_list("event", flat=True).order_by("id")) == [
        "model_version.created", "model_version_alias.created"]

    webhook_delete(actor=owner, webhook_id=str(hook.webhook_id))
    alias_set(actor=owner, name=NAME, alias="champion", version=2)
    assert WebhookDelivery.objects.count() == 2

    # A follow of the schema is heard for each of its models.
    admin.email = "admin@example.com"
    admin.save()
    follow_set(actor=admin, schema="prod.ml_team", events=["model_version.created"])
    make_version(owner, OTHER)
    assert NotificationEmail.objects.filter(recipient=admin, event="model_version.created").count() == 1
    follow_delete(actor=admin, schema="prod.ml_team")
    make_version(owner, OTHER)
    assert NotificationEmail.objects.count() == 1


def test_a_registry_wide_webhook_hears_every_model(models, admin, owner):
    webhook_create(actor=admin, name="all", url="http://127.0.0.1:9/hook", events=CREATED)
    make_version(owner, NAME)
    make_version(owner, OTHER)
    assert WebhookDelivery.objects.count() == 2


def test_the_listeners_counter_moves_with_webhooks_and_follows_only(models, owner):
    def moves(action) -> bool:
        before = change_counter.current("listeners")
        action()
        return change_counter.current("listeners") != before

    assert not moves(lambda: make_version(owner, NAME))
    assert not moves(lambda: alias_set(actor=owner, name=NAME, alias="champion", version=1))
    assert moves(lambda: follow_set(actor=owner, name=NAME, events=["model_version.created"]))
    hook = None

    def create():
        nonlocal hook
        hook = webhook_create(actor=owner, name="mine", url="http://127.0.0.1:9/hook", events=CREATED,
                              model_name=NAME)

    assert moves(create)
    assert not moves(lambda: make_version(owner, NAME))  # it writes a delivery row: not a listener's change
    assert moves(lambda: webhook_update(actor=owner, webhook_id=str(hook.webhook_id), status="DISABLED"))
    assert moves(lambda: follow_delete(actor=owner, name=NAME))
