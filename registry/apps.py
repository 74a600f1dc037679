from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _reinstall_change_counter_triggers(sender, using="default", plan=None, **kwargs):
    """After every migrate: SQLite rebuilds a table a migration alters, and its triggers are lost with the old one."""
    from django.conf import settings
    from django.apps import apps
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    from registry import change_counter, change_counter_triggers

    connection = connections[using]
    applied = MigrationRecorder(connection).migration_qs.filter(
        app="registry", name__in=list(change_counter_triggers.COUNTERS_BY_MIGRATION)).values_list("name", flat=True)
    # Install what the migration state can hold (before 0021 the row has only `value`).
    counters = change_counter_triggers.newest_applied(applied)
    if counters is None:
        return  # not migrated that far (or migrated back below it): no counter table to watch for
    change_counter_triggers.install(connection, apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table, counters)
    change_counter.forget_trigger_check()


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self):
        post_migrate.connect(_reinstall_change_counter_triggers, sender=self,
                             dispatch_uid="registry.change_counter_triggers")
        from django.core.signals import request_finished, request_started

        from registry import change_counter

        request_started.connect(change_counter.forget_recent, dispatch_uid="registry.change_counter.started")
        request_finished.connect(change_counter.forget_recent, dispatch_uid="registry.change_counter.finished")
