"""Model serving: deriving deployments from what is served (reconcile), running them in pools of model processes
outside the web tier (supervisor, pool, model_process) and forwarding scoring requests to them (client)."""
