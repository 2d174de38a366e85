"""``bdnex-core demo``: the main job on a generated library, against a local fake Bédéthèque."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app

DEMO_MARKER = ".bdnex-demo"


def register(cli: click.Group) -> None:
    cli.add_command(demo)


def pick_albums(site, count: int, absent: int, seed: int = 2026):
    """Present albums (in series with several tomes, Nains T1 first when known) and absent ones."""
    from bdnex_core.demo.fakesite import human
    from bdnex_core.demo.samplelib import CatalogueAlbum

    rng = random.Random(seed)
    by_series = {slug: entries for slug, entries in site.catalogue.series.items() if len(entries) >= 3}
    chosen: list[CatalogueAlbum] = []
    if 245127 in site.catalogue.albums:
        entry = site.catalogue.albums[245127]
        chosen.append(CatalogueAlbum(entry.album_id, human(entry.series_slug), entry.tome, human(entry.title_slug)))
    pool = [
        entry
        for entries in by_series.values()
        for entry in entries
        if entry.album_id != 245127 and entry.tome_kind == "regular"
    ]
    for entry in rng.sample(pool, min(count - len(chosen), len(pool))):
        chosen.append(
            CatalogueAlbum(entry.album_id, human(entry.series_slug), entry.tome, human(entry.title_slug) or None)
        )
    missing = []
    for entry in rng.sample(pool, min(absent, len(pool))):
        highest = max((e.tome_number or 0) for e in site.catalogue.series[entry.series_slug])
        missing.append(CatalogueAlbum(0, human(entry.series_slug), str(highest + 7), None))
    return chosen, missing


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bdnex-demo"),
    show_default=True,
    help="Where the sample library, database and logs go.",
)
@click.option(
    "--files", type=click.IntRange(5, 500), default=30, show_default=True, help="How many albums to generate."
)
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def demo(app: AppContext, folder: Path, files: int, workers: int, as_json: bool) -> None:
    """Build a sample library, start a fake Bédéthèque on 127.0.0.1, index it, tag the library."""
    from bdnex_core.bedetheque.catalogue import Catalogue
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.cli.tag import print_summary
    from bdnex_core.config import from_mapping
    from bdnex_core.db import BDneXDB
    from bdnex_core.demo.fakesite import FakeBedetheque
    from bdnex_core.demo.samplelib import build_library
    from bdnex_core.pipeline import TagOptions, tag_locations
    from bdnex_core.pipeline.progress import ProgressDisplay

    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()) and not (folder / DEMO_MARKER).exists():
        raise click.UsageError(f"{folder} exists and is not a demo folder; choose another --dir")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / DEMO_MARKER).write_text("made by bdnex-core demo; safe to delete\n")
    reset_politeness()
    with FakeBedetheque() as site:
        settings = from_mapping(
            {
                "database": {"path": str(folder / "bdnex.db")},
                "cache": {"dir": str(folder / "cache")},
                "pipeline": {"logs_dir": str(folder / "logs"), "workers": workers},
                **site.settings_mapping(min_delay_seconds=0.02, jitter_seconds=0.02),
            }
        )
        db = BDneXDB(settings=settings)
        client = BedethequeClient(settings)
        say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
        say(f"fake Bédéthèque on {site.base_url} ({len(site.catalogue.albums)} albums)")
        report = Catalogue(db).update_online(client)
        say(f"catalogue index: {report.albums} albums from {len(report.fetched)} sitemap(s)")
        present, absent = pick_albums(site, files - 4, 3)
        library = folder / "library"
        samples = build_library(library, present, absent, broken=1)
        say(f"sample library: {len(samples)} files in {library}")
        options = TagOptions(workers=workers, interactive=False, locations=(str(library),))
        progress = None if as_json else ProgressDisplay.for_terminal(app.quiet)
        summary = tag_locations(settings, db, options, client=client, progress=progress)
        db.close()
    if as_json:
        echo_json({**summary.to_dict(), "folder": str(folder)})
    else:
        print_summary(summary)
        click.echo(
            f"\nEverything is in {folder}: try\n"
            f"  bdnex-core --db {folder / 'bdnex.db'} sessions info {summary.session_id}\n"
            f"  bdnex-core --db {folder / 'bdnex.db'} stats\n"
            f"  bdnex-core --db {folder / 'bdnex.db'} review --list"
        )
    raise SystemExit(0 if summary.status == "completed" else summary.exit_code)
