"""Webhooks end to end: the real `mlflow` client manages them against a live server; deliveries are sent by real
Celery workers to a real HTTP receiver on loopback, signed as MLflow signs (checked with MLflow's own code)."""
from __future__ import annotations

import json
import signal
import time

import pytest
import requests
from mlflow.entities.webhook import WebhookEvent, WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.webhooks.delivery import _generate_hmac_signature

from registry.errors import InvalidParameter
from registry.models import AuditEvent, Experiment, RegisteredModel, Webhook, WebhookAttempt, WebhookDelivery
from registry.services.core import all_or_nothing
from registry.services.grants import grant_add
from registry.services.models import registered_model_create
from registry.services.webhooks import webhook_create
from tests.conftest import wait_for
from tests.registry.factories import make_run, make_version

SECRET = "s3cret-for-signing"
MODEL_EVENTS = ["model_version.created", "model_version_tag.set", "model_version_tag.deleted",
                "model_version_alias.created", "model_version_alias.deleted"]


def verify(request: dict, secret: str = SECRET) -> None:
    """What a receiver does, with MLflow's own signing function: the signature over id.timestamp.body matches."""
    headers = request["headers"]
    expected = _generate_hmac_signature(secret, headers["x-mlflow-delivery-id"], headers["x-mlflow-timestamp"],
                                        request["body"])
    assert headers["x-mlflow-signature"] == expected


def deliveries_of(hook_name: str):
    return WebhookDelivery.objects.filter(webhook__name=hook_name, is_test=False)


def wait_state(delivery: WebhookDelivery, state: str, timeout: float = 40.0) -> WebhookDelivery:
    def done():
        delivery.refresh_from_db()
        return delivery.state == state
    wait_for(done, timeout=timeout, message=f"delivery {delivery.pk} {state}")
    return delivery


MODEL_CREATED = [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]


def one_model_created(admin, receiver, start_worker, *, hook: str, state: str, **hook_kwargs) -> WebhookDelivery:
    """A registry-wide webhook `hook` hears one model's creation; a worker then takes the delivery to `state`."""
    webhook_create(actor=admin, name=hook, url=receiver.url, events=MODEL_CREATED, **hook_kwargs)
    registered_model_create(actor=admin, name=f"model_of_{hook}")
    start_worker()
    return wait_state(deliveries_of(hook).get(), state)


@pytest.mark.django_db(transaction=True)
def test_mlflow_client_creates_gets_lists_updates_tests_and_deletes_webhooks(mlflow_as, admin, receiver):
    client = mlflow_as(admin)
    hook = client.create_webhook(name="ci-hook", url=receiver.url, events=["registered_model.created"],
                                 description="tell CI", secret=SECRET)
    assert hook.name == "ci-hook" and hook.url == receiver.url and hook.status == WebhookStatus.ACTIVE
    assert [str(e) for e in hook.events] == ["registered_model.created"]
    assert hook.secret is None  # never returned
    got = client.get_webhook(hook.webhook_id)
    assert (got.webhook_id, got.description) == (hook.webhook_id, "tell CI")
    assert [w.webhook_id for w in client.list_webhooks()] == [hook.webhook_id]

    updated = client.update_webhook(hook.webhook_id, url=receiver.url + "/v2",
                                    events=["model_version.created", "model_version_alias.created"],
                                    status=WebhookStatus.DISABLED)
    assert updated.url == receiver.url + "/v2" and updated.status == WebhookStatus.DISABLED
    assert {str(e) for e in updated.events} == {"model_version.created", "model_version_alias.created"}
    assert client.update_webhook(hook.webhook_id, status="ACTIVE").status == WebhookStatus.ACTIVE

    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200
    request = receiver.wait(1)[0]
    verify(request)
    body = json.loads(request["body"])
    assert (body["entity"], body["action"]) == ("model_version", "created")
    assert body["data"]["name"] == "example_model"  # MLflow's example payload
    result = client.test_webhook(hook.webhook_id, event=WebhookEvent.from_str("model_version_alias.created"))
    assert result.success and json.loads(receiver.wait(2)[1]["body"])["data"]["alias"] == "example_alias"

    # The secret is neither in any answer nor readable in the database.
    stored = Webhook.objects.get(webhook_id=hook.webhook_id)
    assert SECRET not in stored.secret_encrypted

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as missing:
        client.get_webhook(hook.webhook_id)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Webhook with ID {hook.webhook_id} not found." in missing.value.message
    actions = list(AuditEvent.objects.filter(action__startswith="webhook.").values_list("action", flat=True))
    assert sorted(set(actions)) == ["webhook.create", "webhook.delete", "webhook.test", "webhook.update"]
    assert not any(SECRET in json.dumps(e.parameters) for e in AuditEvent.objects.all())


