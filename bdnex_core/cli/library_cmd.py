"""``bdnex-core ls``, ``missing`` and ``rename``: ask about the library and organise it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bdnex_core.app.organize import DEFAULT_TEMPLATE, Collision, MoveJournal, rename_files
from bdnex_core.app.query import count_files, format_file, list_files, missing_tomes
from bdnex_core.app.undo import undo_file, undo_session
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.text import elide_left, terminal_width
from bdnex_core.errors import BdnexError
from bdnex_core.matching.normalize import readable_tome

DEFAULT_LS_FORMAT = "{path}"


@click.command("ls")
@click.argument("query", nargs=-1)
@click.option(
    "-f",
    "--format",
    "line_format",
    default=None,
    metavar="FORMAT",
    help="One line per file, e.g. '{series} T{tome} - {title} ({year})'. Fields: path, series, tome, title, "
    "publisher, year, isbn, album_id, status, decision, confidence_score, source, session_id.",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many files.")
@click.option("--count", "only_count", is_flag=True, help="Print only how many files match.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the matching files' records.")
@pass_app
def ls(
    app: AppContext, query: tuple[str, ...], line_format: str | None, limit: int | None, only_count: bool, as_json: bool
) -> None:
    """List the processed files matching QUERY (all terms must hold).

    \b
    Terms: series:nains  title:forge  publisher:soleil  path:BD/Nains
           year:2010..2015  year:2012  id:245127  score:..0.8  session:3
           status:success|manual|skipped|failed  decision:accept|review|none|manual
           any other word: in the series, title or path (accents and case ignored)
    """
    if only_count:
        count = count_files(app.db, query)
        echo_json({"count": count}) if as_json else click.echo(count)
        return
    rows = list_files(app.db, query, limit=limit)
    if as_json:
        echo_json(rows)
        return
    template = line_format or DEFAULT_LS_FORMAT
    for row in rows:
        click.echo(format_file(row, template))


@click.command("missing")
@click.argument("series", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per series with owned and missing tomes.")
@pass_app
def missing(app: AppContext, series: tuple[str, ...], as_json: bool) -> None:
    """For each series of the library (or those matching SERIES), the tomes it lacks: those its series
    page lists when one was read (the whole series), else those the catalogue index lists."""
    gaps = missing_tomes(app.db, series)
    if as_json:
        echo_json([gap.as_dict() for gap in gaps])
        return
    if not gaps and series:
        known = len(missing_tomes(app.db))
        click.echo(
            f"No tagged series matches {' '.join(series)!r}"
            + (f" ({known} series known: {app.follow_up('missing')} lists them)." if known else ".")
        )
        return
    if not gaps:
        click.echo("No tagged series known to the catalogue index (run `bdnex-core catalogue update`, then `tag`).")
        return
    for gap in gaps:
        owned = ", ".join(readable_tome(album["tome"]) or "one-shot" for album in gap.owned)
        if not gap.missing:
            click.echo(f"{gap.series}: complete ({owned})")
            continue
        click.echo(f"{gap.series}: have {owned}; missing {len(gap.missing)}:")
        width = max(len(readable_tome(album["tome"]) or "-") for album in gap.missing)
        for album in gap.missing:
            tome = (readable_tome(album["tome"]) or "-").rjust(width)
            click.echo(f"  {tome}  {title_words(album['title'])}  (album {album['album_id']})")
    missing_count = sum(len(gap.missing) for gap in gaps)
    complete = sum(1 for gap in gaps if not gap.missing)
    click.echo(
        f"{missing_count} tome{'s' if missing_count != 1 else ''} missing in {len(gaps) - complete} of "
        f"{len(gaps)} series ({complete} complete)"
    )


def title_words(title: str | None) -> str:
    """An album's title as a person reads it: the catalogue index only knows its URL's slug
    ('Ordo-du-Talion'), whose hyphens were spaces; a series page's title is shown as it is."""
    if not title:
        return ""
    return title.replace("-", " ") if " " not in title else title


