"""`python -m explorer.serve_models`: one serving supervisor (registry.serving.supervisor) on this machine. It takes
its work from the database, so any number of machines may run one against the same PostgreSQL. SIGTERM or Ctrl-C
drains and stops its model processes and hands its deployments back.

Environment: SERVING_HOST (the address pools listen on, default 127.0.0.1: the web tier must reach it),
SERVING_LEASE_SECONDS, SERVING_STARTUP_SECONDS, SERVING_REQUEST_TIMEOUT_SECONDS, SERVING_MAX_DEPLOYMENTS;
SERVING_ENV_MANAGER and SERVING_ENV_ROOT come from the Django settings."""
from __future__ import annotations

import logging
import os
import signal
import sys


def settings_from_env():
    from django.conf import settings

    from explorer.env import env_int, env_str
    from registry.serving.supervisor import SupervisorSettings

    lease = env_int("SERVING_LEASE_SECONDS", 15, minimum=3)
    return SupervisorSettings(
        host=env_str("SERVING_HOST", "127.0.0.1"),
        lease_seconds=float(lease),
        startup_seconds=float(env_int("SERVING_STARTUP_SECONDS", 180, minimum=5)),
        request_timeout_seconds=settings.SERVING_REQUEST_TIMEOUT_SECONDS,
        max_deployments=env_int("SERVING_MAX_DEPLOYMENTS", 0),
        env_manager=settings.SERVING_ENV_MANAGER,
        env_root=str(settings.SERVING_ENV_ROOT),
    )


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
    import django

    django.setup()
    from registry.serving.supervisor import Supervisor

    logging.basicConfig(level=logging.INFO, format="%(asctime)s [serve_models] %(levelname)s %(message)s",
                        stream=sys.stdout)
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: signals.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: signals.append(signum))
    Supervisor(settings_from_env()).run(lambda: bool(signals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
