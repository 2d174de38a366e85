"""Per-file results of a tagging run as a person reads them (``tag -v``, dry runs, ``tag --id``).

After a run of hundreds of files, the question is "which file became which album, and why":
one line per file answers it, and a dry run shows, under each file's header, what would change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console

from bdnex_core.cli.context import AppContext, echo_json


def file_line(row: dict[str, Any]) -> str:
    """``file -> album 245127 Nains #1 Redwin de la Forge  score 0.93  accept  (done)``."""
    if row.get("album_id") is not None:
        what = f"album {row['album_id']} {row.get('series') or ''}"
        if row.get("tome"):
            what += f" #{row['tome']}"
        if row.get("title"):
            what += f" {row['title']}"
    else:
        what = "no album"
    score = row.get("confidence")
    line = f"{row['file']} -> {what.strip()}"
    line += f"  score {score:.2f}" if isinstance(score, int | float) else ""
    line += f"  {row.get('decision') or '-'}  ({row['state']})"
    if row.get("reason") and row["state"] != "done":
        line += f": {row['reason']}"
    if row.get("cover"):
        line += f"\n  {row['cover']}"
    return line


def print_file_lines(console: Console, outcomes: Iterable[Any], *, dry_run: bool) -> None:
    for outcome in outcomes:
        row = outcome.summary_row()
        console.print(file_line(row), highlight=False, markup=False)
        if dry_run and outcome.changes:
            console.print("  would change:", highlight=False)
            for name, (old, new) in outcome.changes.items():
                console.print(f"    {name}: {old!r} -> {new!r}", highlight=False, markup=False)


def summary_dict(summary: Any, *, dry_run: bool) -> dict[str, Any]:
    """The run's JSON: its counts, whether it was a dry run, and every file with its field diff."""
    data = summary.to_dict()
    data["dry_run"] = dry_run
    data["files"] = [outcome.summary_row() for outcome in summary.outcomes]
    return data


def correct_one_file(
    app: AppContext, paths: tuple[str, ...], album: str, *, dry_run: bool, as_json: bool, rename: bool = False
) -> None:
    """``tag FILE --id ID|URL``: the album a person names, written (or, dry, only shown) with its diff;
    with ``rename`` the file then moves to organize.template, as ``tag --rename`` moves a run's files."""
    from bdnex_core.pipeline.review_service import _written_path, album_id_of, correct_file

    if len(paths) != 1:
        raise click.UsageError("--id tags exactly one FILE")
    album_id = album_id_of(album if not album.isdigit() else f"id {album}")
    if album_id is None:
        raise click.UsageError(f"--id: {album!r} is neither an album id nor a Bédéthèque album URL")
    outcome = correct_file(app.settings, app.db, paths[0], album_id, dry_run=dry_run)
    row = outcome.summary_row()
    # the album's other editions, for a person who named one edition and may want another
    editions = [(edition.album_id, edition.label) for edition in outcome.album.editions] if outcome.album else []
    row["editions"] = [{"album_id": album_id, "label": label} for album_id, label in editions]
    moves = []
    if rename and not dry_run and outcome.state == "done":
        from bdnex_core.cli.library_cmd import rename_recorded

        moves = rename_recorded(app, (_written_path(outcome, paths[0]),), None, None, None, dry_run)
    if as_json:
        echo_json({"dry_run": dry_run, "files": [row], **({"renamed": [m.as_dict() for m in moves]} if rename else {})})
    else:
        click.echo(
            ("would tag " if dry_run else "tagged ") + file_line(row) if outcome.state == "done" else file_line(row)
        )
        for name, (old, new) in outcome.changes.items():
            click.echo(f"    {name}: {old!r} -> {new!r}")
        if not outcome.changes and outcome.state == "done":
            click.echo("    nothing changes")
        if len(editions) > 1:
            click.echo(f"  {len(editions)} editions of this album (tag --id ID for another):")
            for edition_id, label in editions:
                click.echo(f"    {edition_id}  {label}" + ("  (this one)" if edition_id == album_id else ""))
        if rename and not dry_run:
            from bdnex_core.cli.library_cmd import print_moves

            print_moves(moves, dry_run=dry_run)
    raise SystemExit(0 if outcome.state == "done" and not any(move.failed for move in moves) else 1)


def session_file_rows(db: Any, session_id: int) -> list[dict[str, Any]]:
    """Each file of a session, in order, with the album it got (from its record), its score and decision."""
    return db.sessions.file_results(session_id)


def show_session_files(app: AppContext, session_id: int, as_json: bool) -> None:
    from bdnex_core.errors import BdnexError

    if app.db.get_session(session_id) is None:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    rows = session_file_rows(app.db, session_id)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(file_line(row))
