from django.db import models


class ChangeCounter(models.Model):
    """One row (id 1) whose counters change, by database triggers, in the same transaction as any write to the
    tables each one watches (registry.change_counter_triggers): `value` what a token's owner and an invocation's
    target depend on, `tokens` what a token's validity depends on, `answers` what a cached MLflow read depends on,
    `listeners` which webhooks and follows may hear an event (registry.change_counter). A value is never reused,
    even after a rollback: PostgreSQL takes it from a sequence, SQLite from random()."""

    value = models.BigIntegerField()
    tokens = models.BigIntegerField(default=0)
    answers = models.BigIntegerField(default=0)
    listeners = models.BigIntegerField(default=0)
