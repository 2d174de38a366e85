"""Schema upgrades, recorded in the database the way sqlite-utils ``Migrations`` records them.

``schema.sql`` holds the current schema (idempotent statements), applied by ``m002``.
Other migrations bring databases made by earlier versions (or by the seed prototype)
up to date; each one is guarded so it is a no-op on a database that schema.sql
just created. New migrations are appended, never reordered.

Opening a database only asks which migrations it has (plain SQL on ``_sqlite_migrations``):
sqlite-utils, and pandas which it imports when installed beside it, are imported only when a
migration is to be applied.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlite_utils import Database

MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' table: databases made earlier keep their record


class MigrationSet:
    """The migrations of bdnex-core, in order: ``@migrations()`` registers one (sqlite-utils' spelling)."""

    def __init__(self, name: str):
        self.name = name
        self.steps: list[Callable[[Database], None]] = []

    def __call__(self) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
        def register(step: Callable[[Database], None]) -> Callable[[Database], None]:
            self.steps.append(step)
            return step

        return register

    def names(self) -> list[str]:
        return [step.__name__ for step in self.steps]

    def applied(self, conn: sqlite3.Connection) -> list[str]:
        """The migrations ``conn``'s database records, in the order they were applied."""
        exists = conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]
        ).fetchone()[0]
        if not exists:
            return []
        rows = conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid", [self.name]
        ).fetchall()
        return [name for (name,) in rows]

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        done = set(self.applied(conn))
        return [name for name in self.names() if name not in done]

    def apply(self, db: Database, *, stop_before: str | None = None) -> None:
        """Apply the pending migrations through sqlite-utils (each with its record, in one transaction);
        ``stop_before``: the name of the first one left out (a database of an earlier version, for tests)."""
        recorder = sqlite_utils_module().migrations.Migrations(self.name)
        for step in self.steps:
            if step.__name__ == stop_before:
                break
            recorder()(step)
        recorder.apply(db)


migrations = MigrationSet("bdnex_core")


@cache
def schema_sql() -> str:
    """The text of schema.sql: shipped in the wheel, or at the repository root in a checkout."""
    packaged = resources.files("bdnex_core").joinpath("schema.sql")
    if packaged.is_file():
        return packaged.read_text("utf-8")
    return (Path(__file__).resolve().parents[2] / "schema.sql").read_text("utf-8")


def sql_statements(script: str) -> Iterator[str]:
    """Split a script into statements.

    ``executescript`` would COMMIT the caller's transaction first; running the
    statements one by one keeps a migration atomic.
    """
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending.strip()
            pending = ""


def execute_script(db: Database, script: str) -> None:
    for statement in sql_statements(script):
        db.execute(statement)


def _add_missing_columns(db: Database, table: str, columns: dict[str, str]) -> None:
    existing = {column.name for column in db.table(table).columns}
    for name, declaration in columns.items():
        if name not in existing:
            db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{name}] {declaration}")


@migrations()
def m001_upgrade_seed_tables(db: Database) -> None:
    """A database made by the seed prototype lacks the product's columns: add them first.

    On a new database the tables do not exist yet and this does nothing; ``m002``
    then creates everything from schema.sql (whose indexes need these columns).
    """
    if db.table("processed_files").exists():
        _add_missing_columns(
            db,
            "processed_files",
            {
                "mtime_ns": "INTEGER",
                "tome": "TEXT",
                "decision": "TEXT",
                "source": "TEXT DEFAULT 'folder'",
                "external_id": "TEXT",
                "updated_date": "TIMESTAMP",
            },
        )
    if db.table("processing_sessions").exists():
        _add_missing_columns(
            db,
            "processing_sessions",
            {
                "files_queued": "INTEGER DEFAULT 0",
                "options": "JSON",
                "pid": "INTEGER",
                "heartbeat": "TIMESTAMP",
                "source": "TEXT DEFAULT 'folder'",
                "imported_from": "TEXT",
            },
        )
    if db.table("statistics").exists():
        _add_missing_columns(
            db,
            "statistics",
            {"files_failed": "INTEGER", "files_pending_review": "INTEGER", "total_sessions": "INTEGER"},
        )


@migrations()
def m002_schema(db: Database) -> None:
    """Create whatever schema.sql has that the database lacks (every statement is idempotent)."""
    execute_script(db, schema_sql())


def apply(db: Database) -> None:
    migrations.apply(db)


