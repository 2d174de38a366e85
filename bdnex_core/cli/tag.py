"""``bdnex-core tag PATH...``: the main job."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from rich.console import Console
from rich.table import Table

from bdnex_core.app.review import ReviewService, _written_path, album_id_of, correct_file
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.library_cmd import print_moves, rename_recorded
from bdnex_core.cli.results import change_line, echo_summary_json, file_line, print_file_lines, result_counts
from bdnex_core.cli.review_prompt import terminal_reviewer
from bdnex_core.cli.sessions import list_sessions as list_command
from bdnex_core.cli.sessions import show_session
from bdnex_core.pipeline import TagOptions, resume_tagging, tag_locations
from bdnex_core.pipeline.progress import ProgressDisplay
from bdnex_core.states import Decision, OutcomeState


@click.command("tag")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Parallel workers (default: pipeline.workers)."
)
@click.option("--dry-run", is_flag=True, help="Change nothing; print what would change, field by field.")
@click.option("--force", is_flag=True, help="Process files again even when already processed and unchanged.")
@click.option("--skip-processed", is_flag=True, help="Skip files already processed and unchanged (the default).")
@click.option("--strict", is_flag=True, help="Never write below the accept threshold (no prompt either).")
@click.option(
    "--interactive/--batch",
    default=None,
    help="Ask about uncertain matches (default on a terminal), or queue them for `review`.",
)
@click.option(
    "--resume", "resume_id", type=int, metavar="ID", help="Resume session ID: exactly its files not done yet."
)
@click.option("--list-sessions", is_flag=True, help="Same as `bdnex-core sessions list`.")
@click.option("--session-info", "session_info", type=int, metavar="ID", help="Same as `bdnex-core sessions info ID`.")
@click.option("--source", default="folder", show_default=True, help="Library source (folder, or one a plugin adds).")
@click.option(
    "--pattern",
    "patterns",
    multiple=True,
    metavar="GLOB",
    help="Only files whose name matches GLOB (repeatable; e.g. '*T01*'); recorded with the session.",
)
@click.option(
    "--id", "album", metavar="ID|URL", help="Tag the one FILE given with this Bédéthèque album (a correction)."
)
@click.option(
    "--timid", "--ask-always", "timid", is_flag=True, help="Ask about every file, even above the accept threshold."
)
@click.option("-v", "--verbose", "verbose", count=True, help="One line per file: album, score, decision.")
@click.option(
    "--rename", "rename_after", is_flag=True, help="Then move the tagged files to organize.template (see `rename`)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def tag(
    app: AppContext,
    paths: tuple[str, ...],
    workers: int | None,
    dry_run: bool,
    force: bool,
    skip_processed: bool,
    strict: bool,
    interactive: bool | None,
    resume_id: int | None,
    list_sessions: bool,
    session_info: int | None,
    source: str,
    patterns: tuple[str, ...],
    album: str | None,
    timid: bool,
    verbose: int,
    rename_after: bool,
    as_json: bool,
) -> None:
    """Find comics under PATH..., match them on Bédéthèque, write ComicInfo.xml, record everything."""
    if list_sessions:
        click.get_current_context().invoke(list_command, as_json=as_json)
        return
    if session_info is not None:
        show_session(app, session_info, as_json)
        return
    if force and skip_processed:
        raise click.UsageError("--force and --skip-processed contradict each other")
    if album is not None:
        correct_one_file(app, paths, album, dry_run=dry_run, as_json=as_json, rename=rename_after)
        return
    if interactive is None:
        interactive = (sys.stdin.isatty() or timid) and not as_json
    settings, db = app.settings, app.db
    progress = None if as_json else ProgressDisplay.for_terminal(app.quiet)
    reviewer = (
        terminal_reviewer(lambda: ReviewService(settings, db), review_command=app.follow_up("review"))
        if interactive
        else None
    )
    if resume_id is not None:
        if paths:
            raise click.UsageError("--resume takes no PATH: the session knows its files")
        overrides = {"workers": workers, "interactive": interactive, "strict": strict or None}
        summary = resume_tagging(settings, db, resume_id, overrides=overrides, reviewer=reviewer, progress=progress)
    else:
        if not paths:
            raise click.UsageError("give at least one PATH (or --resume ID)")
        for session in db.sessions.interrupted():
            click.echo(
                f"note: session {session['id']} was interrupted; resume it with: "
                + app.follow_up("tag", "--resume", str(session["id"])),
                err=True,
            )
        options = TagOptions(
            workers=workers or settings.pipeline.workers,
            dry_run=dry_run,
            force=force,
            strict=strict,
            interactive=interactive,
            timid=timid,
            source=source,
            locations=tuple(paths),
            patterns=patterns,
        )
        summary = tag_locations(settings, db, options, reviewer=reviewer, progress=progress)
    if (
        summary.count(OutcomeState.WAITING) and not dry_run
    ):  # one entry per file, even for a file moved since it was queued
        for notice in ReviewService(settings, db).prune():
            click.echo(notice, err=True)
    verbose = verbose + click.get_current_context().find_root().params.get("verbose", 0)
    moves = []
    if rename_after and not dry_run and summary.session_id is not None and summary.status == "completed":
        moves = rename_recorded(app, (), summary.session_id, None, None, dry_run)
    if as_json:
        echo_summary_json(
            summary, dry_run=dry_run, extra={"renamed": [m.as_dict() for m in moves]} if rename_after else None
        )
        echo_database_stop(summary, app.follow_up)
    else:
        print_summary(summary, follow_up=app.follow_up, dry_run=dry_run, per_file=verbose > 0)
        if rename_after:
            print_moves(moves, dry_run=dry_run)
    raise SystemExit(summary.exit_code or (1 if any(move.failed for move in moves) else 0))


def print_summary(summary, *, follow_up: Callable[..., str], dry_run: bool = False, per_file: bool = False) -> None:
    """The run's table and what to do next; ``follow_up(*args)`` spells a bdnex-core command to run."""
    console = Console(soft_wrap=True)
    if dry_run or per_file:
        print_file_lines(console, summary.outcomes, dry_run=dry_run)
    table = Table(title=f"session {summary.session_id}: {summary.status}" + (" (dry run)" if dry_run else ""))
    table.add_column("result")
    table.add_column("files", justify="right")
    for label, count in result_counts(summary, dry_run=dry_run):
        table.add_row(label, str(count))
    console.print(table)
    for outcome in summary.outcomes:
        if outcome.state == OutcomeState.FAILED:
            console.print(f"failed: {outcome.item.path or outcome.item.name}: {outcome.reason}", highlight=False)
        elif outcome.state == OutcomeState.SKIPPED and outcome.decision == Decision.NONE:
            console.print(f"{outcome.item.path or outcome.item.name}: {outcome.reason}", highlight=False)
    if summary.count(OutcomeState.WAITING) and not dry_run:
        console.print(f"uncertain matches wait for you: {follow_up('review')}", highlight=False, markup=False)
    if summary.cover_requests or summary.covers_not_fetched:
        console.print(
            f"covers compared: {summary.cover_requests} cover requests to the site"
            + (f"; {summary.covers_not_fetched}" if summary.covers_not_fetched else ""),
            highlight=False,
            markup=False,
        )
    if summary.pace_notice:
        console.print(summary.pace_notice, highlight=False, markup=False)
    if getattr(summary, "stopped_by_database", False):
        pass  # said as an error, below
    elif summary.resume is not None:  # the command as this user runs bdnex-core, not the log's generic one
        said, args = summary.resume
        console.print(f"{said}: {follow_up(*args)}", highlight=False, markup=False)
    elif summary.message:
        console.print(summary.message, highlight=False)
    for warning in summary.warnings:
        click.echo(warning, err=True)
    echo_database_stop(summary, follow_up)


