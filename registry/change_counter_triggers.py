"""The triggers behind registry.change_counter: which tables they watch and the SQL that installs them.

They are installed by migration 0019 and installed again after every `migrate` (registry.apps): on SQLite, a later
migration that alters a watched table rebuilds it (a new table, the rows copied, the old one dropped), and the old
table's triggers go with it. Installing is idempotent (each trigger is dropped first)."""
from __future__ import annotations

SEQUENCE = "registry_change_counter_seq"
FUNCTION = "registry_bump_change_counter"

# table -> the columns whose update counts (None: every update). Columns left out change often and decide nothing
# cached: a deployment's lease renewal and copied log, a token's last use, a served model's status text.
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
_SQLITE_EVENTS = ("insert", "delete", "update")


def watched(user_table: str) -> dict:
    return {**WATCHED, user_table: None}


def install(connection, user_table: str) -> None:
    tables = watched(user_table)
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
            for table, columns in tables.items():
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
            for table, columns in tables.items():
                for event in _SQLITE_EVENTS:
                    clause = event.upper() if event != "update" or columns is None else "UPDATE OF " + ", ".join(columns)
                    name = f"change_counter_{table}_{event}"
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                    cursor.execute(f"CREATE TRIGGER {name} AFTER {clause} ON {table} BEGIN {bump} END")
            cursor.execute("INSERT OR IGNORE INTO registry_changecounter (id, value) VALUES (1, abs(random()))")
        # other databases get no triggers: registry.change_counter then caches nothing


def uninstall(connection, user_table: str) -> None:
    with connection.cursor() as cursor:
        for table in watched(user_table):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_truncate ON {table}")
            elif connection.vendor == "sqlite":
                for event in _SQLITE_EVENTS:
                    cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_{table}_{event}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
            cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


def expected_count(vendor: str, user_table: str = "auth_user") -> int:
    per_table = {"postgresql": 2, "sqlite": len(_SQLITE_EVENTS)}.get(vendor, 0)
    return per_table * len(watched(user_table))