@pytest.mark.django_db(transaction=True)
def test_answers_carry_no_secret_and_the_ajax_path_serves_the_same(live_server, admin, token_for, receiver):
    headers = {"Authorization": f"Bearer {token_for(admin)}"}
    created = requests.post(f"{live_server.url}/api/2.0/mlflow/webhooks", headers=headers, timeout=10, json={
        "name": "raw", "url": receiver.url, "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
        "secret": SECRET, "explorer_events": ["model_version.ready"]})
    assert created.status_code == 200, created.text
    assert SECRET not in created.text and "secret" not in created.json()["webhook"]
    assert created.json()["webhook"]["explorer_events"] == ["model_version.ready"]
    listed = requests.get(f"{live_server.url}/ajax-api/2.0/mlflow/webhooks", headers=headers, timeout=10)
    assert listed.status_code == 200 and SECRET not in listed.text
    bad = requests.post(f"{live_server.url}/api/2.0/mlflow/webhooks", headers=headers, timeout=10, json={
        "name": "bad", "url": receiver.url, "events": [{"entity": "MODEL_VERSION", "action": "DELETED"}]})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.django_db(transaction=True)
def test_worker_delivers_mlflow_events_signed_with_one_delivery_id_each(mlflow_as, admin, receiver, start_worker):
    start_worker()
    client = mlflow_as(admin)
    client.create_webhook(name="all", url=receiver.url, secret=SECRET,
                          events=["registered_model.created", *MODEL_EVENTS])
    client.create_registered_model("fraud", tags={"team": "risk"}, description="fraud model")
    mv = make_version(admin, "fraud", description="v1")
    client.set_model_version_tag("fraud", mv.version, "validation_status", "approved")
    client.delete_model_version_tag("fraud", mv.version, "validation_status")
    client.set_registered_model_alias("fraud", "Champion", mv.version)
    client.delete_registered_model_alias("fraud", "Champion")
    requests_ = receiver.wait(6)
    for request in requests_:
        verify(request)
    by_event = {f"{p['entity']}.{p['action']}": p["data"] for p in receiver.payloads()}
    assert by_event["registered_model.created"] == {"name": "fraud", "tags": {"team": "risk"},
                                                    "description": "fraud model"}
    assert by_event["model_version.created"]["version"] == "1"
    assert by_event["model_version.created"]["run_id"] == mv.run_id
    assert by_event["model_version_tag.set"] == {"name": "fraud", "version": "1", "key": "validation_status",
                                                 "value": "approved"}
    assert by_event["model_version_tag.deleted"] == {"name": "fraud", "version": "1", "key": "validation_status"}
    assert by_event["model_version_alias.created"] == {"name": "fraud", "alias": "Champion", "version": "1"}
    assert by_event["model_version_alias.deleted"] == {"name": "fraud", "alias": "Champion"}
    ids = [r["headers"]["x-mlflow-delivery-id"] for r in requests_]
    assert len(set(ids)) == 6
    assert set(ids) == {str(d) for d in deliveries_of("all").values_list("delivery_id", flat=True)}
    wait_for(lambda: deliveries_of("all").filter(state="DELIVERED").count() == 6, message="all delivered")


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_emits_nothing(admin, receiver, start_worker):
    webhook_create(actor=admin, name="wide", url=receiver.url, events=MODEL_CREATED)
    with pytest.raises(InvalidParameter):
        with all_or_nothing():
            registered_model_create(actor=admin, name="rolled_back")
            raise InvalidParameter("the second half of the change failed")
    assert not RegisteredModel.objects.filter(name="rolled_back").exists()
    assert WebhookDelivery.objects.count() == 0
    registered_model_create(actor=admin, name="kept")
    start_worker()
    receiver.wait(1)
    wait_for(lambda: WebhookDelivery.objects.filter(state="DELIVERED").count() == 1, message="delivered")
    assert [p["data"]["name"] for p in receiver.payloads()] == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_500_three_times_then_200_is_one_delivery_after_retries_each_attempt_logged(admin, receiver, start_worker):
    receiver.script = [500, 500, 500]
    delivery = one_model_created(admin, receiver, start_worker, hook="flaky", state="DELIVERED", secret=SECRET)
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.number, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 500), (4, 200)]
    assert all(a.latency_ms >= 0 for a in attempts) and '"ok": true' in attempts[-1].response_excerpt
    assert attempts[0].error == "HTTP 500"
    assert len(receiver.requests) == 4
    assert {r["headers"]["x-mlflow-delivery-id"] for r in receiver.requests} == {str(delivery.delivery_id)}
    assert len({r["body"] for r in receiver.requests}) == 1  # the same bytes every time
    for request in receiver.requests:
        verify(request)
    # Exponential backoff: each wait at least as long as the one before it.
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.15 and gaps[2] >= gaps[0]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_retry_window(admin, receiver, start_worker, settings):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 6  # from the event: the worker takes a second or two to start
    receiver.default = 503
    delivery = one_model_created(admin, receiver, start_worker, hook="down", state="FAILED")
    assert "Gave up after" in delivery.last_error and "HTTP 503" in delivery.last_error
    attempts = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempts.count() >= 3 and set(attempts.values_list("status_code", flat=True)) == {503}
    assert attempts.order_by("-number").first().started_at <= delivery.give_up_at
    count = len(receiver.requests)
    time.sleep(2)
    assert len(receiver.requests) == count  # no attempts after giving up


