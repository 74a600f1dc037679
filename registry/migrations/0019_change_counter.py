"""The change counter and its triggers (registry.change_counter, registry.change_counter_triggers). Triggers rather
than code: a write that forgets to say it changed something (a service, the Django admin, a data migration, manual
SQL) would leave a stale cache, and in these tables a stale cache means a revoked token or grant still working."""
from django.conf import settings
from django.db import migrations, models

from registry import change_counter_triggers


def _user_table(apps) -> str:
    return apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table


def create_triggers(apps, schema_editor):
    # As this migration left them: later code installs more counters (0021), whose columns do not exist yet.
    change_counter_triggers.install(schema_editor.connection, _user_table(apps), change_counter_triggers.LEGACY_COUNTERS)


def drop_triggers(apps, schema_editor):
    change_counter_triggers.uninstall(schema_editor.connection, _user_table(apps),
                                      change_counter_triggers.LEGACY_COUNTERS)


class Migration(migrations.Migration):
    dependencies = [("registry", "0018_service_principals"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                    ("value", models.BigIntegerField())],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
