"""``bdnex-core db ...``: database maintenance (import of legacy logs, location, copy) and damage:
``check`` (what is damaged, what can be saved), ``repair`` (save it), ``restore`` (an automatic
backup), ``reset`` (a new database, on purpose). These four never go through ``app.db``: opening a
damaged database is what they are for (see :mod:`bdnex_core.store.db_check`)."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bdnex_core.app.legacy_logs import import_logs
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.db import BDneXDB
from bdnex_core.errors import DatabaseError
from bdnex_core.pipeline.fresh_start import remember_the_choice
from bdnex_core.store.db_backups import Backup, count_rows, list_backups, restore_backup, set_aside_database
from bdnex_core.store.db_check import check_database, repair_database
from bdnex_core.store.db_safety import command
from bdnex_core.store.postgres.copy import copy_database


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("import-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def import_logs_command(app: AppContext, paths: tuple[str, ...], as_json: bool) -> None:
    """Import earlier BDneX batch logs (batch_*.json files, or folders holding them)."""
    report = import_logs(app.db, paths)
    if as_json:
        echo_json(report.as_dict())
    else:
        for log, session_id, count in report.imported:
            click.echo(f"{log}: imported as session {session_id} ({count} files)")
        for log in report.already:
            click.echo(f"{log}: already imported")
        for log, reason in report.broken:
            click.echo(f"{log}: skipped, {reason}", err=True)
    if report.broken and not report.imported and not report.already:
        raise SystemExit(1)


@db_group.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def info(app: AppContext, as_json: bool) -> None:
    """Where the database is and which migrations it has."""
    db = app.db
    data: dict[str, Any] = {
        "path": db.location,
        "migrations": db.schema_version(),
        "tables": db.statistics.table_counts(),
    }
    if as_json:
        echo_json(data)
        return
    click.echo(f"database: {data['path']}")
    click.echo(f"migrations: {', '.join(data['migrations'])}")
    for name, count in data["tables"].items():
        click.echo(f"  {name}: {count} rows")


@db_group.command("copy")
@click.option("--to", "target", required=True, metavar="URL|FILE", help="postgresql://... or an SQLite file.")
@click.option("--from", "source", metavar="URL|FILE", help="Default: the configured database.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def copy_command(app: AppContext, target: str, source: str | None, as_json: bool) -> None:
    """Copy a whole database between SQLite and PostgreSQL, verified by counts and checksums."""
    if source is None:
        database = app.settings.database
        source = database.url if database.backend == "postgresql" and database.url else str(database.path)
    report = copy_database(source, target)
    if as_json:
        echo_json(report.as_dict())
        return
    for table in report.tables:
        click.echo(f"  {table.table}: {table.rows} rows, sha256 {table.checksum[:16]}")
    click.echo(
        f"copied {len(report.tables)} tables, {report.rows} rows from {report.source} to {report.target} (verified)"
    )


# --------------------------------------------------------------------------- damage: check, repair, restore, reset


def _sqlite_only(app: AppContext, action: str) -> None:
    if app.settings.database.backend == "postgresql":
        raise DatabaseError(
            f"bdnex-core does not {action} a PostgreSQL database and makes no backups of it: "
            "the server's own backups apply (pg_dump and pg_restore, or its base backups)"
        )


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} Add --yes to do it without a terminal to ask on.")
    if not click.confirm(question, default=False):
        raise click.exceptions.Abort()


@db_group.command("check")
@click.option("--full", is_flag=True, help="PRAGMA integrity_check (slower) instead of quick_check.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def check_command(app: AppContext, full: bool, as_json: bool) -> None:
    """Is the database sound? What is damaged, what can be saved, and the command that fixes it."""
    report = check_database(app.settings, full=full)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(f"database: {report.location} ({report.backend})")
        for note in report.notes:
            click.echo(f"note: {note}")
        for finding in report.findings:
            click.echo(f"damaged: {finding.file}: {finding.what}")
        for complaint in report.integrity:
            click.echo(f"integrity: {complaint}")
        for table in report.tables:
            click.echo(f"  {table.summary()}")
        if report.backend == "sqlite":
            click.echo("backups, newest first:" if report.backups else "backups: none yet")
            for backup in report.backups:
                click.echo(f"  {backup.summary()}")
        click.echo("healthy" if report.healthy else f"fix: {report.remedy}")
    if not report.healthy:
        raise SystemExit(DatabaseError.exit_code)


@db_group.command("repair")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def repair_command(app: AppContext, as_json: bool) -> None:
    """Keep everything that can still be read from a damaged database (the damaged files are set aside)."""
    _sqlite_only(app, "repair")
    report = repair_database(app.settings)
    _remember(app.settings, "repair")
    if as_json:
        echo_json(report.as_dict())
        return
    for path in report.set_aside:
        click.echo(f"kept aside: {path}")
    for table in report.tables:
        click.echo(f"  {table.summary()}")
    for note in report.notes:
        click.echo(note)
    click.echo(f"repaired: {report.location}")


@db_group.command("restore")
@click.argument("backup", required=False)
@click.option("--list", "only_list", is_flag=True, help="Only list the backups.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def restore_command(app: AppContext, backup: str | None, only_list: bool, yes: bool, as_json: bool) -> None:
    """List the automatic backups (dates and what they hold), or put BACKUP back (default: the newest
    usable one). The current database is kept aside, never deleted."""
    _sqlite_only(app, "restore")
    settings = app.settings
    backups = list_backups(settings)
    if only_list or (as_json and backup is None and not yes):
        if as_json:
            echo_json([b.as_dict() for b in backups])
        else:
            for number, found in enumerate(backups, 1):
                click.echo(f"{number}. {found.summary()}")
            if not backups:
                click.echo("no backups of this database yet")
        return
    chosen = _choose_backup(backups, backup, settings.database.path)
    current = settings.database.path
    _confirm(f"Put back {chosen.summary()} as {current}? The current database is kept aside.", yes)
    moved = restore_backup(settings, chosen)
    _remember(settings, "restore")
    if as_json:
        echo_json({"restored": chosen.as_dict(), "set_aside": [str(p) for p in moved]})
        return
    for path in moved:
        click.echo(f"kept aside: {path}")
    click.echo(f"restored {chosen.path.name} ({chosen.label}) as {current}")


def _remember(settings: Any, how: str) -> None:
    with BDneXDB(settings=settings) as db:
        remember_the_choice(db, how)


def _choose_backup(backups: list[Any], wanted: str | None, database: Path) -> Any:
    usable = [b for b in backups if b.problem is None]
    if wanted is None:
        if not usable:
            raise DatabaseError(
                "there is no usable backup of this database"
                + (f" ({len(backups)} damaged)" if backups else "")
                + f": {command('db', 'reset')} starts a new one",
                path=database,
            )
        return usable[0]
    for number, found in enumerate(backups, 1):
        if wanted in (str(number), found.path.name, str(found.path)):
            if found.problem:
                raise DatabaseError(f"this backup is unusable ({found.problem})", path=found.path)
            return found
    path = Path(wanted).expanduser()
    if path.is_file():
        try:
            return Backup(path, datetime.fromtimestamp(path.stat().st_mtime, UTC), "chosen", count_rows(path))
        except (OSError, sqlite3.Error) as exc:
            raise DatabaseError(f"not a usable bdnex-core database ({exc})", path=path) from None
    raise click.UsageError(
        f"no backup {wanted!r}: give a number or a name from {command('db', 'restore', '--list')}, or a file"
    )


@db_group.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def reset_command(app: AppContext, yes: bool) -> None:
    """Start a new, empty database on purpose (the current one, if any, is kept aside)."""
    settings = app.settings
    _sqlite_only(app, "reset")
    path = Path(settings.database.path)
    exists = path.exists() or path.is_symlink()
    _confirm(
        f"Start a new, empty database at {path}?" + (" The current one is kept aside." if exists else ""),
        yes,
    )
    for moved in set_aside_database(path, "replaced"):
        click.echo(f"kept aside: {moved}")
    with BDneXDB(path, settings=settings, creating=True) as db:
        remember_the_choice(db, "reset")
    click.echo(f"new database: {path}")
