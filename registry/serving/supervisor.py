"""A serving supervisor: one per machine (or more), sharing the deployments through leases in the database.

Each tick it reconciles, renews the leases of the deployments it runs (and stops at once any pool whose lease it
lost), claims unleased PENDING deployments, and steps every pool it runs:

- starting: the version's files are copied out of storage, its requirements checked (or, with the virtualenv env
  manager, its environment built in the background: registry.serving.environments), `workers` model processes
  started (registry.serving.pool); READY with the pool's address once every process answers its health check;
  FAILED with the reason if one exits while loading, the start takes too long or the requirements do not match.
- running: a process that exits (or stops answering health checks) is an event and is restarted; one that keeps
  crashing fails the deployment; a pool whose processes together hold more resident memory than the limit is
  stopped FAILED with the reason.
- draining (retired by reconcile): after a short grace the processes are told to stop; uvicorn finishes the
  requests in flight; then STOPPED.

A supervisor never runs a deployment without a valid lease: if it cannot renew in time (database unreachable), it
stops its pools before another supervisor may claim them."""
from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import DatabaseError, close_old_connections
from django.db.models import Q
from django.utils import timezone

from registry.models import ServedModel, ServingDeployment, ServingEvent
from registry.serving import disk_sweep, model_files
from registry.serving.pool import ModelPool, check_pools, describe_exit
from registry.serving.reconcile import reconcile_all, record_event
from registry.serving.supervisor_environments import Building, EnvironmentStarts

log = logging.getLogger(__name__)

Deployment = ServingDeployment
LOG_TAIL_LINES = 200
LOG_TAIL_BYTES = 64 * 1024
State = Deployment.State
Kind = ServingEvent.Kind


@dataclass(frozen=True)
class SupervisorSettings:
    host: str = "127.0.0.1"  # where pools listen; the web tier connects there
    lease_seconds: float = 15.0
    tick_seconds: float = 0.5
    reconcile_seconds: float = 2.0
    disk_sweep_seconds: float = 300.0  # how often copies of versions no longer served are removed (disk_sweep)
    log_publish_seconds: float = 5.0  # how often each pool's recent output is copied to its row (log_tail)
    health_seconds: float = 2.0
    startup_seconds: float = 180.0  # to import the model's libraries and load it
    drain_grace_seconds: float = 2.0  # a retired pool keeps accepting this long (requests routed just before)
    graceful_seconds: int = 30  # then in-flight requests get this long to finish
    request_timeout_seconds: int = 60  # the model process's own limit per request
    max_restarts: int = 5  # crashes within restart_window_seconds before the deployment is failed
    restart_window_seconds: float = 300.0
    failed_health_checks: int = 3  # consecutive, before a hung process is killed and restarted
    max_deployments: int = 0  # 0: no limit
    env_manager: str = "local"  # local: this environment, requirements checked | virtualenv: one built per set
    env_root: str = ""  # where virtualenv builds live; default VAR_DIR/serving/envs


@dataclass
class Running:
    """A deployment this supervisor runs."""

    id: int
    version_number: int
    served_model_id: int | None
    workers: int
    memory_limit_mb: int
    pool: ModelPool
    phase: str = "starting"  # starting | running | draining
    started_at: float = field(default_factory=time.monotonic)
    next_health_at: float = 0.0
    crashes: deque = field(default_factory=deque)
    restarting: set = field(default_factory=set)  # slots restarted after a crash, not yet healthy again
    drain_at: float = 0.0
    drain_signalled: bool = False
    environment: str = ""  # the virtual environment it runs in, for the events


