"""The model page's Webhooks tab: offered to who may manage the model, listing its webhooks and their delivery log
(every attempt's status, latency and answer), never the secret."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from registry.models import WebhookAttempt, WebhookDelivery
from registry.services.webhooks import webhook_create
from tests.explorer.conftest import MODEL

URL = f"/models/{MODEL}/webhooks/"


def test_the_owner_sees_the_webhooks_and_every_attempt_but_not_the_secret(client_for, owner, iris, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    hook = webhook_create(actor=owner, name="ci", url="http://127.0.0.1:9/hook", model_name=MODEL,
                          secret="never-shown", events=[{"entity": "MODEL_VERSION", "action": "CREATED"}])
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(webhook=hook, event="model_version.created", body="{}", model=iris,
                                              state="DELIVERED", attempts=2, next_attempt_at=now,
                                              give_up_at=now + timedelta(hours=1))
    WebhookAttempt.objects.create(delivery=delivery, number=1, started_at=now, latency_ms=12, status_code=500,
                                  error="HTTP 500", response_excerpt="boom")
    WebhookAttempt.objects.create(delivery=delivery, number=2, started_at=now, latency_ms=7, status_code=200)
    page = client_for(owner).get(f"/models/{MODEL}/")
    assert URL in page.content.decode()  # the tab is offered
    html = client_for(owner).get(URL).content.decode()
    assert "http://127.0.0.1:9/hook" in html and str(delivery.delivery_id) in html
    assert "#1 500 · 12 ms · HTTP 500" in html and "#2 200 · 7 ms" in html
    assert "never-shown" not in html


def test_a_reader_who_may_not_manage_the_model_gets_neither_tab_nor_page(client_for, reader, iris):
    assert URL not in client_for(reader).get(f"/models/{MODEL}/").content.decode()
    assert client_for(reader).get(URL).status_code == 404
