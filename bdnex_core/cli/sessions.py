"""``bdnex-core sessions list|info``."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.errors import BdnexError
from bdnex_core.session_workers import session_workers
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
    sessions = app.db.list_sessions(limit=limit)
    for session in sessions:  # a dry run changed nothing: never mistaken for a run that did
        session["dry_run"] = bool((session.get("options") or {}).get("dry_run"))
    if as_json:
        echo_json(sessions)
        return
    if not sessions:
        click.echo("No sessions yet.")
        return
    table = Table("id", "started", "status", "files", "done", "failed", "skipped", "queued", "directory")
    for session in sessions:
        table.add_row(
            str(session["id"]),
            str(session["session_start"]),
            session["display_status"] + (" (dry run)" if session["dry_run"] else ""),
            str(session["total_files"]),
            str(session["files_successful"]),
            str(session["files_failed"]),
            str(session["files_skipped"]),
            str(session["files_queued"] or 0),
            session["directory"],
        )
    Console(soft_wrap=True).print(table)


def show_session(app: AppContext, session_id: int, as_json: bool) -> None:
    stats = app.db.get_session_stats(session_id)
    if not stats:
        raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
    stats["workers"] = session_workers(app.db, session_id)
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
        f"{stats['files_skipped']} skipped, {stats['files_queued'] or 0} queued for review, {stats['remaining']} left"
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
        click.echo(f"  resume with: bdnex-core tag --resume {stats['id']}")


@sessions_group.command("info")
@click.argument("session_id", type=int)
@click.option("--files", "per_file", is_flag=True, help="Every file: album, score, decision, state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def info(app: AppContext, session_id: int, per_file: bool, as_json: bool) -> None:
    """Counts, duration, workers and failures (with reasons) of one session; with --files, each file's result."""
    if per_file:
        from bdnex_core.cli.results import show_session_files

        show_session_files(app, session_id, as_json)
        return
    show_session(app, session_id, as_json)
