"""``bdnex-core catalogue update|stats``: the local index of Bédéthèque's sitemaps."""

from __future__ import annotations

from pathlib import Path

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app


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
    from bdnex_core.bedetheque.catalogue import Catalogue

    catalogue = Catalogue(app.db)
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    if files or more_files:
        report = catalogue.import_files([*files, *more_files], settings=app.settings, announce=say)
    else:
        from bdnex_core.bedetheque.client import BedethequeClient

        report = catalogue.update_online(BedethequeClient(app.settings, database=app.db), force=force)
    index = catalogue.update_index(app.settings, announce=say)
    if as_json:
        echo_json({**report.as_dict(), "albums_in_index": catalogue.count(), "index_file": index})
        return
    for name in report.fetched:
        click.echo(f"updated from {name}")
    if report.unchanged:
        click.echo(f"{len(report.unchanged)} sitemap(s) unchanged")
    click.echo(f"{catalogue.count()} albums in the index")


@catalogue_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def stats(app: AppContext, as_json: bool) -> None:
    """How many albums and series the index holds, and from which sitemaps."""
    from bdnex_core.bedetheque.catalogue import Catalogue

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
