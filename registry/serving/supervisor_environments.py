"""How a serving supervisor starts deployments with SERVING_ENV_MANAGER=virtualenv: in the virtual environment built
for the version's requirements set (registry.serving.environments), building it first in a background thread while
the supervisor's loop goes on (leases, health checks, other deployments). Mixed into the Supervisor."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from registry.models import ServingDeployment
from registry.serving import environments, model_files

Deployment = ServingDeployment
State = Deployment.State


@dataclass
class Building:
    """A deployment the supervisor holds (leased, PENDING) while its environment is built: no pool yet."""

    id: int
    model_dir: Path | None  # None while the version's files are copied (build: a model_files.BackgroundCopy)
    build: environments.Build | model_files.BackgroundCopy


class EnvironmentStarts:
    building: dict[int, Building]

    def init_environments(self, env_root: str) -> None:
        self.building = {}
        self.env_root = Path(env_root or model_files.serving_root() / "envs")
        self.builder = environments.Builder(self.env_root)

    def _start_in_environment(self, deployment: Deployment, model_dir) -> None:
        """Start at once in the version's environment if it is built; otherwise build it in the background (the
        loop goes on) and start when finish_builds sees it done. The deployment stays PENDING meanwhile."""
        number = deployment.version.version
        try:
            spec = environments.environment_spec(model_dir)
        except model_files.DeployError as error:
            self._mark_failed(deployment.pk, number, f"Version {number} cannot be served in a virtual environment: "
                                                     f"{error}")
            return
        python = environments.ready_python(self.env_root, spec)
        if python is not None:
            self._launch(deployment, model_dir, python=str(python), environment=f"{spec.key}, already built")
            return
        self.building[deployment.pk] = Building(deployment.pk, model_dir, self.builder.request(spec))
        shown = " ".join(spec.requirements)
        self._mine(deployment.pk).filter(state=State.PENDING).update(
            message=f"Building the environment (pip install {shown if len(shown) < 300 else shown[:300] + ' …'}).",
            updated_at=timezone.now())
        _log(deployment.pk, f"[supervisor {self.ident}] building the virtual environment {spec.key} for version "
                            f"{number} (Python {spec.interpreter_version}); pip's output: {self.env_root / spec.key}.log")

    def finish_builds(self) -> None:
        """Start the deployments whose environment is built; fail those whose build failed (not retried until the
        deployment is asked for again: a new generation, as for any FAILED deployment)."""
        for building in [b for b in self.building.values()
                         if isinstance(b.build, environments.Build) and b.build.done.is_set()]:
            del self.building[building.id]
            deployment = self._mine(building.id).filter(state=State.PENDING).select_related("version__model").first()
            if deployment is None:
                continue
            build, number = building.build, deployment.version.version
            if build.error:
                _log(deployment.pk, f"[supervisor] building the virtual environment {build.spec.key} failed:\n"
                                    f"{build.error}")
                self._mark_failed(deployment.pk, number, f"Version {number}: its virtual environment could not be "
                                                         f"built (pip install failed):\n{build.error}")
                continue
            python = environments.ready_python(self.env_root, build.spec)
            if python is None:  # removed by hand just now
                self._mark_failed(deployment.pk, number, f"Version {number}: its virtual environment vanished.")
                continue
            done = f"built in {build.seconds:.0f} s" if build.built else "already built"
            _log(deployment.pk, f"[supervisor] virtual environment {build.spec.key} {done}")
            self._launch(deployment, building.model_dir, python=str(python),
                         environment=f"{build.spec.key}, {done}")


def _log(deployment_id: int, line: str) -> None:
    """A line in the deployment's log (the Logs of the version), beside its model processes' output."""
    with open(model_files.log_path(deployment_id), "a") as out:
        out.write(line + "\n")