@pytest.mark.django_db(transaction=True)
def test_a_client_error_other_than_429_is_not_retried(admin, receiver, start_worker):
    receiver.default = 404
    delivery = one_model_created(admin, receiver, start_worker, hook="gone", state="FAILED")
    assert delivery.attempts == 1 and delivery.last_error == "HTTP 404"


@pytest.mark.django_db(transaction=True)
def test_kill_9_of_the_worker_mid_delivery_still_delivers_with_the_same_delivery_id(admin, receiver, start_worker):
    receiver.script = ["hang"]
    webhook_create(actor=admin, name="survivor", url=receiver.url, secret=SECRET,
                   events=MODEL_CREATED)
    registered_model_create(actor=admin, name="crash")
    first = start_worker()
    assert receiver.arrived.wait(30), first.log_text()
    assert deliveries_of("survivor").get().state == "RUNNING"
    first.stop(signal.SIGKILL)
    receiver.release.set()
    start_worker()
    delivery = wait_state(deliveries_of("survivor").get(), "DELIVERED", timeout=60)
    assert len(receiver.requests) >= 2
    assert {r["headers"]["x-mlflow-delivery-id"] for r in receiver.requests} == {str(delivery.delivery_id)}
    for request in receiver.requests:
        verify(request)
    assert delivery.attempts >= 2


@pytest.mark.django_db(transaction=True)
def test_webhook_on_a_model_needs_manage_and_hidden_models_look_missing(live_server, admin, owner, reader, outsider,
                                                                          token_for, receiver, mlflow_as):
    registered_model_create(actor=owner, name="scoped")
    model = RegisteredModel.objects.get(name="scoped")
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")

    def create(user, model_name):
        return requests.post(f"{live_server.url}/api/2.0/mlflow/webhooks", timeout=10,
                             headers={"Authorization": f"Bearer {token_for(user)}"},
                             json={"name": "mine", "url": receiver.url, "model_name": model_name,
                                   "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]})

    denied = create(reader, "scoped")
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    hidden, missing = create(outsider, "scoped"), create(outsider, "no_such_model")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert hidden.json()["message"].replace("scoped", "X") == missing.json()["message"].replace("no_such_model", "X")
    made = create(owner, "scoped")
    assert made.status_code == 200 and made.json()["webhook"]["model_name"] == "scoped"
    grant_add(actor=admin, securable=model, principal=reader, privilege="MANAGE")
    assert create(reader, "scoped").status_code == 200
    # Registry-wide webhooks are for metastore admins, also through the unmodified client.
    with pytest.raises(MlflowException) as refused:
        mlflow_as(owner).create_webhook(name="wide", url=receiver.url, events=["model_version.created"])
    assert refused.value.error_code == "PERMISSION_DENIED"
    # Who may not manage the model sees none of its webhooks.
    assert mlflow_as(outsider).list_webhooks() == []
    hook_id = made.json()["webhook"]["webhook_id"]
    with pytest.raises(MlflowException) as unseen:
        mlflow_as(outsider).get_webhook(hook_id)
    assert unseen.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [w.webhook_id for w in mlflow_as(owner).list_webhooks()] != []
    assert AuditEvent.objects.filter(action="webhook.create", outcome="denied").count() >= 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.7/hook",
                                 "http://169.254.169.254/latest", "http://[::1]/hook", "ftp://127.0.0.1/x"])
