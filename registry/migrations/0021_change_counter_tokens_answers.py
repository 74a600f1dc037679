"""Two more counters beside the change counter's `value` (registry.change_counter_triggers): `tokens`, so that a
registry write no longer drops cached token lookups, and `answers`, behind the cache of MLflow read answers
(registry.api.answer_cache), which also watches tags, runs, experiments and logged models."""
from django.conf import settings
from django.db import migrations, models

from registry import change_counter_triggers


def _user_table(apps) -> str:
    return apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table


def drop_legacy(apps, schema_editor):
    # First: SQLite rebuilds the counter's table to add a column, and its rename step fails while triggers name it.
    change_counter_triggers.uninstall(schema_editor.connection, _user_table(apps),
                                      change_counter_triggers.LEGACY_COUNTERS)


def install_legacy(apps, schema_editor):
    change_counter_triggers.install(schema_editor.connection, _user_table(apps),
                                    change_counter_triggers.LEGACY_COUNTERS)


COUNTERS = change_counter_triggers.COUNTERS_BY_MIGRATION["0021_change_counter_tokens_answers"]


def install_all(apps, schema_editor):
    connection = schema_editor.connection
    change_counter_triggers.install(connection, _user_table(apps), COUNTERS)
    change_counter_triggers.refresh(connection, ("tokens", "answers"))


def drop_all(apps, schema_editor):
    change_counter_triggers.uninstall(schema_editor.connection, _user_table(apps), COUNTERS)


class Migration(migrations.Migration):
    dependencies = [("registry", "0020_deployment_log_tail")]
    operations = [
        migrations.RunPython(drop_legacy, install_legacy),
        migrations.AddField(model_name="changecounter", name="tokens", field=models.BigIntegerField(default=0)),
        migrations.AddField(model_name="changecounter", name="answers", field=models.BigIntegerField(default=0)),
        migrations.RunPython(install_all, drop_all),
    ]
