"""The serving runtime's decisions without model processes: reconciliation of deployments with what is served,
leases between supervisors, the requirements check and the client's answers when nothing can answer."""
from __future__ import annotations

import importlib.metadata
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel, ServedModel, ServingDeployment, ServingEvent
from registry.models.models import Stage, VersionStatus
from registry.serving import client, model_files
from registry.serving.reconcile import reconcile_all
from registry.serving.supervisor import Running, Supervisor, SupervisorSettings

pytestmark = pytest.mark.django_db
State = ServingDeployment.State


def _served(versions: int = 1, **settings) -> ServedModel:
    model = RegisteredModel.objects.create(name="iris", last_version_number=versions)
    for number in range(1, versions + 1):
        ModelVersion.objects.create(model=model, version=number, source="s", storage_location=f"mlflow-artifacts:/x/{number}")
    return ServedModel.objects.create(model=model, enabled=True, **settings)


def _live(served: ServedModel) -> list[ServingDeployment]:
    return list(ServingDeployment.objects.filter(served_model=served).exclude(state=State.STOPPED).order_by("pk"))


# ---- reconcile ---------------------------------------------------------------------------------------------

def test_every_ready_version_that_is_not_archived_gets_one_deployment():
    served = _served(versions=4, workers=3, memory_limit_mb=512)
    ModelVersion.objects.filter(version=2).update(current_stage=Stage.ARCHIVED)
    ModelVersion.objects.filter(version=3).update(status=VersionStatus.PENDING_REGISTRATION)
    reconcile_all()
    reconcile_all()  # idempotent
    deployments = _live(served)
    assert [d.version.version for d in deployments] == [1, 4]
    assert {(d.state, d.workers, d.memory_limit_mb, d.generation) for d in deployments} == {(State.PENDING, 3, 512, 1)}
    served.refresh_from_db()
    assert served.state == "PENDING" and served.message == "Deploying version 1, 4."


def test_the_model_is_ready_when_every_deployment_is_and_failed_with_the_reason_when_one_failed():
    served = _served(versions=2)
    reconcile_all()
    first, second = _live(served)
    ServingDeployment.objects.filter(pk=first.pk).update(state=State.READY)
    ServingDeployment.objects.filter(pk=second.pk).update(state=State.READY)
    reconcile_all()
    served.refresh_from_db()
    assert (served.state, served.message) == ("READY", "")
    ServingDeployment.objects.filter(pk=second.pk).update(state=State.FAILED, message="Version 2: out of luck.")
    reconcile_all()
    served.refresh_from_db()
    assert (served.state, served.message) == ("FAILED", "Version 2: out of luck.")
    reconcile_all()
    assert len(_live(served)) == 2  # a failed deployment is not retried until something changes