@click.command("rename")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--session", "session_id", type=int, metavar="ID", help="The files tagged in session ID.")
@click.option(
    "--template",
    default=None,
    metavar="T",
    help="New path relative to the library folder (default: organize.template, "
    "'{series}/{series} - T{tome:02} - {title}'). Fields: series, tome, title, year, publisher, authors, isbn, album_id.",
)
@click.option(
    "--on-collision",
    type=click.Choice(["suffix", "refuse"]),
    default=None,
    help="When the new name is taken: add ' (2)', or leave the file (default: organize.on_collision).",
)
@click.option("--dry-run", is_flag=True, help="Print where each file would go; move nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per file.")
@pass_app
def rename(
    app: AppContext,
    paths: tuple[str, ...],
    session_id: int | None,
    template: str | None,
    on_collision: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Move tagged files under PATH... (folders or files) to a path built from their metadata."""
    results = rename_recorded(app, paths, session_id, template, on_collision, dry_run)
    if as_json:
        echo_json([result.as_dict() for result in results])
    else:
        print_moves(results, dry_run=dry_run)
    raise SystemExit(1 if any(result.failed for result in results) else 0)


def rename_recorded(
    app: AppContext,
    paths: tuple[str, ...],
    session_id: int | None,
    template: str | None,
    on_collision: str | None,
    dry_run: bool,
) -> list:
    db = app.db
    configured = app.settings.section("organize")
    finished = [] if dry_run else MoveJournal(db).finish_interrupted()
    if session_id is not None:
        if paths:
            raise click.UsageError("give PATH... or --session ID, not both")
        session = db.sessions.get(session_id)
        if session is None:
            raise BdnexError(f"no session {session_id} (see `bdnex-core sessions list`)")
        rows = db.files.page(session_id=session_id, limit=10**9)
        locations = session["options"].get("locations") or [session["directory"]]
    elif paths:
        locations = list(paths)
        rows = []
        for location in paths:
            rows.extend(_rows_under(db, location))
    else:
        raise click.UsageError("give at least one PATH, or --session ID")
    roots = [Path(os.path.realpath(location)) for location in locations]
    roots = [root.parent if root.is_file() else root for root in roots]
    return finished + rename_files(
        db,
        rows,
        roots,
        template=template or configured.get("template") or DEFAULT_TEMPLATE,
        collision=Collision(on_collision or configured.get("on_collision") or Collision.SUFFIX),
        dry_run=dry_run,
    )


def _rows_under(db, location: str) -> list[dict]:
    real = os.path.realpath(location)
    if os.path.isfile(real):
        row = db.files.get(real)
        return [row] if row else []
    return db.library.files_under(real.rstrip(os.sep))


def print_moves(results: list, *, dry_run: bool) -> None:
    """One line per move, its paths relative to the folder both are in (said once, as a heading), and
    elided from the left when the line would not fit the terminal (--json has the whole paths)."""
    width = terminal_width()
    moved, heading = 0, None
    for result in results:
        if result.target is not None and (result.moved or dry_run) and result.message != "already at its place":
            source, target = str(result.source), str(result.target)
            folder = os.path.commonpath([os.path.dirname(source), os.path.dirname(target)])
            if folder != heading:
                heading = folder
                click.echo(f"in {elide_left(folder, width - 4)}:")
            verb = "would move" if dry_run else "moved"
            note = f" ({result.message})" if result.message and result.message != "dry run" else ""
            before, after = os.path.relpath(source, folder), os.path.relpath(target, folder)
            room = width - len(f"  {verb}:  -> {note}")
            if len(before) + len(after) > room:
                before = elide_left(before, max(20, room // 2))
                after = elide_left(after, max(20, room - len(before)))
            click.echo(f"  {verb}: {before} -> {after}{note}")
            moved += 1
        elif result.message and result.message != "already at its place":
            click.echo(f"{result.source}: {result.message}", err=True)
    click.echo(f"{moved} file(s) {'would be moved' if dry_run else 'moved'}", err=True)


@click.command("undo")
@click.argument("target", metavar="SESSION|FILE")
@click.option("--dry-run", is_flag=True, help="Say what would be restored; change nothing.")
@click.option("--force", is_flag=True, help="Restore files changed since by another program or a later session.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per file.")
@pass_app
def undo(app: AppContext, target: str, dry_run: bool, force: bool, as_json: bool) -> None:
    """Give the files a session changed (or one FILE) back the ComicInfo and the name they had
    before, byte for byte. Files changed since by someone else are left alone unless --force."""
    if target.isdigit() and not os.path.exists(target):
        results = undo_session(app.settings, app.db, int(target), dry_run=dry_run, force=force)
    else:
        results = [undo_file(app.settings, app.db, target, dry_run=dry_run, force=force)]
    if as_json:
        echo_json([result.as_dict() for result in results])
    else:
        for result in results:
            where = f" -> {result.restored_to}" if result.restored_to and result.restored_to != result.file else ""
            stream_is_error = result.failed
            click.echo(f"{result.file}{where}: {result.message}", err=stream_is_error)
        # a dry run restores nothing: count what it would restore, as its lines say
        done = sum(result.restored or (dry_run and not result.failed) for result in results)
        click.echo(f"{done} file(s) {'would be ' if dry_run else ''}restored", err=True)
    raise SystemExit(1 if any(result.failed for result in results) else 0)
