"""The change counter and its triggers (registry.change_counter). Triggers rather than code: a write that forgets to
say it changed something (a service, the Django admin, a data migration, manual SQL) would leave a stale cache,
and in these tables a stale cache means a revoked token or grant still working."""
from django.conf import settings
from django.db import migrations, models

SEQUENCE = "registry_change_counter_seq"
FUNCTION = "registry_bump_change_counter"

# table -> the columns whose update counts (None: every update). Columns left out change often and decide nothing
# cached: a deployment's lease renewal, a token's last use, a served model's status text.
WATCHED = {
    "registry_catalog": None,
    "registry_schema": None,
    "registry_registeredmodel": None,
    "registry_modelversion": None,
    "registry_modelalias": None,
    "registry_grant": None,
    "registry_servingendpoint": None,
    "registry_servingendpointgrant": None,
    "registry_servedmodel": ["model_id", "enabled"],
    "registry_servingdeployment": ["served_model_id", "endpoint_id", "entity_name", "version_id", "generation",
                                   "workers", "state", "address"],
    "registry_personalaccesstoken": ["user_id", "digest", "expires_at", "revoked_at"],
    "auth_group": None,
    "auth_user_groups": None,
}


def _user_tables(apps):
    user = apps.get_model(settings.AUTH_USER_MODEL)
    return {user._meta.db_table: None}


def _watched(apps):
    return {**WATCHED, **_user_tables(apps)}


def create_triggers(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
            cursor.execute(f"""
                CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
                BEGIN
                    INSERT INTO registry_changecounter (id, value) VALUES (1, nextval('{SEQUENCE}'))
                    ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
                    RETURN NULL;
                END $$ LANGUAGE plpgsql""")
            for table, columns in _watched(apps).items():
                update = "UPDATE" if columns is None else "UPDATE OF " + ", ".join(columns)
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter ON {table}")
                cursor.execute(f"CREATE TRIGGER change_counter AFTER INSERT OR {update} OR DELETE ON {table} "
                               f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_truncate ON {table}")
                cursor.execute(f"CREATE TRIGGER change_counter_truncate AFTER TRUNCATE ON {table} "
                               f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")
            cursor.execute(f"INSERT INTO registry_changecounter (id, value) VALUES (1, nextval('{SEQUENCE}')) "
                           "ON CONFLICT (id) DO NOTHING")
        elif connection.vendor == "sqlite":
            # An UPDATE, not an upsert: an outer INSERT OR IGNORE (Django's add() to a many-to-many) would impose its
            # IGNORE on an upsert inside the trigger, and the counter would not change.
            bump = "UPDATE registry_changecounter SET value = abs(random()) WHERE id = 1;"
            for table, columns in _watched(apps).items():
                for event in ("INSERT", "DELETE", "UPDATE" if columns is None else "UPDATE OF " + ", ".join(columns)):
                    name = f"change_counter_{table}_{event.split()[0].lower()}"
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                    cursor.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump} END")
            cursor.execute("INSERT OR IGNORE INTO registry_changecounter (id, value) VALUES (1, abs(random()))")
        else:  # no triggers: registry.change_counter.current() then finds no row and nothing is cached
            pass


def drop_triggers(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in _watched(apps):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_truncate ON {table}")
            elif connection.vendor == "sqlite":
                for event in ("insert", "delete", "update"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_{table}_{event}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
            cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


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
