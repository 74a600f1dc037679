from django.db import models


class ChangeCounter(models.Model):
    """One row (id 1) whose `value` changes, by database triggers, in the same transaction as any write to the
    tables that decide who a token belongs to and what an invocation reaches (registry.change_counter). A value
    is never reused, even after a rollback: PostgreSQL takes it from a sequence, SQLite from random()."""

    value = models.BigIntegerField()
