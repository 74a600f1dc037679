"""The triggers behind registry.change_counter: which tables they watch and the SQL that installs them.

They are installed by migration 0019 (the `value` counter), 0021 (three) and 0022 (all four) and installed again
after every `migrate` (registry.apps): on SQLite, a later
migration that alters a watched table rebuilds it (a new table, the rows copied, the old one dropped), and the old
table's triggers go with it. Installing is idempotent (each trigger is dropped first)."""
from __future__ import annotations

SEQUENCE = "registry_change_counter_seq"
FUNCTION = "registry_bump_change_counter"  # the one function before migration 0021 (bumps `value` only)

# The counters, columns of the one row of registry_changecounter; each cache reads the one it depends on:
# - value:   what a token's owner and an invocation's target depend on (the serving caches);
# - tokens:  what a token's validity and its owner depend on (token authentication);
# - answers: what an MLflow read's answer depends on (registry.api.answer_cache);
# - listeners: which webhooks and follows may hear an event (registry.events.listener_index).
# One row, not one row per counter: a transaction that bumps several takes one row lock, so two writers can never
# hold them in opposite orders (deadlock).
# What each migration installs: its own set, never COUNTERS (the columns a later one adds do not exist yet when it
# runs). registry.apps installs the set of the newest one applied.
COUNTERS_BY_MIGRATION = {
    "0019_change_counter": ("value",),
    "0021_change_counter_tokens_answers": ("value", "tokens", "answers"),
    "0022_change_counter_listeners": ("value", "tokens", "answers", "listeners"),
}
COUNTERS = COUNTERS_BY_MIGRATION["0022_change_counter_listeners"]  # the newest: what the code reads
LEGACY_COUNTERS = COUNTERS_BY_MIGRATION["0019_change_counter"]

_ROUTING = ("value",)
_TOKENS = ("tokens",)
_ANSWERS = ("answers",)
_LISTENERS = ("listeners",)

# table -> (the columns whose update counts (None: every update), the counters it bumps). Columns left out change
# often and decide nothing cached: a deployment's lease renewal and copied log, a token's last use, a served
# model's status text.
WATCHED = {
    "registry_catalog": (None, _ROUTING + _ANSWERS),
    "registry_schema": (None, _ROUTING + _ANSWERS),
    "registry_registeredmodel": (None, _ROUTING + _ANSWERS),
    "registry_modelversion": (None, _ROUTING + _ANSWERS),
    "registry_modelalias": (None, _ROUTING + _ANSWERS),
    "registry_grant": (None, _ROUTING + _ANSWERS),
    "registry_servingendpoint": (None, _ROUTING),
    "registry_servingendpointgrant": (None, _ROUTING),
    "registry_servedmodel": (["model_id", "enabled"], _ROUTING),
    "registry_servingdeployment": (["served_model_id", "endpoint_id", "entity_name", "version_id", "generation",
                                    "workers", "state", "address"], _ROUTING),
    "registry_personalaccesstoken": (["user_id", "digest", "expires_at", "revoked_at"], _ROUTING + _TOKENS),
    "auth_group": (None, _ROUTING + _ANSWERS),
    "auth_user_groups": (None, _ROUTING + _ANSWERS),
    # Only what answers show: tags, and the runs, experiments and logged models a version's provenance names.
    "registry_registeredmodeltag": (None, _ANSWERS),
    "registry_modelversiontag": (None, _ANSWERS),
    "registry_run": (None, _ANSWERS),
    "registry_experiment": (None, _ANSWERS),
    "registry_loggedmodel": (None, _ANSWERS),
    # Who may hear an event: a webhook's scope, events and status, a follow's target and events.
    "registry_webhook": (["model_id", "events", "status"], _LISTENERS),
    "registry_follow": (["model_id", "schema_id", "events"], _LISTENERS),
}
USER_COUNTERS = _ROUTING + _TOKENS + _ANSWERS  # the user table (its name depends on AUTH_USER_MODEL)
_SQLITE_EVENTS = ("insert", "delete", "update")


def watched(user_table: str, counters: tuple[str, ...] = COUNTERS) -> dict:
    """table -> (columns, counters) of the tables that bump at least one of `counters`, the bumps narrowed to them."""
    out = {}
    for table, (columns, bumps) in {**WATCHED, user_table: (None, USER_COUNTERS)}.items():
        bumps = tuple(c for c in COUNTERS if c in bumps and c in counters)
        if bumps:
            out[table] = (columns, bumps)
    return out


