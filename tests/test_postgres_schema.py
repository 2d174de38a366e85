"""The PostgreSQL schema is schema.sql's twin: checked by introspecting both real databases.

Every table of schema.sql (as a fresh SQLite database has it after the migrations) must exist in
PostgreSQL with the same columns (in the matching PostgreSQL type), NOT NULLs, defaults, keys,
unique constraints, references, CHECKs and indexes. A table added to schema.sql without its
PostgreSQL migration fails here by name. SQLite's full-text (FTS5) tables and their shadow tables
are left out, and so are their PostgreSQL twins (the ``idx_library_search_*`` GIN indexes).
"""

from __future__ import annotations

import re
import sqlite3
import threading

import psycopg
import pytest
from sqlite_utils import Database

from bdnex_core.store import migrations
from bdnex_core.store.postgres.schema import MIGRATIONS, VERSIONS_TABLE, applied_versions, migrate
from bdnex_core.store.postgres.search import SEARCHED_COLUMNS
from bdnex_core.store.postgres.sides import SqliteSide, sqlite_kind
from bdnex_core.store.postgres.values import Kind

POSTGRES_TYPE = {
    Kind.INTEGER: "bigint",
    Kind.REAL: "double precision",
    Kind.TEXT: "text",
    Kind.TIMESTAMP: "timestamp with time zone",
    Kind.DATE: "date",
    Kind.BOOLEAN: "boolean",
    Kind.JSON: "jsonb",
    Kind.BLOB: "bytea",
}
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _normal_check(expression: str) -> tuple[str, tuple[str, ...], bool]:
    """``x IN ('a', 'b')`` (SQLite) and ``x = ANY (ARRAY['a'::text, ...])`` (PostgreSQL) alike."""
    column = re.search(r"(\w+)\s+IN\s*\(|\(*(\w+)\s*=\s*ANY", expression, re.IGNORECASE)
    assert column, f"a CHECK of a shape this test does not know: {expression}"
    literals = tuple(sorted(re.findall(r"'([^']*)'", expression)))
    return (column.group(1) or column.group(2), literals, "IS NULL" in expression.upper())


def _normal_where(expression: str | None) -> str | None:
    if expression is None:
        return None
    return re.sub(r"[()\s]|::\w+", "", expression).lower()


def _sqlite_checks(create_sql: str) -> set[tuple[str, tuple[str, ...], bool]]:
    checks = set()
    for start in (m.end() for m in re.finditer(r"CHECK\s*\(", create_sql, re.IGNORECASE)):
        depth, end = 1, start
        while depth:
            depth += {"(": 1, ")": -1}.get(create_sql[end], 0)
            end += 1
        checks.add(_normal_check(create_sql[start : end - 1]))
    return checks


def describe_sqlite(conn: sqlite3.Connection, table: str) -> dict:
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    key = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
    columns = {
        name: (POSTGRES_TYPE[sqlite_kind(declared)], bool(notnull), default is not None)
        for _, name, declared, notnull, default, pk in info
        if name not in key
    }
    unique, indexes = set(), {}
    for _, name, is_unique, origin, _partial in conn.execute(f"PRAGMA index_list({table})"):
        index_columns = tuple(row[2] for row in conn.execute(f"PRAGMA index_info({name})"))
        if origin == "u":
            unique.add(index_columns)
        elif origin == "c":
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [name]).fetchone()[0]
            where = sql.split(" WHERE ", 1)[1] if " WHERE " in sql else None
            indexes[name] = (bool(is_unique), index_columns, _normal_where(where))
    references = {(row[3], row[2], row[4], row[6]) for row in conn.execute(f"PRAGMA foreign_key_list({table})")}
    create_sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    return {
        "primary key": key,
        "columns": columns,
        "unique": unique,
        "references": references,
        "checks": _sqlite_checks(create_sql),
        "indexes": indexes,
    }


