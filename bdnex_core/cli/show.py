"""``bdnex-core show FILE``: everything known about one comic file, in one place.

Like ``comictagger -p`` it prints the ComicInfo.xml the file holds now; it adds what only we know:
the database record (album, score, decision, status), the change history with who made each
change, the review entry waiting for it and the ComicInfo versions kept for undo.
"""

from __future__ import annotations

import click

from bdnex_core.app.reports import LABELS, file_report
from bdnex_core.cli.context import AppContext, echo_json, pass_app


def label(name: str) -> str:
    return LABELS.get(name, name)


def value_text(value: object) -> str:
    return "(none)" if value is None or value == "" else str(value)


@click.command("show")
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: AppContext, path: str, as_json: bool) -> None:
    """The file's ComicInfo.xml, its database record and its change history."""
    report = file_report(app.db, path)
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
