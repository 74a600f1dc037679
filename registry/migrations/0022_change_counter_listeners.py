"""A fourth counter, `listeners` (registry.change_counter_triggers): webhooks and follows, behind the per-process index
of who may hear an event (registry.events.listener_index), so that a write nobody listens to skips the webhook and
follower lookups."""
from django.conf import settings
from django.db import migrations, models

from registry import change_counter_triggers

BEFORE = change_counter_triggers.COUNTERS_BY_MIGRATION["0021_change_counter_tokens_answers"]
AFTER = change_counter_triggers.COUNTERS_BY_MIGRATION["0022_change_counter_listeners"]


def _user_table(apps) -> str:
    return apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table


def drop_before(apps, schema_editor):
    # First, as in 0021: SQLite rebuilds the counter's table to add a column, and fails while triggers name it.
    change_counter_triggers.uninstall(schema_editor.connection, _user_table(apps), BEFORE)


def install_before(apps, schema_editor):
    change_counter_triggers.install(schema_editor.connection, _user_table(apps), BEFORE)


def install_after(apps, schema_editor):
    connection = schema_editor.connection
    change_counter_triggers.install(connection, _user_table(apps), AFTER)
    change_counter_triggers.refresh(connection, ("listeners",))


def drop_after(apps, schema_editor):
    change_counter_triggers.uninstall(schema_editor.connection, _user_table(apps), AFTER)


class Migration(migrations.Migration):
    dependencies = [("registry", "0021_change_counter_tokens_answers")]
    operations = [
        migrations.RunPython(drop_before, install_before),
        migrations.AddField(model_name="changecounter", name="listeners", field=models.BigIntegerField(default=0)),
        migrations.RunPython(install_after, drop_after),
    ]
