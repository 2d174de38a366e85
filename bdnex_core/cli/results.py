"""Per-file results of a tagging run as a person reads them (``tag -v``, dry runs, ``tag --id``).

After a run of hundreds of files, the question is "which file became which album, and why":
one line per file answers it, and a dry run shows, under each file's header, what would change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console

from bdnex_core.cli.context import AppContext, echo_json
from bdnex_core.errors import BdnexError
from bdnex_core.states import ALREADY_PROCESSED, OutcomeState

# what a file's state says to a person, after a run and after a dry run ("would")
STATE_WORDS = {
    "done": ("tagged", "would tag"),
    "waiting": ("waiting for review", "would wait for review"),
    "skipped": ("left as is", "would leave as is"),
    "failed": ("failed", "would fail"),
    "pending": ("not done yet", "not done yet"),
}


def state_words(row: dict[str, Any], *, dry_run: bool = False) -> str:
    """``tagged``, ``unchanged`` (tagged again, identical), ``would tag``..."""
    state = str(row["state"])
    if state == "done" and "changed" in row and not row["changed"]:
        return "would stay unchanged" if dry_run else "unchanged"
    said = STATE_WORDS.get(state)
    return said[1 if dry_run else 0] if said else state


def shown(value: Any) -> str:
    """A field's value in a diff: ``(none)`` for nothing, text quoted, numbers as they are."""
    if value is None or value == "":
        return "(none)"
    return repr(value) if isinstance(value, str) else str(value)


def change_line(name: str, old: Any, new: Any) -> str:
    return f"{name}: {shown(old)} -> {shown(new)}"


def result_counts(summary: Any, *, dry_run: bool) -> list[tuple[str, int]]:
    """The rows of a run's table: files tagged, unchanged (tagged again identically, or processed before and
    unchanged since), waiting for review, left as is, failed; a dry run says what it would do."""
    done = [outcome for outcome in summary.outcomes if outcome.state == OutcomeState.DONE]
    identical = sum(1 for outcome in done if not outcome.changed)
    seen_before = summary.unchanged + sum(
        1 for o in summary.outcomes if o.state == OutcomeState.SKIPPED and o.reason == ALREADY_PROCESSED
    )
    rows = [
        ("would tag" if dry_run else "tagged", len(done) - identical),
        ("would stay unchanged" if dry_run else "unchanged", identical + seen_before),
        ("would wait for review" if dry_run else "waiting for review", summary.count(OutcomeState.WAITING)),
        ("would leave as is" if dry_run else "left as is", summary.count(OutcomeState.SKIPPED) - seen_before),
        ("failed", summary.count(OutcomeState.FAILED)),
    ]
    return rows


def file_line(row: dict[str, Any], *, dry_run: bool = False) -> str:
    """``file -> album 245127 Nains #1 Redwin de la Forge  score 0.93  accept: tagged``."""
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
    line += f"  {row.get('decision') or '-'}: {state_words(row, dry_run=dry_run)}"
    if row.get("reason") and row["state"] != "done":
        line += f": {row['reason']}"
    if row.get("cover"):
        line += f"\n  {row['cover']}"
    return line


def print_file_lines(console: Console, outcomes: Iterable[Any], *, dry_run: bool) -> None:
    for outcome in outcomes:
        row = outcome.summary_row()
        console.print(file_line(row, dry_run=dry_run), highlight=False, markup=False)
        if dry_run and outcome.changes:
            console.print("  would change:", highlight=False)
            for name, (old, new) in outcome.changes.items():
                console.print(f"    {change_line(name, old, new)}", highlight=False, markup=False)


def echo_summary_json(summary: Any, *, dry_run: bool, extra: dict[str, Any] | None = None) -> None:
    """The run's JSON on stdout: its counts, whether it was a dry run, and every file with its field diff,
    written a file at a time (the JSON of 100,000 files is never held in memory whole)."""
    head = {**summary.to_dict(), "dry_run": dry_run, **(extra or {})}
    text = json.dumps(head, ensure_ascii=False, default=str)
    click.echo(text[:-1] + ', "files": [', nl=False)
    for number, outcome in enumerate(summary.outcomes):
        click.echo(
            ("" if number == 0 else ", ") + json.dumps(outcome.summary_row(), ensure_ascii=False, default=str), nl=False
        )
    click.echo("]}")


def session_file_rows(db: Any, session_id: int) -> list[dict[str, Any]]:
    """Each file of a session, in order, with the album it got (from its record), its score and decision."""
    return db.sessions.file_results(session_id)


def show_session_files(app: AppContext, session_id: int, as_json: bool) -> None:
    if app.db.sessions.get(session_id) is None:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    rows = session_file_rows(app.db, session_id)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(file_line(row))
