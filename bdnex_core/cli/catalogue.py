"""``bdnex-core catalogue update|stats``: the local index of Bédéthèque's sitemaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.errors import BlockedError, Unreachable


@click.group("catalogue")
def catalogue_group() -> None:
    """The local catalogue index (album ids, series, tomes, titles from the site's sitemaps)."""


@catalogue_group.command("update")
@click.option(
    "--from-files",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Import saved albums_*_map.xml files instead of going online (repeatable).",
)
@click.argument("more_files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Online: fetch every sitemap even when unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def update(app: AppContext, files: tuple[Path, ...], more_files: tuple[Path, ...], force: bool, as_json: bool) -> None:
    """Update the index: online (only changed sitemaps, conditional requests) or from saved files."""
    catalogue = Catalogue(app.db)
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    if files or more_files:
        report = catalogue.import_files([*files, *more_files], settings=app.settings, announce=say)
    else:
        report = update_online(app, catalogue, force=force, show_progress=not as_json)
    index = catalogue.update_index(app.settings, announce=say)
    if as_json:
        echo_json({**report.as_dict(), "albums_in_index": catalogue.count(), "index_file": index})
        return
    for name in report.fetched:
        click.echo(f"updated from {name}")
    if report.unchanged:
        click.echo(f"{len(report.unchanged)} sitemap(s) unchanged")
    click.echo(f"{catalogue.count()} albums in the index")


def update_online(app: AppContext, catalogue: Any, *, force: bool, show_progress: bool) -> Any:
    """The online update, with a progress bar on a terminal; a site that cannot be reached is said with
    what to check (the network, then what gets past a challenge)."""
    from bdnex_core.bedetheque.client import BedethequeClient  # lazy: requests; an update from files goes offline
    from bdnex_core.pipeline.progress import CatalogueProgress  # lazy: rich; an update from files shows no bar

    host = urlparse(app.settings.catalogue.base_url).netloc
    progress = CatalogueProgress.for_terminal(host, app.quiet) if show_progress else None
    client = BedethequeClient(app.settings, database=app.db)
    try:
        if progress is None:
            return catalogue.update_online(client, force=force)
        with progress:
            return catalogue.update_online(client, force=force, progress=progress)
    except Unreachable as exc:
        if isinstance(exc, BlockedError) or exc.status is not None:  # it answered: its own words say what to do
            raise
        raise type(exc)(
            f"{exc.reason}. Is this machine online, and does {host} open in a browser here? If the site "
            "answers a browser but not bdnex-core (a challenge page), set catalogue.cookies_file (cookies "
            "exported from that browser) or catalogue.flaresolverr_url in the configuration",
            path=exc.path,
            status=exc.status,
            stops_run=exc.stops_run,
            timed_out=exc.timed_out,
        ) from None


@catalogue_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def stats(app: AppContext, as_json: bool) -> None:
    """How many albums and series the index holds, and from which sitemaps."""
    figures = Catalogue(app.db).stats()
    if as_json:
        echo_json(figures)
        return
    click.echo(f"albums: {figures['albums']}  series: {figures['series']}")
    for kind, count in sorted(figures["by_kind"].items()):
        click.echo(f"  {kind}: {count}")
    for sitemap in figures["sitemaps"]:
        click.echo(
            f"  {sitemap['url']}: {sitemap['album_count']} albums (lastmod {sitemap['lastmod'] or '-'}, fetched {sitemap['fetched_at']})"
        )
