"""``bdnex-core album ID`` (fetch and parse one album) and ``album --html FILE --url URL`` (offline)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.client import BedethequeClient
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.bedetheque.service import fetch_album
from bdnex_core.cli.context import AppContext, echo_json, pass_app


@click.command("album")
@click.argument("album_id", required=False, type=int)
@click.option(
    "--html",
    "html_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Parse this saved page instead of fetching (offline).",
)
@click.option("--url", help="The page's URL (with --html).")
@click.option("--refresh", is_flag=True, help="Fetch again even when cached.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (Album.to_dict()).")
@pass_app
def album(
    app: AppContext, album_id: int | None, html_file: Path | None, url: str | None, refresh: bool, as_json: bool
) -> None:
    """Show one Bédéthèque album, from the cache, the site, or a saved page."""
    if html_file is not None:
        parsed = parse_album_page(html_file.read_bytes(), url or html_file.name)
    elif album_id is not None:
        parsed = fetch_album(BedethequeClient(app.settings, database=app.db), app.db, album_id, force=refresh)
    else:
        raise click.UsageError("give an ALBUM_ID, or --html FILE --url URL")
    if as_json:
        echo_json(parsed.to_dict())
        return
    print_album(parsed)


def print_album(parsed: Album) -> None:
    """A readable summary: heading, a two-column table of the known facts (labelled in English, as the
    rest of the command line; the values are the site's), then the summary."""
    console = Console(highlight=False, soft_wrap=False)
    tome = f" T{parsed.tome}" if parsed.tome else ""
    console.print(
        f"[bold]{escape(parsed.series or '')}{tome} — {escape(parsed.title)}[/bold] (album {parsed.album_id})"
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    rows = (
        ("Writer", ", ".join(parsed.writers)),
        ("Art", ", ".join(parsed.pencillers)),
        ("Colours", ", ".join(parsed.colorists)),
        ("Cover", ", ".join(parsed.cover_artists)),
        ("Lettering", ", ".join(parsed.letterers)),
        ("Translation", ", ".join(parsed.translators)),
        ("Publisher", parsed.publisher),
        ("Collection", parsed.collection),
        ("Published", parsed.release_date or parsed.legal_deposit),
        ("ISBN", parsed.isbn),
        ("Pages", parsed.planches),
        ("Genre", parsed.genre),
        ("Origin", parsed.origin),
        ("Rating", f"{parsed.rating}/5 ({parsed.votes} votes)" if parsed.rating is not None else None),
        ("Editions", ", ".join(str(edition.album_id) for edition in parsed.editions)),
        ("URL", parsed.url),
        ("Cover URL", parsed.cover_url),
    )
    for label, value in rows:
        if value:
            table.add_row(label, escape(str(value)))  # names like "<N&B>" and "[scan]" are text, not markup
    console.print(table)
    if parsed.summary:
        console.print()
        console.print(escape(parsed.summary))