def test_private_loopback_and_link_local_urls_are_refused_without_the_allow_list(mlflow_as, admin, settings, url):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with pytest.raises(MlflowException) as refused:
        mlflow_as(admin).create_webhook(name="internal", url=url, events=["registered_model.created"])
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not Webhook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_not_followed(admin, start_worker, receiver):
    receiver.default = 302
    delivery = one_model_created(admin, receiver, start_worker, hook="moved", state="FAILED")
    assert "redirects are not followed" in delivery.last_error and len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_payloads_never_reveal_what_the_webhook_owner_may_not_read(admin, owner, reader, make_user, receiver):
    former_admin = make_user("former_admin", superuser=True)
    webhook_create(actor=former_admin, name="wide", url=receiver.url,
                   events=MODEL_CREATED)
    former_admin.is_superuser = False
    former_admin.save()
    registered_model_create(actor=owner, name="secret_model")
    assert not deliveries_of("wide").exists()  # its owner may no longer read what it would tell

    # A model-scoped webhook of a manager who may not read the version's run: the run is masked.
    registered_model_create(actor=owner, name="shared")
    grant_add(actor=admin, securable=RegisteredModel.objects.get(name="shared"), principal=reader,
              privilege="MANAGE")
    webhook_create(actor=reader, name="scoped", url=receiver.url, model_name="shared",
                   events=[{"entity": "MODEL_VERSION", "action": "CREATED"}])
    private = Experiment.objects.create(pk=99, name="private", artifact_location="mlflow-artifacts:/99", owner_user=owner,
                                        creation_time=0, last_update_time=0)
    run = make_run(experiment_id=private.pk)
    make_version(owner, "shared", source=f"runs:/{run.run_id}/model")
    data = json.loads(deliveries_of("scoped").get().body)["data"]
    assert data["run_id"] is None and data["source"] == "runs:/<restricted>" and run.run_id not in json.dumps(data)


@pytest.mark.django_db(transaction=True)
def test_explorer_events_ready_and_stage_transition(admin, receiver):
    webhook_create(actor=admin, name="ours", url=receiver.url, events=[{"entity": "MODEL_VERSION",
                                                                        "action": "CREATED"}],
                   explorer_events=["model_version.stage_transitioned"])
    registered_model_create(actor=admin, name="legacy")
    make_version(admin, "legacy")
    from registry.services.versions import model_version_transition_stage

    model_version_transition_stage(actor=admin, name="legacy", version=1, stage="production")
    body = json.loads(deliveries_of("ours").get(event="model_version.stage_transitioned").body)
    assert body["data"] == {"name": "legacy", "version": "1", "from_stage": "None", "to_stage": "Production",
                            "archived_versions": []}


@pytest.mark.django_db(transaction=True)
def test_ready_failed_and_copy_finished_events_name_the_source_only_to_who_may_read_it(admin, owner, reader, governed,
                                                                                       receiver):
    from registry.jobs import execute
    from registry.models import Job
    from registry.services.copy import model_version_copy
    from tests.jobs.conftest import ready_version

    ours = ["model_version.ready", "model_version.failed_registration", "model_version.copied"]
    created = [{"entity": "MODEL_VERSION", "action": "CREATED"}]
    webhook_create(actor=admin, name="wide", url=receiver.url, events=created, explorer_events=ours)
    registered_model_create(actor=owner, name="prod.ml_team.dst")
    dst = RegisteredModel.objects.get(name="dst")
    grant_add(actor=admin, securable=dst, principal=reader, privilege="MANAGE")
    webhook_create(actor=reader, name="dst-only", url=receiver.url, model_name="prod.ml_team.dst", events=created,
                   explorer_events=ours)

    src, _ = ready_version(owner, "prod.ml_team.src")
    assert json.loads(deliveries_of("wide").get(event="model_version.ready").body)["data"] == {
        "name": "prod.ml_team.src", "version": "1", "status": "READY"}
    assert not deliveries_of("dst-only").exists()  # another model's events

    copied = model_version_copy(actor=owner, source_name="prod.ml_team.src", source_version=1,
                                destination_name="prod.ml_team.dst")
    job = Job.objects.get(model_version=copied)
    if not job.is_finished:  # a copy that only hard-links files is finished inside the request (copy_now)
        execute(job.pk)
    assert Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED
    wide = json.loads(deliveries_of("wide").get(event="model_version.copied").body)["data"]
    assert wide == {"name": "prod.ml_team.dst", "version": "1", "source": "models:/prod.ml_team.src/1"}
    scoped = json.loads(deliveries_of("dst-only").get(event="model_version.copied").body)["data"]
    assert scoped["source"] == "models:/<restricted>"  # reader may not read prod.ml_team.src
    created_for_reader = json.loads(deliveries_of("dst-only").get(event="model_version.created").body)["data"]
    assert "src" not in json.dumps(created_for_reader)

    broken = make_version(owner, "prod.ml_team.dst")  # a run without files: the registration fails
    assert execute(Job.objects.get(model_version=broken).pk) == Job.State.FAILED
    failed = json.loads(deliveries_of("dst-only").get(event="model_version.failed_registration").body)["data"]
    assert failed["status"] == "FAILED_REGISTRATION" and failed["version"] == "2" and failed["status_message"]