def echo_database_stop(summary, follow_up: Callable[..., str]) -> None:
    """A run the database stopped ends as the CLI's errors do: one line on stderr, what failed and
    how to go on (the exit code is the database's, 3)."""
    if not getattr(summary, "stopped_by_database", False):
        return
    if summary.resume is not None:
        said, args = summary.resume
        click.echo(f"Error: {said}: {follow_up(*args)}", err=True)
    else:
        click.echo(f"Error: {summary.message}", err=True)


def correct_one_file(
    app: AppContext, paths: tuple[str, ...], album: str, *, dry_run: bool, as_json: bool, rename: bool = False
) -> None:
    """``tag FILE --id ID|URL``: the album a person names, written (or, dry, only shown) with its diff;
    with ``rename`` the file then moves to organize.template, as ``tag --rename`` moves a run's files."""
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
        moves = rename_recorded(app, (_written_path(outcome, paths[0]),), None, None, None, dry_run)
    if as_json:
        echo_json({"dry_run": dry_run, "files": [row], **({"renamed": [m.as_dict() for m in moves]} if rename else {})})
    else:
        click.echo(file_line(row, dry_run=dry_run))
        for name, (old, new) in outcome.changes.items():
            click.echo(f"    {change_line(name, old, new)}")
        if not outcome.changes and outcome.state == "done":
            click.echo("    nothing would change" if dry_run else "    nothing changed")
        if len(editions) > 1:
            click.echo(f"  {len(editions)} editions of this album (tag --id ID for another):")
            for edition_id, label in editions:
                click.echo(f"    {edition_id}  {label}" + ("  (this one)" if edition_id == album_id else ""))
        if rename and not dry_run:
            print_moves(moves, dry_run=dry_run)
    raise SystemExit(0 if outcome.state == "done" and not any(move.failed for move in moves) else 1)
