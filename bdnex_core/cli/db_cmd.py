"""``bdnex-core db ...``: database maintenance (import of legacy logs, location, upgrade)."""

from __future__ import annotations

from typing import Any

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("import-logs")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def import_logs_command(app: AppContext, paths: tuple[str, ...], as_json: bool) -> None:
    """Import earlier BDneX batch logs (batch_*.json files, or folders holding them)."""
    from bdnex_core.legacy_logs import import_logs

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
    from bdnex_core.postgres.copy import copy_database

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