def sqlite_utils_module() -> Any:
    """sqlite-utils, imported when a migration or an SQLite-only feature needs it."""
    import sqlite_utils  # lazy: it imports pandas when installed beside it; a database already made needs neither

    return sqlite_utils


def open_database(conn: sqlite3.Connection) -> Database:
    """sqlite-utils over ``conn`` (imported here: only migrations and SQLite-only features need it)."""
    return sqlite_utils_module().Database(conn)


@migrations()
def m003_catalogue(db: Database) -> None:
    """The catalogue index tables (databases made before it existed get them here)."""
    start = schema_sql().index(
        "-- ===================================================================== catalogue index"
    )
    execute_script(db, schema_sql()[start:])


@migrations()
def m004_plugin_state(db: Database) -> None:
    """The key/value table where plugins keep checkpoints between runs."""
    start = schema_sql().index("-- ===================================================================== plugin state")
    execute_script(db, schema_sql()[start:])


@migrations()
def m005_unchanged_counter(db: Database) -> None:
    """Sessions count the unchanged files they skip instead of listing each one."""
    if "files_unchanged" not in db["processing_sessions"].columns_dict:
        db.execute("ALTER TABLE processing_sessions ADD COLUMN files_unchanged INTEGER DEFAULT 0")


@migrations()
def m006_rescan_index(db: Database) -> None:
    """A covering index for re-scans (size, mtime and state of the files under a folder)."""
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_processed_rescan "
        "ON processed_files(file_path, file_size, mtime_ns, status, decision)"
    )


@migrations()
def m007_comicinfo_backups(db: Database) -> None:
    """The previous ComicInfo.xml of each file we rewrite, kept so that a session can be undone."""
    start = schema_sql().index(
        "-- ===================================================================== comicinfo backups"
    )
    execute_script(db, schema_sql()[start:])


@migrations()
def m008_library_search(db: Database) -> None:
    """The full-text index behind `bdnex-core ls`, filled from the files already recorded."""
    start = schema_sql().index(
        "-- ===================================================================== library search"
    )
    execute_script(db, schema_sql()[start:])
    db.execute("INSERT INTO library_search(library_search) VALUES ('rebuild')")


@migrations()
def m009_file_moves(db: Database) -> None:
    """The journal of moves in progress, so a killed rename is finished by the next run."""
    start = schema_sql().index("-- ===================================================================== file moves")
    execute_script(db, schema_sql()[start:])


@migrations()
def m010_file_claims(db: Database) -> None:
    """The claims by which concurrent runs keep off each other's files."""
    start = schema_sql().index("-- ===================================================================== file claims")
    execute_script(db, schema_sql()[start:])


@migrations()
def m011_stored_items(db: Database) -> None:
    """Session files and review entries keep their item (write-back mode...) for resume and review."""
    _add_missing_columns(db, "session_files", {"item": "JSON"})
    _add_missing_columns(db, "review_queue", {"item": "JSON"})


@migrations()
def m012_request_slots(db: Database) -> None:
    """The shared request slot: politeness holds across all processes of a database."""
    start = schema_sql().index("-- ===================================================================== request slots")
    execute_script(db, schema_sql()[start:])


@migrations()
def m013_session_file_workers(db: Database) -> None:
    """Session files keep which process recorded them, for the workers of `sessions info`."""
    _add_missing_columns(db, "session_files", {"worker_pid": "INTEGER", "worker_host": "TEXT"})


@migrations()
def m014_session_host(db: Database) -> None:
    """Sessions keep the machine of their process: a pid means nothing on another machine."""
    _add_missing_columns(db, "processing_sessions", {"host": "TEXT"})


@migrations()
def m015_request_pace(db: Database) -> None:
    """Request slots keep the pace the site taught (refusals raise it, calm answers lower it), the end of a
    Retry-After, and the request in flight: politeness holds at arrival, for every process."""
    _add_missing_columns(
        db,
        "request_slots",
        {
            "pace": "REAL NOT NULL DEFAULT 0",
            "calm": "INTEGER NOT NULL DEFAULT 0",
            "refusals": "INTEGER NOT NULL DEFAULT 0",
            "retry_until": "REAL NOT NULL DEFAULT 0",
            "holder": "TEXT",
            "held_at": "REAL NOT NULL DEFAULT 0",
            "held_until": "REAL NOT NULL DEFAULT 0",
        },
    )


