"""One model process: MLflow's scoring protocol (`scoring_app.py`: MLflow's /ping, /health, /invocations, its input
parsing, schema enforcement and error answers, with concurrent requests batched for row-wise models) for the model
directory given by `--model-path`, under uvicorn, on two sockets handed over by the supervisor.

The supervisor runs this file as a script with `python -I` and a clean environment: it imports nothing of the
registry (no Django, no settings, no credentials), because loading a model's pickle runs the model's code.

- `--listen-fd`: the pool's shared listening socket. Every process of a pool accepts on it, so the kernel spreads
  connections over the live processes and the pool has one address; a process accepts only once its model is
  loaded, and a dead process simply stops taking connections while the socket (held by the supervisor) stays.
- `--health-fd`: a socket of this process alone, so the supervisor can health-check each process."""
from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-path", required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--health-fd", type=int, required=True)
    parser.add_argument("--deployment", default="", help="the deployment's id, for `ps` and the logs only")
    args = parser.parse_args(argv)

    import uvicorn
    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
    from mlflow.pyfunc import scoring_server

    model_path = args.model_path
    model = scoring_server.load_model_with_mlflow_config(model_path)
    app = _scoring_app_module().ScoringApp(model, timeout=MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get(),
                                           batching=_batching(os.environ.get("SERVING_BATCHING", "auto")))
    sockets = [socket.socket(fileno=args.listen_fd), socket.socket(fileno=args.health_fd)]
    config = uvicorn.Config(app, log_level="info", access_log=False, lifespan="off",
                            # On SIGTERM (draining) uvicorn stops accepting and lets in-flight requests finish.
                            timeout_graceful_shutdown=int(os.environ.get("SERVING_GRACEFUL_SECONDS", "30")))
    print(f"model process {os.getpid()} of deployment {args.deployment} serving {model_path}", flush=True)
    uvicorn.Server(config).run(sockets=sockets)
    return 0


def _scoring_app_module():
    """scoring_app.py, beside this file, loaded by path: `python -I` puts no directory of ours on sys.path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("scoring_app", Path(__file__).with_name("scoring_app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batching(value: str) -> bool | None:
    """SERVING_BATCHING: `auto` (row-wise flavors only), `on` or `off`."""
    return {"on": True, "off": False}.get(value.strip().lower())


if __name__ == "__main__":
    sys.exit(main())
