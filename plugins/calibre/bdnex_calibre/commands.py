"""The ``calibre`` commands (``sync``, ``album``, ``identify``, ``build-plugin``): imported when one of them runs, so
that loading the plugin (every ``bdnex-core`` command does) never imports calibredb's wrappers or the writer."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bdnex_core.api import AppContext, pass_app


@click.group()
def calibre() -> None:
    """calibre libraries: tag them, and build the calibre metadata-source plugin."""


@calibre.command()
@click.option(
    "--library",
    "location",
    required=True,
    metavar="PATH|URL",
    help="A local library folder, or a content server: 'http://host:port#library_id'.",
)
@click.option("--dry-run", is_flag=True, help="Match and show what would change; write nothing.")
@click.option(
    "--create-columns",
    is_flag=True,
    help="Create #scenario, #dessin, #couleurs, #bdgest_id, #depot_legal and fill them for every "
    "tagged book (local libraries).",
)
@click.option("--workers", type=int, default=None, help="Parallel workers (default: pipeline.workers).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def sync(
    app: AppContext, location: str, dry_run: bool, create_columns: bool, workers: int | None, as_json: bool
) -> None:
    """Tag the comics (CBZ/CBR) of a calibre library and write the metadata back into calibre."""
    from bdnex_calibre import calibredb
    from bdnex_calibre.writeback import backfill_custom_columns, create_custom_columns, items_from_library
    from bdnex_core.api import TagOptions, report_tagging, run_tagging
    from bdnex_core.errors import BdnexError

    settings = app.settings
    library = calibredb.library_from_settings(location, settings.section("calibre"))
    calibredb.check_library(library)
    if create_columns and not dry_run:
        created = create_custom_columns(library)
        if created and not as_json:
            click.echo(f"created custom columns: {', '.join('#' + name for name in created)}", err=True)
    with tempfile.TemporaryDirectory(prefix="bdnex-calibre-") as work:
        items = list(items_from_library(library, Path(work)))
        if not items:
            raise BdnexError(f"{location}: no CBZ/CBR books in this calibre library")
        options = TagOptions(
            workers=workers or settings.pipeline.workers,
            dry_run=dry_run,
            interactive=False,
            source="calibre",
            locations=(location,),
        )
        summary = run_tagging(settings, app.db, items, options)
    if create_columns and not dry_run:
        filled = backfill_custom_columns(library)  # books tagged earlier too, not only this run's
        if filled and not as_json:
            click.echo(f"custom columns filled for {filled} book(s)", err=True)
    report_tagging(summary, dry_run=dry_run, as_json=as_json)
    raise SystemExit(summary.exit_code)


@calibre.command("album")
@click.argument("album_id", type=int)
@pass_app
def album_command(app: AppContext, album_id: int) -> None:
    """One album as JSON for the calibre metadata source (what `calibre sync` would write)."""
    from bdnex_calibre.source_record import calibre_record
    from bdnex_core.api import echo_json, fetch_album

    album = fetch_album(app.settings, app.db, album_id)
    echo_json(calibre_record(album, app.settings.catalogue.base_url))


@calibre.command("identify")
@click.option("--title", required=True, help="The title calibre knows (often a file name's words).")
@click.option("--author", "authors", multiple=True, help="An author calibre knows (repeatable).")
@click.option("--limit", type=int, default=5, show_default=True, help="Candidates to consider.")
@pass_app
def identify_command(app: AppContext, title: str, authors: tuple[str, ...], limit: int) -> None:
    """The albums a calibre lookup may apply, as JSON: `accept` (what bdnex-core would accept) or `weak`."""
    from bdnex_calibre.identify import could_be_accepted, rank
    from bdnex_calibre.source_record import calibre_record
    from bdnex_core.api import echo_json, fetch_album, match_name

    match = match_name(app.settings, app.db, title)
    match["candidates"] = match["candidates"][: max(limit, 1)]
    records = {
        candidate["album_id"]: calibre_record(
            fetch_album(app.settings, app.db, candidate["album_id"]), app.settings.catalogue.base_url
        )
        for candidate in match["candidates"]
        if could_be_accepted(candidate, match["accept_threshold"])
    }
    echo_json({"title": title, "authors": list(authors), "results": rank(match, records, authors)})


@calibre.command("build-plugin")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The plugin zip to write (install with: calibre-customize -a FILE.zip).",
)
def build_plugin_command(output: Path) -> None:
    """Build the calibre metadata-source plugin "Bédéthèque (bdnex)"."""
    from bdnex_calibre.build import build_plugin

    build_plugin(output)
    click.echo(f"{output}\ninstall it with: calibre-customize -a {output}")