@migrations()
def m016_series_records(db: Database) -> None:
    """Series records, the albums each series page lists and the series id of each catalogue slug."""
    start = schema_sql().index(
        "-- ===================================================================== series records"
    )
    execute_script(db, schema_sql()[start:])


@migrations()
def m017_archive_journal(db: Database) -> None:
    """The journal of in-place archive writes, so a write a crash interrupted is taken back."""
    start = schema_sql().index(
        "-- ===================================================================== archive journal"
    )
    execute_script(db, schema_sql()[start:])


# ---------------------------------------------------------------------- one word for the review queue

_WAITING_CHECKS = (  # table, column, the values its CHECK allows now
    ("processed_files", "status", ("success", "manual", "waiting", "skipped", "failed")),
    ("session_files", "state", ("pending", "done", "failed", "skipped", "waiting")),
    ("review_queue", "status", ("waiting", "resolved", "skipped")),
)


def _replace_checks(db: Database, table: str, column: str, values: tuple[str, ...], default: str | None) -> None:
    """Rewrite ``table``'s ``CHECK(column IN (...))`` (and the column's default) in the stored schema.

    SQLite cannot alter a CHECK; its documented way to change one without rebuilding the table (which
    the tables' foreign keys and full-text triggers would make long and fragile) is to edit the
    table's SQL in ``sqlite_schema`` with ``writable_schema`` and bump ``schema_version``, inside the
    migration's transaction. Only the list of allowed values changes: no row's storage does.
    """
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()
    if row is None:
        return
    allowed = ", ".join(f"'{value}'" for value in values)
    check = re.compile(rf"CHECK\s*\(\s*{column}\s+IN\s*\([^)]*\)\s*\)", re.IGNORECASE)
    sql = check.sub(f"CHECK({column} IN ({allowed}))", row[0], count=1)
    if default is not None:
        sql = re.sub(rf"(\b{column}\s+TEXT\s+NOT\s+NULL\s+DEFAULT\s+)'[a-z]+'", rf"\1'{default}'", sql, count=1)
    if sql == row[0]:
        return
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", [sql, table])
        db.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")


@migrations()
def m018_waiting_for_review(db: Database) -> None:
    """A file whose match waits for a person is 'waiting' in its record ('skipped' before), its session
    ('queued') and the review queue ('pending'); the session counter is ``files_waiting``. And a
    session's files are indexed by position, for the web page of a session to read one page at a time."""
    if "files_queued" in db["processing_sessions"].columns_dict:
        db.execute("ALTER TABLE processing_sessions RENAME COLUMN files_queued TO files_waiting")
    for table, column, values in _WAITING_CHECKS:
        _replace_checks(db, table, column, values, "waiting" if table == "review_queue" else None)
    db.execute("UPDATE processed_files SET status = 'waiting' WHERE status = 'skipped' AND decision = 'review'")
    db.execute("UPDATE session_files SET state = 'waiting' WHERE state = 'queued'")
    db.execute("DROP INDEX IF EXISTS idx_review_pending")
    db.execute("UPDATE review_queue SET status = 'waiting' WHERE status = 'pending'")
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS idx_review_waiting ON review_queue(item_key) WHERE status = 'waiting'"
    )
    # a session's files in order, a page at a time (the web page of a session of thousands of files)
    db.execute("CREATE INDEX IF NOT EXISTS idx_session_files_position ON session_files(session_id, position)")


@migrations()
def m019_catalogue_sitemap_revision(db: Database) -> None:
    """Each sitemap's revision: the catalogue index file knows from it which sitemaps changed since it was built."""
    _add_missing_columns(db, "catalogue_sitemaps", {"revision": "TEXT"})


@migrations()
def m020_drop_catalogue_series_index(db: Database) -> None:
    """No query reads catalogue_albums by series_norm (matching reads the index file): its index only
    cost every update a third of its writes."""
    db.execute("DROP INDEX IF EXISTS idx_catalogue_series")


@migrations()
def m021_cover_fingerprints(db: Database) -> None:
    """Cover fingerprints: a file's per content hash, an album's beside the album cache."""
    start = schema_sql().index(
        "-- ===================================================================== cover fingerprints"
    )
    execute_script(db, schema_sql()[start:])


def unknown_applied(conn: sqlite3.Connection) -> list[str]:
    """Migrations recorded in the database that this code does not have: a newer bdnex-core made it."""
    known = set(migrations.names())
    return [name for name in migrations.applied(conn) if name not in known]