class Supervisor(EnvironmentStarts):
    def __init__(self, settings: SupervisorSettings | None = None, *, ident: str | None = None):
        self.settings = settings or SupervisorSettings()
        self.ident = ident or f"{socket.gethostname()}:{os.getpid()}"
        self.running: dict[int, Running] = {}
        self.init_environments(self.settings.env_root)
        self.lease_valid_until = 0.0  # monotonic: when the leases last renewed lapse
        self.next_reconcile_at = 0.0
        self.next_disk_sweep_at = 0.0
        self.next_log_publish_at = 0.0
        self.published_logs: dict[int, tuple[int, int]] = {}  # deployment -> (size, mtime_ns) last copied

    # ---- the loop ------------------------------------------------------------------------------------------

    def run(self, stopping) -> None:
        log.info("serving supervisor %s started", self.ident)
        try:
            while not stopping():
                self.tick()
                time.sleep(self.settings.tick_seconds)
        finally:
            self.shutdown()

    def tick(self) -> None:
        now = time.monotonic()
        try:
            if now >= self.next_reconcile_at:
                reconcile_all()
                self.next_reconcile_at = now + self.settings.reconcile_seconds
            if now >= self.next_disk_sweep_at:
                self.next_disk_sweep_at = now + self.settings.disk_sweep_seconds
                disk_sweep.sweep()
            self.renew_leases()
            self.claim()
            self.finish_copies()
            self.finish_builds()
            self.check_health()
            if now >= self.next_log_publish_at:
                self.next_log_publish_at = now + self.settings.log_publish_seconds
                self.publish_logs()
            for running in list(self.running.values()):
                try:
                    self.step(running)
                except DatabaseError:
                    raise
                except Exception:  # one pool's surprise must not stop the others
                    log.exception("stepping deployment %s failed", running.id)
        except DatabaseError:
            log.exception("database error in the serving supervisor; retrying")
            self._fence()
        finally:
            close_old_connections()

    def _fence(self) -> None:
        """Stop every pool before its lease may lapse: past that moment another supervisor may start it."""
        margin = self.settings.lease_seconds / 3
        if self.running and time.monotonic() > self.lease_valid_until - margin:
            log.error("cannot renew the serving leases; stopping all pools")
            for running in list(self.running.values()):
                running.pool.kill()
                del self.running[running.id]
            self.building.clear()  # the builds go on and are cached; the deployments are no longer ours

    # ---- leases --------------------------------------------------------------------------------------------

    def _lease_end(self):
        return timezone.now() + timedelta(seconds=self.settings.lease_seconds)

    def renew_leases(self) -> None:
        if not self.running and not self.building:
            self.lease_valid_until = time.monotonic() + self.settings.lease_seconds
            return
        ids = [*self.running, *self.building]
        started = time.monotonic()
        # Conditional on the row still naming this supervisor, not on the lease being unexpired: another supervisor
        # can only take a deployment by writing its own name (compare-and-set in claim), so while the name is ours
        # nobody else runs it, even if a slow tick let the lease lapse for a moment.
        mine = Deployment.objects.filter(pk__in=ids, supervisor=self.ident)
        mine.update(lease_expires_at=self._lease_end())
        states = dict(Deployment.objects.filter(pk__in=ids, supervisor=self.ident).values_list("pk", "state"))
        self.lease_valid_until = started + self.settings.lease_seconds
        for deployment_id in ids:
            state = states.get(deployment_id)
            if deployment_id in self.building:
                if state != State.PENDING:  # retired (or taken) while its environment was built: no pool to stop
                    del self.building[deployment_id]
                    if state == State.DRAINING:
                        self._mine(deployment_id).update(state=State.STOPPED, address="", lease_expires_at=None,
                                                         updated_at=timezone.now())
                continue
            running = self.running[deployment_id]
            if state is None or state in (State.STOPPED, State.FAILED):
                self._lost(running)
            elif state == State.DRAINING and running.phase != "draining":
                running.phase = "draining"
                running.drain_at = time.monotonic() + self.settings.drain_grace_seconds
                log.info("draining deployment %s", deployment_id)

    def _lost(self, running: Running) -> None:
        """The deployment is no longer ours to run (deleted with its version, or — after a stall — leased by
        another supervisor): stop it now, without draining, so it never runs twice."""
        running.pool.kill()
        del self.running[running.id]
        deployment = Deployment.objects.filter(pk=running.id).first()
        if deployment is None and running.served_model_id and ServedModel.objects.filter(
                pk=running.served_model_id).exists():
            ServingEvent.objects.create(served_model_id=running.served_model_id, version_number=running.version_number,
                                        kind=Kind.VERSION_REMOVED,
                                        message=f"Version {running.version_number} removed: it was deleted.")
        log.warning("deployment %s is no longer leased to %s; its pool was stopped", running.id, self.ident)

    def claim(self) -> None:
        limit = self.settings.max_deployments
        if limit and len(self.running) + len(self.building) >= limit:
            return
        now = timezone.now()
        free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
        # READY without a valid lease: its supervisor died (and its processes with it); run it again.
        claimable = Deployment.objects.filter(free, state__in=[State.PENDING, State.READY])
        mine = [*self.running, *self.building]
        candidates = list(claimable.exclude(pk__in=mine).order_by("pk").values_list("pk", flat=True)[:10])
        for deployment_id in candidates:
            if limit and len(self.running) + len(self.building) >= limit:
                return
            # Compare-and-set: of several supervisors trying at once, exactly one updates the row.
            if claimable.filter(pk=deployment_id).update(
                    supervisor=self.ident, lease_expires_at=self._lease_end(), state=State.PENDING, address="",
                    message="Starting.", updated_at=timezone.now()):
                self.start(deployment_id)

    # ---- one deployment ------------------------------------------------------------------------------------

    def start(self, deployment_id: int) -> None:
        """Start the deployment's pool, once the version's files are on this machine: at once when a copy is
        there, else after a copy in the background (the deployment is held like one whose environment is built,
        and finish_copies takes it on)."""
        deployment = Deployment.objects.select_related("version__model").get(pk=deployment_id)
        version = deployment.version
        model_files.deployment_dir(deployment.pk).mkdir(parents=True, exist_ok=True)
        model_dir = model_files.materialised(version)
        if model_dir is None:
            self.building[deployment.pk] = Building(deployment.pk, None, model_files.BackgroundCopy(version))
            self._mine(deployment.pk).filter(state=State.PENDING).update(
                message="Copying the version's files for serving.", updated_at=timezone.now())
            return
        self._start_with_files(deployment, model_dir)

    def finish_copies(self) -> None:
        for held in [b for b in self.building.values()
                     if isinstance(b.build, model_files.BackgroundCopy) and b.build.done.is_set()]:
            del self.building[held.id]
            deployment = self._mine(held.id).filter(state=State.PENDING).select_related("version__model").first()
            if deployment is None:  # retired or taken meanwhile
                continue
            if held.build.error:
                self._mark_failed(deployment.pk, deployment.version.version, held.build.error)
            else:
                self._start_with_files(deployment, held.build.model_dir)

    def _start_with_files(self, deployment: Deployment, model_dir) -> None:
        version = deployment.version
        if self.settings.env_manager == "virtualenv":
            self._start_in_environment(deployment, model_dir)
            return
        try:
            notes = model_files.check_requirements(version, model_dir)
        except model_files.DeployError as error:
            self._mark_failed(deployment.pk, version.version, str(error))
            return
        self._launch(deployment, model_dir, notes)

    def _launch(self, deployment: Deployment, model_dir, notes=(), python: str | None = None,
                environment: str = "") -> None:
        version = deployment.version
        workdir, log_path = model_files.deployment_dir(deployment.pk), model_files.log_path(deployment.pk)
        model_files.trim_log(log_path)
        with open(log_path, "a") as out:
            out.write(f"[supervisor {self.ident}] starting {deployment.workers} model process(es) of version "
                      f"{version.version}\n")
            for note in notes:
                out.write(f"[supervisor] requirement not checked: {note}\n")
        try:
            pool = ModelPool(deployment_id=deployment.pk, model_dir=model_dir, workers=deployment.workers,
                             workdir=workdir, log_path=log_path, host=self.settings.host,
                             request_timeout=self.settings.request_timeout_seconds,
                             graceful_seconds=self.settings.graceful_seconds, python=python or sys.executable)
        except OSError as error:  # SERVING_HOST is not an address of this machine, no port left, ...
            self._mark_failed(deployment.pk, version.version,
                              f"Version {version.version}: no socket to serve it on {self.settings.host} ({error}).")
            return
        try:
            pool.start()
        except OSError as error:
            pool.kill()
            self._mark_failed(deployment.pk, version.version,
                              f"Version {version.version}: its model processes could not be started ({error}).")
            return
        self.running[deployment.pk] = Running(deployment.pk, version.version, deployment.served_model_id,
                                              deployment.workers, deployment.memory_limit_mb, pool,
                                              environment=environment)
        log.info("deployment %s (version %s): started %s process(es) at %s", deployment.pk, version.version,
                 deployment.workers, pool.address)

    def step(self, running: Running) -> None:
        if running.phase == "draining":
            self._step_draining(running)
            return
        now = time.monotonic()
        pool = running.pool
        for process, code in pool.exited():
            if running.phase == "starting":
                self._fail(running, f"A model process of version {running.version_number} exited while loading the "
                                    f"model ({describe_exit(code)}). Last lines of its log:\n{self._tail(running)}")
                return
            if not self._crashed(running, process, code):
                return
        if self._over_memory(running):
            return
        if running.phase == "starting":
            if pool.all_healthy:
                self._mark_ready(running)
            elif now - running.started_at > self.settings.startup_seconds:
                self._fail(running, f"Version {running.version_number} did not start within "
                                    f"{self.settings.startup_seconds:.0f} s. Last lines of its log:\n{self._tail(running)}")

    def check_health(self) -> None:
        """Health-check every pool that is due, all processes at once (a loading process holds its check for the
        whole timeout; one after the other they would stall the loop past the leases)."""
        now = time.monotonic()
        due = [r for r in self.running.values() if r.phase != "draining" and now >= r.next_health_at]
        check_pools([r.pool for r in due])
        for running in due:
            running.next_health_at = now + (0.5 if running.phase == "starting" else self.settings.health_seconds)
            self._after_health_check(running)

    def _crashed(self, running: Running, process, code: int) -> bool:
        """Record a crash and restart the process; False when the deployment had to be failed instead."""
        now = time.monotonic()
        running.crashes.append(now)
        while running.crashes and running.crashes[0] < now - self.settings.restart_window_seconds:
            running.crashes.popleft()
        how = describe_exit(code)
        self._event(running, Kind.PROCESS_CRASHED,
                    f"Model process {process.pid} of version {running.version_number} died ({how}).")
        if len(running.crashes) > self.settings.max_restarts:
            self._fail(running, f"Version {running.version_number} crashed {len(running.crashes)} times in "
                                f"{self.settings.restart_window_seconds:.0f} s; last: {how}. Last lines of its log:\n"
                                f"{self._tail(running)}")
            return False
        replacement = running.pool.spawn(process.slot)
        running.restarting.add(process.slot)
        running.next_health_at = 0.0
        log.warning("deployment %s: process %s died (%s); restarted as %s", running.id, process.pid, how,
                    replacement.pid)
        return True

    def _after_health_check(self, running: Running) -> None:
        for slot, process in list(running.pool.processes.items()):
            if slot in running.restarting and process.healthy:
                running.restarting.discard(slot)
                self._event(running, Kind.PROCESS_RESTARTED,
                            f"Model process {process.pid} of version {running.version_number} restarted.")
            if process.failed_checks >= self.settings.failed_health_checks:
                log.warning("deployment %s: process %s stopped answering health checks; killing it", running.id,
                            process.pid)
                running.pool.kill(process)  # seen as a crash on the next step, and restarted
        if running.phase == "running" and running.restarting:
            running.next_health_at = time.monotonic() + 0.5  # report the restart promptly

    def _over_memory(self, running: Running) -> bool:
        used = running.pool.rss_bytes()
        limit = running.memory_limit_mb * 1024 * 1024
        if used <= limit:
            return False
        message = (f"Version {running.version_number} was stopped: its {running.workers} model process(es) used "
                   f"{used / 2**20:.0f} MB, over the memory limit of {running.memory_limit_mb} MB.")
        self._fail(running, message, kind=Kind.MEMORY_LIMIT)
        return True

    def _step_draining(self, running: Running) -> None:
        pool, now = running.pool, time.monotonic()
        if not running.drain_signalled and now >= running.drain_at:
            pool.terminate()
            running.drain_signalled = True
        if running.drain_signalled and pool.empty:
            self._finish(running, State.STOPPED)
            log.info("deployment %s drained and stopped", running.id)
        elif now > running.drain_at + self.settings.graceful_seconds + 5:
            pool.kill()

    # ---- writes --------------------------------------------------------------------------------------------

    def _mine(self, deployment_id: int):
        self.next_reconcile_at = 0.0  # a deployment changes state: publish the owner's status on the next tick
        return Deployment.objects.filter(pk=deployment_id, supervisor=self.ident)

    def _mark_ready(self, running: Running) -> None:
        running.phase = "running"
        self._mine(running.id).filter(state=State.PENDING).update(
            state=State.READY, address=running.pool.address, message="", updated_at=timezone.now())
        where = f" in the virtual environment {running.environment}" if running.environment else ""
        self._event(running, Kind.VERSION_DEPLOYED,
                    f"Version {running.version_number} deployed: {running.workers} model process(es){where}.")

    def _mark_failed(self, deployment_id: int, version_number: int, message: str, kind=Kind.DEPLOY_FAILED) -> None:
        log.warning("deployment %s failed: %s", deployment_id, message)
        self._mine(deployment_id).exclude(state=State.STOPPED).update(
            state=State.FAILED, message=message, address="", lease_expires_at=None, updated_at=timezone.now())
        deployment = Deployment.objects.filter(pk=deployment_id).first()
        if deployment is not None:
            record_event(deployment, kind, message, version_number=version_number)

    def _fail(self, running: Running, message: str, kind=Kind.DEPLOY_FAILED) -> None:
        running.pool.kill()
        self.publish_logs([running.id])  # why it failed is often in its output
        self.running.pop(running.id, None)
        self._mark_failed(running.id, running.version_number, message, kind)

    def publish_logs(self, ids=None) -> None:
        """Copy the end of each running pool's log to its row when it changed since the last copy."""
        for deployment_id in list(self.running) if ids is None else ids:
            path = model_files.log_path(deployment_id)
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            stamp = (stat.st_size, stat.st_mtime_ns)
            if self.published_logs.get(deployment_id) == stamp:
                continue
            text = model_files.tail(path, LOG_TAIL_LINES, max_bytes=LOG_TAIL_BYTES)
            Deployment.objects.filter(pk=deployment_id, supervisor=self.ident).update(log_tail=text)
            self.published_logs[deployment_id] = stamp
        for gone in set(self.published_logs) - set(self.running) - set(ids or ()):
            del self.published_logs[gone]

    def _finish(self, running: Running, state: str) -> None:
        self.publish_logs([running.id])  # its last words, before the row stops naming this supervisor
        self.running.pop(running.id, None)
        self._mine(running.id).update(state=state, address="", lease_expires_at=None, updated_at=timezone.now())

    def _event(self, running: Running, kind: str, message: str) -> None:
        deployment = Deployment.objects.filter(pk=running.id).first()
        if deployment is not None:
            record_event(deployment, kind, message, version_number=running.version_number)

    def _tail(self, running: Running, lines: int = 20) -> str:
        return model_files.tail(model_files.log_path(running.id), lines)

    # ---- shutdown ------------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every pool (in-flight requests finish) and hand the deployments back: another supervisor may
        claim them at once instead of waiting for the leases to lapse."""
        self.builder.shutdown()
        for running in self.running.values():
            running.pool.terminate()
        deadline = time.monotonic() + self.settings.graceful_seconds
        for running in self.running.values():
            while not running.pool.empty and time.monotonic() < deadline:
                time.sleep(0.1)
            running.pool.kill()
        ids = [*self.running, *self.building]
        self.running.clear()
        self.building.clear()
        try:
            mine = Deployment.objects.filter(pk__in=ids, supervisor=self.ident)
            mine.filter(state=State.DRAINING).update(state=State.STOPPED, address="", lease_expires_at=None)
            mine.exclude(state__in=[State.STOPPED, State.FAILED]).update(
                state=State.PENDING, address="", supervisor="", lease_expires_at=None,
                message="Waiting for a serving supervisor.")
            reconcile_all()
        except DatabaseError:
            log.exception("could not hand the deployments back; their leases lapse on their own")
        log.info("serving supervisor %s stopped", self.ident)
