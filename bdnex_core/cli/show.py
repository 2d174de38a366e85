"""``bdnex-core show FILE``: everything known about one comic file, in one place.

Like ``comictagger -p`` it prints the ComicInfo.xml the file holds now; it adds what only we know:
the database record (album, score, decision, status), the change history with who made each
change, the review entry waiting for it and the ComicInfo versions kept for undo.
"""

from __future__ import annotations

import os
from typing import Any

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.errors import BdnexError

RECORD_FIELDS = (
    "status",
    "decision",
    "confidence_score",
    "bdgest_id",
    "bdgest_url",
    "series",
    "tome",
    "title",
    "editor",
    "year",
    "isbn",
    "session_id",
    "processed_date",
    "error_msg",
)


# what a person reads for each column of the record and each field of the history (--json keeps the names)
LABELS = {
    "confidence_score": "score",
    "bdgest_id": "album",
    "bdgest_url": "album page",
    "editor": "publisher",
    "isbn": "ISBN",
    "session_id": "session",
    "processed_date": "processed",
    "error_msg": "reason",
}


def label(name: str) -> str:
    return LABELS.get(name, name)


def value_text(value: object) -> str:
    return "(none)" if value is None or value == "" else str(value)


def file_report(app: AppContext, path: str) -> dict[str, Any]:
    from bdnex_core import archive
    from bdnex_core.comicinfo import read_comicinfo_safely
    from bdnex_core.comicinfo_backups import backups_of
    from bdnex_core.hashing import canonical_path

    real = canonical_path(path)
    db = app.db
    record = db.get_file(real)
    if not os.path.isfile(real) and record is None:
        raise BdnexError(f"{path}: no such file, and nothing recorded under that path")
    report: dict[str, Any] = {"file": real, "exists": os.path.isfile(real), "comicinfo": None}
    if report["exists"]:
        with archive.open_archive(real) as comic:
            info, problem = read_comicinfo_safely(comic.comicinfo_bytes())
        report["comicinfo"] = dict(info.fields) if info is not None else None
        report["comicinfo_problem"] = problem
    report["record"] = {name: record.get(name) for name in RECORD_FIELDS} if record else None
    report["history"] = [
        {key: row[key] for key in ("timestamp", "field", "old_value", "new_value", "source")}
        for row in (db.get_history(record["id"]) if record else [])
    ]
    report["review"] = [
        {key: row[key] for key in ("id", "status", "chosen_album_id", "created_at", "resolved_at")}
        for row in db.reviews.for_path(real)
    ]
    report["comicinfo_backups"] = [
        {"id": backup.id, "session_id": backup.session_id, "reason": backup.reason, "bytes": len(backup.comicinfo)}
        for backup in backups_of(db, real)
    ]
    return report


@click.command("show")
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: AppContext, path: str, as_json: bool) -> None:
    """The file's ComicInfo.xml, its database record and its change history."""
    report = file_report(app, path)
    if as_json:
        echo_json(report)
        return
    click.echo(report["file"] + ("" if report["exists"] else "  (not on disk any more)"))
    click.echo("ComicInfo.xml:")
    if report.get("comicinfo_problem"):
        click.echo(f"  cannot be read faithfully: {report['comicinfo_problem']}")
    elif report["comicinfo"]:
        for name, value in report["comicinfo"].items():
            click.echo(f"  {name:<16} {value}")
    else:
        click.echo("  (none)")
    click.echo("record:")
    if report["record"]:
        for name, value in report["record"].items():
            if value not in (None, ""):
                click.echo(f"  {label(name):<16} {value}")
    else:
        click.echo("  (never processed)")
    click.echo("history:")
    for row in report["history"]:
        change = f"{label(row['field'])}: {value_text(row['old_value'])} -> {value_text(row['new_value'])}"
        click.echo(f"  {row['timestamp']}  {row['source']:<6} {change}")
    if not report["history"]:
        click.echo("  (none)")
    for entry in report["review"]:
        click.echo(
            f"review entry {entry['id']}: {entry['status']}"
            + (f" (album {entry['chosen_album_id']})" if entry["chosen_album_id"] else "")
        )
    if report["comicinfo_backups"]:
        click.echo(f"earlier ComicInfo.xml versions kept: {len(report['comicinfo_backups'])}")