def test_an_archived_version_that_runs_drains_and_one_that_does_not_stops_at_once():
    served = _served(versions=2)
    reconcile_all()
    running, waiting = _live(served)
    ServingDeployment.objects.filter(pk=running.pk).update(
        state=State.READY, supervisor="host:1", lease_expires_at=timezone.now() + timedelta(seconds=30))
    ModelVersion.objects.filter(model=served.model).update(current_stage=Stage.ARCHIVED)
    reconcile_all()
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert (running.state, waiting.state) == (State.DRAINING, State.STOPPED)
    assert "archived" in running.message
    removed = ServingEvent.objects.filter(served_model=served, kind=ServingEvent.Kind.VERSION_REMOVED)
    assert sorted(e.version_number for e in removed) == [1, 2]
    # A draining deployment whose supervisor is gone (its lease lapsed) runs nowhere: stopped.
    ServingDeployment.objects.filter(pk=running.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    reconcile_all()
    running.refresh_from_db()
    assert running.state == State.STOPPED


def test_new_settings_replace_the_pool_and_disabling_retires_everything():
    served = _served()
    reconcile_all()
    [old] = _live(served)
    ServedModel.objects.filter(pk=served.pk).update(generation=2, workers=2)
    reconcile_all()
    [new] = _live(served)
    old.refresh_from_db()
    assert old.state == State.STOPPED and "settings changed" in old.message
    assert (new.generation, new.workers) == (2, 2)
    ServedModel.objects.filter(pk=served.pk).update(enabled=False)
    reconcile_all()
    served.refresh_from_db()
    assert _live(served) == [] and served.state == "DISABLED"


def test_a_pool_replaced_by_new_settings_answers_until_its_replacement_is_ready():
    """Saving settings replaces the pool without a gap: the old one keeps serving while the new one starts,
    then drains."""
    served = _served()
    reconcile_all()
    [old] = _live(served)
    ServingDeployment.objects.filter(pk=old.pk).update(
        state=State.READY, address="http://127.0.0.1:1", supervisor="s1",
        lease_expires_at=timezone.now() + timedelta(minutes=1))
    ServedModel.objects.filter(pk=served.pk).update(generation=2, workers=2)
    reconcile_all()
    old.refresh_from_db()
    assert old.state == State.READY  # still the one that answers
    [new] = [d for d in _live(served) if d.pk != old.pk]
    assert new.state == State.PENDING and new.generation == 2
    ServingDeployment.objects.filter(pk=new.pk).update(
        state=State.READY, address="http://127.0.0.1:2", supervisor="s1",
        lease_expires_at=timezone.now() + timedelta(minutes=1))
    reconcile_all()
    old.refresh_from_db()
    assert old.state == State.DRAINING and "settings changed" in old.message


def test_an_enabled_model_without_a_servable_version_says_so():
    served = _served(versions=0)
    reconcile_all()
    served.refresh_from_db()
    assert served.state == "READY" and "No READY version" in served.message


# ---- leases ------------------------------------------------------------------------------------------------

class StubPool:
    killed = False

    def kill(self):
        self.killed = True


def _supervisor(ident: str) -> Supervisor:
    supervisor = Supervisor(SupervisorSettings(lease_seconds=10), ident=ident)
    supervisor.start = lambda deployment_id: supervisor.running.setdefault(
        deployment_id, Running(deployment_id, 1, None, 1, 2048, StubPool()))
    return supervisor


def test_two_supervisors_never_claim_the_same_deployment():
    served = _served(versions=3)
    reconcile_all()
    first, second = _supervisor("a:1"), _supervisor("b:2")
    first.claim()
    second.claim()
    assert len(first.running) == 3 and second.running == {}
    assert {d.supervisor for d in _live(served)} == {"a:1"}


def test_a_renewed_lease_keeps_the_deployment_and_a_lapsed_one_goes_to_another_supervisor():
    served = _served()
    reconcile_all()
    first, second = _supervisor("a:1"), _supervisor("b:2")
    first.claim()
    [deployment] = _live(served)
    ServingDeployment.objects.filter(pk=deployment.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=1))
    first.renew_leases()
    deployment.refresh_from_db()
    assert deployment.lease_expires_at > timezone.now() + timedelta(seconds=5)
    second.claim()
    assert second.running == {}

    # A lease that lapsed for a moment (a slow tick) while nobody took the deployment is simply renewed.
    ServingDeployment.objects.filter(pk=deployment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    first.renew_leases()
    assert list(first.running) == [deployment.pk]
    deployment.refresh_from_db()
    assert deployment.lease_expires_at > timezone.now()

    # The first stalls past its lease; the second takes the deployment; the first, on waking, stops its pool.
    ServingDeployment.objects.filter(pk=deployment.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    second.claim()
    assert list(second.running) == [deployment.pk]
    pool = first.running[deployment.pk].pool
    first.renew_leases()
    assert first.running == {} and pool.killed
    deployment.refresh_from_db()
    assert deployment.supervisor == "b:2"


def test_a_draining_deployment_is_seen_by_its_supervisor():
    served = _served()
    reconcile_all()
    supervisor = _supervisor("a:1")
    supervisor.claim()
    [deployment] = _live(served)
    ServingDeployment.objects.filter(pk=deployment.pk).update(state=State.DRAINING)
    supervisor.renew_leases()
    assert supervisor.running[deployment.pk].phase == "draining"


# ---- requirements ------------------------------------------------------------------------------------------

def test_requirements_mismatch_names_the_package_and_both_versions_and_missing_packages_are_notes(tmp_path):
    sklearn = importlib.metadata.version("scikit-learn")
    skinny = importlib.metadata.version("mlflow-skinny")
    (tmp_path / "requirements.txt").write_text(
        f"# written by mlflow\nmlflow=={skinny}\n-r other.txt\nscikit-learn==0.20.0\npandas>=1\n"
        "not-a-real-package-xyz==1.0\nnumpy<1 ; python_version < '3'\n")
    mismatches, notes = model_files.requirement_problems(tmp_path)
    assert mismatches == [f"scikit-learn==0.20.0 is required, but scikit-learn {sklearn} is installed"]
    assert notes == ["not-a-real-package-xyz (not-a-real-package-xyz==1.0) is not installed"]


def test_a_model_without_requirements_has_nothing_to_check(tmp_path):
    assert model_files.requirement_problems(tmp_path) == ([], [])


# ---- client ------------------------------------------------------------------------------------------------

def test_a_deployment_that_does_not_run_answers_503_json():
    served = _served()
    reconcile_all()
    [deployment] = _live(served)
    result = client.invoke(deployment, b"{}", "application/json", timeout=1)
    assert result.status == 503 and json.loads(result.body)["error_code"] == "TEMPORARILY_UNAVAILABLE"


def test_a_pool_whose_address_refuses_answers_503_json():
    served = _served()
    reconcile_all()
    [deployment] = _live(served)
    deployment.state, deployment.address = State.READY, "http://127.0.0.1:9"  # nothing listens on port 9
    result = client.invoke(deployment, b"{}", "application/json", timeout=2)
    assert result.status == 503 and result.content_type == "application/json"


def test_recent_logs_are_the_tail_of_the_deployments_log(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    served = _served()
    reconcile_all()
    [deployment] = _live(served)
    assert client.recent_logs(deployment) == ""
    path = model_files.log_path(deployment.pk)
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"line {n}\n" for n in range(500)))
    assert client.recent_logs(deployment, lines=3) == "line 497\nline 498\nline 499"


def test_logs_reach_a_web_process_on_another_machine(settings, tmp_path, django_assert_num_queries):
    settings.VAR_DIR = tmp_path / "supervisor-machine"
    served = _served()
    reconcile_all()
    [deployment] = _live(served)
    supervisor = Supervisor(SupervisorSettings(), ident="other-host:1")
    ServingDeployment.objects.filter(pk=deployment.pk).update(supervisor="other-host:1")
    path = model_files.log_path(deployment.pk)
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"line {n}\n" for n in range(500)))
    supervisor.publish_logs([deployment.pk])
    with django_assert_num_queries(0):  # unchanged since the last copy: nothing written
        supervisor.publish_logs([deployment.pk])
    settings.VAR_DIR = tmp_path / "web-machine"  # no log file here: the row's copy answers
    assert not model_files.log_path(deployment.pk).exists()
    assert client.recent_logs(deployment, lines=3) == "line 497\nline 498\nline 499"
    settings.VAR_DIR = tmp_path / "supervisor-machine"
    with path.open("a") as log_file:
        log_file.write("line 500\n")
    supervisor.publish_logs([deployment.pk])
    settings.VAR_DIR = tmp_path / "web-machine"
    assert client.recent_logs(deployment, lines=1) == "line 500"


