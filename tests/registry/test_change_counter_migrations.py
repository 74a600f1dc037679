"""The change counters' migrations (0019, 0021, 0022), forward and back, on a scratch database of the engine the
suite runs on: at each step the counter row has that step's columns and exactly that step's triggers are installed
(registry.change_counter_triggers.COUNTERS_BY_MIGRATION), so a rollback leaves no trigger naming a dropped column
and a migrate forward again gives caches every trigger they need."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

from registry.change_counter_triggers import COUNTERS_BY_MIGRATION, _SQLITE_EVENTS, watched

ROOT = Path(__file__).resolve().parents[2]
STEPS = [  # (migrate target, the migration whose counters are then installed)
    ("0022_change_counter_listeners", "0022_change_counter_listeners"),
    ("0021_change_counter_tokens_answers", "0021_change_counter_tokens_answers"),
    ("0020_deployment_log_tail", "0019_change_counter"),
    ("0022_change_counter_listeners", "0022_change_counter_listeners"),
]


class Scratch:
    """A database of its own, migrated by `manage.py` in a child process as a deployment migrates."""

    def __init__(self, tmp_path: Path):
        self.vendor = connection.vendor
        self.env = dict(os.environ, VAR_DIR=str(tmp_path / "var"))
        if self.vendor == "postgresql":
            db = settings.DATABASES["default"]
            self.name = f"{db['NAME']}_counters"[:60]
            self.dsn = dict(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"],
                            password=db["PASSWORD"])
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')
            password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
            self.env["DATABASE_URL"] = (f"postgres://{db['USER']}{password}@{self.dsn['host']}:{self.dsn['port']}/"
                                        f"{self.name}")
        else:
            self.env.pop("DATABASE_URL", None)  # the quick start's SQLite file under VAR_DIR

    def _admin(self, *statements: str) -> None:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", **self.dsn)
        conn.autocommit = True
        with conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
        conn.close()

    def migrate(self, target: str) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "registry", target, "--noinput", "-v0"], cwd=ROOT,
                       env=self.env, check=True, timeout=300)

    def query(self, sql: str) -> list[tuple]:
        if self.vendor == "postgresql":
            import psycopg2

            conn = psycopg2.connect(dbname=self.name, **self.dsn)
            try:
                with conn.cursor() as cursor:
                    cursor.execute(sql)
                    return cursor.fetchall()
            finally:
                conn.close()
        conn = sqlite3.connect(next(Path(self.env["VAR_DIR"]).glob("*.sqlite3")))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def counter_columns(self) -> list[str]:
        if self.vendor == "postgresql":
            rows = self.query("SELECT column_name FROM information_schema.columns WHERE table_name = "
                              "'registry_changecounter' ORDER BY ordinal_position")
        else:
            rows = [(row[1],) for row in self.query("PRAGMA table_info(registry_changecounter)")]
        return [name for (name,) in rows if name != "id"]

    def triggers(self) -> set[tuple[str, str]]:
        """(table, trigger) of every change-counter trigger installed."""
        if self.vendor == "postgresql":
            rows = self.query("SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                              "WHERE t.tgname LIKE 'change_counter%'")
        else:
            rows = self.query("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger' "
                              "AND name LIKE 'change_counter_%'")
        return set(rows)

    def close(self) -> None:
        if self.vendor == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def expected_triggers(vendor: str, counters: tuple[str, ...]) -> set[tuple[str, str]]:
    from django.contrib.auth import get_user_model

    tables = watched(get_user_model()._meta.db_table, counters)
    if vendor == "postgresql":
        return {(table, name) for table in tables for name in ("change_counter", "change_counter_truncate")}
    return {(table, f"change_counter_{table}_{event}") for table in tables for event in _SQLITE_EVENTS}


def test_each_step_has_its_own_columns_and_triggers_forward_and_back(tmp_path):
    scratch = Scratch(tmp_path)
    try:
        for target, installed in STEPS:
            scratch.migrate(target)
            counters = COUNTERS_BY_MIGRATION[installed]
            assert scratch.counter_columns() == list(counters), target
            assert scratch.triggers() == expected_triggers(scratch.vendor, counters), target
            values = scratch.query(f"SELECT {', '.join(counters)} FROM registry_changecounter")
            assert len(values) == 1 and all(values[0]), (target, values)  # one row, every counter set
    finally:
        scratch.close()
