"""``bdnex-core sessions list|info``."""

from __future__ import annotations

import time

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.results import show_session_files
from bdnex_core.cli.text import elide_left, terminal_width
from bdnex_core.errors import BdnexError
from bdnex_core.states import SessionStatus


@click.group("sessions")
def sessions_group() -> None:
    """Processing sessions (every tagging run is one)."""


@sessions_group.command("list")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one array).")
@pass_app
def list_sessions(app: AppContext, limit: int, as_json: bool) -> None:
    """List sessions, newest first; interrupted ones can be resumed with `tag --resume ID`."""
    sessions = app.db.sessions.recent(limit=limit)
    for session in sessions:  # a dry run changed nothing: never mistaken for a run that did
        session["dry_run"] = bool((session.get("options") or {}).get("dry_run"))
    if as_json:
        echo_json(sessions)
        return
    if not sessions:
        click.echo("No sessions yet.")
        return
    print_session_table(sessions)


def short_time(stamp: object, year: str) -> str:
    """``2026-12-07 13:40:26`` as ``12-07 13:40`` in the current year, else ``2025-12-07``."""
    text = str(stamp or "")
    if len(text) < 16:
        return text
    return text[5:16] if text.startswith(year) else text[:10]


def print_session_table(sessions: list[dict]) -> None:
    """The sessions in the terminal's width: status words whole, short dates, the folder elided from the
    left (its end says most), or on a line of its own under its row when too little room is left;
    --json has every column whole."""
    year = time.strftime("%Y", time.gmtime())
    headers = ("id", "started", "status", "files", "tagged", "waiting", "failed", "folder")
    right = {0, 3, 4, 5, 6}
    rows = []
    for session in sessions:
        status = session["display_status"]
        if session["dry_run"]:  # a dry run changed nothing: never mistaken for a run that did
            status = "dry run" if status == SessionStatus.COMPLETED else f"{status}, dry run"
        rows.append(
            [
                str(session["id"]),
                short_time(session["session_start"], year),
                status,
                str(session["total_files"]),
                str(session["files_successful"]),
                str(session["files_waiting"] or 0),
                str(session["files_failed"]),
                str(session["directory"]),
            ]
        )
    widths = [max(len(header), *(len(row[at]) for row in rows)) for at, header in enumerate(headers[:-1])]
    width = terminal_width()
    room = width - sum(widths) - 2 * len(widths)
    beside = room >= 16  # else each folder on a line of its own

    def line(cells: list[str]) -> str:
        parts = [cell.rjust(widths[at]) if at in right else cell.ljust(widths[at]) for at, cell in enumerate(cells)]
        return "  ".join(parts)

    click.echo(line(list(headers[:-1])) + ("  folder" if beside else ""))
    for row in rows:
        if beside:
            click.echo(line(row[:-1]) + "  " + elide_left(row[-1], room))
        else:
            click.echo(line(row[:-1]).rstrip())
            click.echo("    " + elide_left(row[-1], width - 4))


def show_session(app: AppContext, session_id: int, as_json: bool) -> None:
    stats = app.db.sessions.stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    stats["workers"] = [worker.to_dict() for worker in app.db.sessions.workers(session_id)]
    if as_json:
        echo_json(stats)
        return
    duration = stats["duration_seconds"]
    click.echo(f"session {stats['id']}: {stats['display_status']}")
    click.echo(f"  directory: {stats['directory']}")
    click.echo(f"  started:   {stats['session_start']}   ended: {stats['session_end'] or '-'}")
    click.echo(f"  duration:  {duration:.1f} s" if duration is not None else "  duration:  -")
    click.echo(
        f"  files: {stats['total_files']} total, {stats['files_successful']} tagged, {stats['files_failed']} failed, "
        f"{stats['files_skipped']} skipped, {stats['files_waiting'] or 0} waiting for review, {stats['remaining']} left"
    )
    for worker in stats["workers"]:
        click.echo(
            f"  worker pid {worker['pid']} on {worker['host']}: {worker['files_done']} files done, "
            f"{worker['in_flight']} in flight, last heard of {worker['last_heartbeat'] or '-'}"
            f"{' (running)' if worker['running'] else ''}"
        )
    for failure in stats["failures"]:
        click.echo(f"  failed: {failure['file_path']}: {failure['error']}")
    if stats["remaining"] and stats["display_status"] in ("interrupted", SessionStatus.PAUSED):
        click.echo(f"  resume with: {app.follow_up('tag', '--resume', str(stats['id']))}")


@sessions_group.command("info")
@click.argument("session_id", type=int)
@click.option("--files", "per_file", is_flag=True, help="Every file: album, score, decision, state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def info(app: AppContext, session_id: int, per_file: bool, as_json: bool) -> None:
    """Counts, duration, workers and failures (with reasons) of one session; with --files, each file's result."""
    if per_file:
        show_session_files(app, session_id, as_json)
        return
    show_session(app, session_id, as_json)