def test_a_version_without_an_mlflow_model_fails_before_any_process_starts(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    served = _served()
    reconcile_all()
    supervisor = Supervisor(SupervisorSettings(), ident="a:1")
    supervisor.claim()
    _copies_finished(supervisor)
    [deployment] = ServingDeployment.objects.filter(served_model=served)
    assert supervisor.running == {}
    assert deployment.state == State.FAILED and "no MLmodel file" in deployment.message
    assert deployment.lease_expires_at is None
    [event] = ServingEvent.objects.filter(deployment=deployment)
    assert event.kind == ServingEvent.Kind.DEPLOY_FAILED


def _copies_finished(supervisor: Supervisor) -> None:
    """Wait for the background copies of versions' files, then let the supervisor take the deployments on."""
    for held in list(supervisor.building.values()):
        assert held.build.done.wait(10)
    supervisor.finish_copies()


def test_a_long_log_is_trimmed_to_its_tail(tmp_path):
    path = tmp_path / "process.log"
    path.write_bytes(b"x" * 100 + b"the end\n")
    model_files.trim_log(path, max_bytes=50, keep_bytes=8)
    assert path.read_bytes() == b"the end\n"
    model_files.trim_log(path, max_bytes=50, keep_bytes=8)  # short enough: untouched
    assert path.read_bytes() == b"the end\n"
    model_files.trim_log(tmp_path / "missing.log")


def test_a_pool_that_cannot_listen_fails_its_deployment_with_the_reason(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    served = _served()
    reconcile_all()
    monkeypatch.setattr(model_files, "materialise", lambda version: tmp_path)
    supervisor = Supervisor(SupervisorSettings(host="192.0.2.1"), ident="a:1")  # TEST-NET: not this machine's
    supervisor.claim()
    _copies_finished(supervisor)
    [deployment] = ServingDeployment.objects.filter(served_model=served)
    assert supervisor.running == {}
    assert deployment.state == State.FAILED and "no socket to serve it on 192.0.2.1" in deployment.message


def test_the_web_tier_waits_a_little_longer_than_the_model_process_may_take(settings):
    from registry.serving import invocation

    assert invocation.timeout_seconds() == 60.0 + invocation.TIMEOUT_GRACE_SECONDS  # the default
    settings.SERVING_REQUEST_TIMEOUT_SECONDS = 7
    assert invocation.timeout_seconds() == 7.0 + invocation.TIMEOUT_GRACE_SECONDS


# ---- what a supervisor's machine keeps -----------------------------------------------------------------------

def test_the_disk_sweep_keeps_what_is_served_and_removes_the_rest(settings, tmp_path):
    import os
    import time

    from registry.serving import disk_sweep

    settings.VAR_DIR = tmp_path
    served = _served(versions=3)
    reconcile_all()
    one, two, three = _live(served)
    uid = served.model.uid.hex
    versions = model_files.serving_root() / "versions" / uid
    for number in (1, 2, 3):
        (versions / str(number)).mkdir(parents=True)
        (versions / str(number) / "MLmodel").write_text("flavors: {}")
    fresh_partial, old_partial = versions / ".partial-1-abc", versions / ".partial-1-def"
    fresh_partial.mkdir()
    old_partial.mkdir()
    os.utime(old_partial, (time.time() - 2 * disk_sweep.PARTIAL_GRACE_SECONDS,) * 2)
    # Version 2 is no longer served; version 3's first deployment failed and a newer one replaced it.
    ServingDeployment.objects.filter(pk=two.pk).update(state=State.STOPPED)
    ServingDeployment.objects.filter(pk=three.pk).update(state=State.FAILED)
    newer = ServingDeployment.objects.create(served_model=served, version=three.version, generation=2)
    gone = 10_000 + newer.pk  # a deployment row deleted since (its model was deleted)
    for pk in (one.pk, two.pk, three.pk, newer.pk, gone):
        model_files.log_path(pk).parent.mkdir(parents=True)
        model_files.log_path(pk).write_text("log")

    removed = set(disk_sweep.sweep())

    assert removed == {versions / "2", old_partial, model_files.deployment_dir(three.pk),
                       model_files.deployment_dir(gone)}
    assert (versions / "1" / "MLmodel").is_file() and (versions / "3" / "MLmodel").is_file() and fresh_partial.is_dir()
    # Stopped, but still the newest deployment of its version: its log stays for the Serving tab.
    assert model_files.log_path(two.pk).is_file() and model_files.log_path(newer.pk).is_file()
    assert disk_sweep.sweep() == []


def test_a_version_being_copied_holds_its_deployment_without_holding_up_the_loop(monkeypatch, settings, tmp_path):
    """The copy of a version's files runs on a thread of its own: claim returns at once, the lease is renewed
    while the copy runs, and the pool starts from the loop once the files are there."""
    import threading

    settings.VAR_DIR = tmp_path
    served = _served()
    reconcile_all()
    release, copied = threading.Event(), tmp_path / "copied"

    def slow_materialise(version):
        assert release.wait(10)
        copied.mkdir()
        return copied

    monkeypatch.setattr(model_files, "materialise", slow_materialise)
    monkeypatch.setattr(model_files, "check_requirements", lambda version, model_dir: [])
    supervisor = Supervisor(SupervisorSettings(lease_seconds=10), ident="a:1")
    launched = []
    monkeypatch.setattr(supervisor, "_launch", lambda deployment, model_dir, notes=(): launched.append(model_dir))
    supervisor.claim()  # returns although the copy has not finished
    [deployment] = _live(served)
    assert list(supervisor.building) == [deployment.pk] and launched == []
    deployment.refresh_from_db()
    assert (deployment.state, deployment.message) == (State.PENDING, "Copying the version's files for serving.")
    ServingDeployment.objects.filter(pk=deployment.pk).update(lease_expires_at=timezone.now())
    supervisor.renew_leases()
    deployment.refresh_from_db()
    assert deployment.lease_expires_at > timezone.now() + timedelta(seconds=5)
    supervisor.finish_copies()
    assert launched == []
    release.set()
    supervisor.building[deployment.pk].build.done.wait(10)
    supervisor.finish_copies()
    assert launched == [copied] and supervisor.building == {}