def _function_name(bumps: tuple[str, ...]) -> str:
    return FUNCTION if bumps == ("value",) else f"{FUNCTION}_{'_'.join(bumps)}"


def install(connection, user_table: str, counters: tuple[str, ...] = COUNTERS) -> None:
    """Install the triggers of `counters` (all of them, or a migration's set of COUNTERS_BY_MIGRATION)."""
    tables = watched(user_table, counters)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
            all_columns = ", ".join(counters)
            fresh = ", ".join(f"nextval('{SEQUENCE}')" for _ in counters)
            for bumps in sorted({bumps for _, bumps in tables.values()}):
                changes = ", ".join(f"{c} = EXCLUDED.{c}" for c in bumps)
                cursor.execute(f"""
                    CREATE OR REPLACE FUNCTION {_function_name(bumps)}() RETURNS trigger AS $$
                    BEGIN
                        INSERT INTO registry_changecounter (id, {all_columns}) VALUES (1, {fresh})
                        ON CONFLICT (id) DO UPDATE SET {changes};
                        RETURN NULL;
                    END $$ LANGUAGE plpgsql""")
            for table, (columns, bumps) in tables.items():
                update = "UPDATE" if columns is None else "UPDATE OF " + ", ".join(columns)
                function = _function_name(bumps)
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter ON {table}")
                cursor.execute(f"CREATE TRIGGER change_counter AFTER INSERT OR {update} OR DELETE ON {table} "
                               f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_truncate ON {table}")
                cursor.execute(f"CREATE TRIGGER change_counter_truncate AFTER TRUNCATE ON {table} "
                               f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
            cursor.execute(f"INSERT INTO registry_changecounter (id, {all_columns}) VALUES (1, {fresh}) "
                           "ON CONFLICT (id) DO NOTHING")
        elif connection.vendor == "sqlite":
            # An UPDATE, not an upsert: an outer INSERT OR IGNORE (Django's add() to a many-to-many) would impose its
            # IGNORE on an upsert inside the trigger, and the counter would not change.
            for table, (columns, bumps) in tables.items():
                bump = ("UPDATE registry_changecounter SET " + ", ".join(f"{c} = abs(random())" for c in bumps)
                        + " WHERE id = 1;")
                for event in _SQLITE_EVENTS:
                    clause = event.upper() if event != "update" or columns is None else "UPDATE OF " + ", ".join(columns)
                    name = f"change_counter_{table}_{event}"
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                    cursor.execute(f"CREATE TRIGGER {name} AFTER {clause} ON {table} BEGIN {bump} END")
            cursor.execute(f"INSERT OR IGNORE INTO registry_changecounter (id, {', '.join(counters)}) "
                           f"VALUES (1, {', '.join('abs(random())' for _ in counters)})")
        # other databases get no triggers: registry.change_counter then caches nothing


def refresh(connection, counters: tuple[str, ...]) -> None:
    """Give `counters` fresh values: a migration that adds a counter column, so the existing row does not keep the
    0 its default gave it (a value an entry could have been cached under)."""
    fresh = {"postgresql": f"nextval('{SEQUENCE}')", "sqlite": "abs(random())"}.get(connection.vendor)
    if fresh is not None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE registry_changecounter SET " + ", ".join(f"{c} = {fresh}" for c in counters))


def uninstall(connection, user_table: str, counters: tuple[str, ...] = COUNTERS) -> None:
    with connection.cursor() as cursor:
        for table in watched(user_table, counters):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_truncate ON {table}")
            elif connection.vendor == "sqlite":
                for event in _SQLITE_EVENTS:
                    cursor.execute(f"DROP TRIGGER IF EXISTS change_counter_{table}_{event}")
        if connection.vendor == "postgresql":
            for bumps in sorted({bumps for _, bumps in watched(user_table, counters).values()}):
                cursor.execute(f"DROP FUNCTION IF EXISTS {_function_name(bumps)}()")
            if counters == LEGACY_COUNTERS:  # back below 0019: nothing uses the sequence any more
                cursor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


def newest_applied(applied_migrations) -> tuple[str, ...] | None:
    """The counters of the newest migration of COUNTERS_BY_MIGRATION among `applied_migrations` (names), or None."""
    applied = set(applied_migrations)
    names = [name for name in COUNTERS_BY_MIGRATION if name in applied]
    return COUNTERS_BY_MIGRATION[names[-1]] if names else None


def expected_count(vendor: str, user_table: str = "auth_user") -> int:
    per_table = {"postgresql": 2, "sqlite": len(_SQLITE_EVENTS)}.get(vendor, 0)
    return per_table * len(watched(user_table))