def describe_postgres(conn: psycopg.Connection, table: str) -> dict:
    def rows(query, *params):
        return conn.execute(query, [table, *params]).fetchall()

    key = [
        name
        for (name,) in rows(
            "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY k.n"
        )
    ]
    columns = {
        name: (data_type, nullable == "NO", default is not None)
        for name, data_type, nullable, default in rows(
            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s"
        )
        if name not in key
    }
    constraints = rows(
        "SELECT contype, pg_get_constraintdef(c.oid), confrelid::regclass::text, confdeltype, "
        "ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY AS k(n, o) "
        "      JOIN pg_attribute ON attrelid = conrelid AND attnum = k.n ORDER BY k.o), "
        "ARRAY(SELECT attname FROM unnest(confkey) WITH ORDINALITY AS k(n, o) "
        "      JOIN pg_attribute ON attrelid = confrelid AND attnum = k.n ORDER BY k.o) "
        "FROM pg_constraint c WHERE conrelid = to_regclass(%s)"
    )
    indexes = {
        name: (unique, tuple(columns_), _normal_where(where))
        for name, unique, columns_, where in rows(
            "SELECT ic.relname, i.indisunique, "
            "ARRAY(SELECT attname FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o) "
            "      JOIN pg_attribute ON attrelid = i.indrelid AND attnum = k.n ORDER BY k.o), "
            "pg_get_expr(i.indpred, i.indrelid) "
            "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid)"
        )
        # the twin of SQLite's FTS5 table, left out like it (test_library_search_has_its_indexes)
        if not name.startswith("idx_library_search_")
    }
    return {
        "primary key": key,
        "columns": columns,
        "unique": {tuple(cols) for kind, _, _, _, cols, _ in constraints if kind == "u"},
        "references": {
            (cols[0], ref_table, ref_cols[0], ON_DELETE[on_delete])
            for kind, _, ref_table, on_delete, cols, ref_cols in constraints
            if kind == "f"
        },
        "checks": {_normal_check(definition) for kind, definition, *_ in constraints if kind == "c"},
        "indexes": indexes,
    }


@pytest.fixture
def sqlite_reference(tmp_path):
    """schema.sql as the application creates it: a fresh database after every SQLite migration."""
    path = tmp_path / "reference.db"
    database = Database(path)
    migrations.apply(database)
    database.close()
    return path


def test_postgresql_has_every_table_of_schema_sql_with_the_same_definition(sqlite_reference, postgres_url):
    with psycopg.connect(postgres_url) as conn:
        migrate(conn)
        postgres_tables = {
            name
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        } - {VERSIONS_TABLE}
        side = SqliteSide(sqlite_reference, create=False)
        sqlite_tables = set(side.tables())
        side.close()
        missing = sorted(sqlite_tables - postgres_tables)
        assert not missing, (
            f"tables of schema.sql with no PostgreSQL migration (bdnex_core/store/postgres/schema.py): {missing}"
        )
        assert not sorted(postgres_tables - sqlite_tables), "PostgreSQL tables that schema.sql does not have"
        assert {
            "processed_files",
            "bdgest_albums",
            "processing_sessions",
            "metadata_history",
            "statistics",
        } <= sqlite_tables

        reference = sqlite3.connect(sqlite_reference)
        indexes = 0
        for table in sorted(sqlite_tables):
            expected, actual = describe_sqlite(reference, table), describe_postgres(conn, table)
            for aspect in expected:
                assert actual[aspect] == expected[aspect], f"{table}: {aspect} differs"
            indexes += len(expected["indexes"])
        reference.close()
        assert indexes >= 6 + 7 + 2  # the seed's six, the product's and the catalogue's


def test_migrations_apply_once_and_are_recorded(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        assert applied_versions(conn) == []
        assert migrate(conn) == [migration.version for migration in MIGRATIONS]
        assert migrate(conn) == []
        assert applied_versions(conn) == [migration.version for migration in MIGRATIONS]
        names = [row[0] for row in conn.execute(f"SELECT name FROM {VERSIONS_TABLE} ORDER BY version")]
        assert names == [migration.name for migration in MIGRATIONS]


def test_two_processes_migrating_together_apply_each_migration_once(postgres_url):
    results: list[object] = []

    def run() -> None:
        try:
            with psycopg.connect(postgres_url) as conn:
                results.append(migrate(conn))
        except Exception as exc:  # reported below: the assertion shows it
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    everything = [migration.version for migration in MIGRATIONS]
    assert sorted(results, key=len) == [[], [], everything]


def test_library_search_has_its_indexes(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        migrate(conn)
        names = {
            name
            for (name,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'processed_files' AND indexdef LIKE '%%USING gin%%'"
            )
        }
    assert names == {f"idx_library_search_{column}" for column in SEARCHED_COLUMNS}
