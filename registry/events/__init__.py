"""Events of the registry: webhooks' event names and payloads, the transactional outbox the services write to,
and the delivery of its rows by Celery workers (signed as MLflow signs, retried, every attempt logged)."""
