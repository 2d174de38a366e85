"""``bdnex-core demo``: the main job on a generated library, against a local fake Bédéthèque.

The demo folder keeps what is needed to go on exploring offline: the database, the logs, the
library and a ``config.yaml`` pointing at the fake site's port; ``demo --serve`` brings the site
back on that port. The closing hints are full commands (this installation's ``bdnex-core``, by its
name when the PATH finds it, else by its path; and ``--config``), so they run verbatim from any folder.
"""

from __future__ import annotations

import random
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import yaml

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.cli.context import AppContext, command_prefix, echo_json, pass_app
from bdnex_core.cli.tag import print_summary
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.fakesite import FakeBedetheque, human
from bdnex_core.demo.samplelib import CatalogueAlbum, build_library
from bdnex_core.pipeline import TagOptions, tag_locations
from bdnex_core.pipeline.progress import CatalogueProgress, ProgressDisplay

if TYPE_CHECKING:
    from bdnex_core.demo.fakesite import FakeBedetheque
    from bdnex_core.demo.samplelib import CatalogueAlbum

DEMO_MARKER = ".bdnex-demo"
CONFIG_NAME = "config.yaml"
DEFAULT_PORT = 8765
NAINS_T1 = 245127  # the album the docs use as their example; in every fake catalogue


def pick_albums(site: FakeBedetheque, count: int, absent: int, seed: int = 2026) -> tuple[list[CatalogueAlbum], ...]:
    """Present albums (in series with several tomes, Nains T1 first when known) and absent ones."""
    rng = random.Random(seed)
    by_series = {slug: entries for slug, entries in site.catalogue.series.items() if len(entries) >= 3}
    chosen: list[CatalogueAlbum] = []
    if NAINS_T1 in site.catalogue.albums:
        entry = site.catalogue.albums[NAINS_T1]
        chosen.append(CatalogueAlbum(entry.album_id, human(entry.series_slug), entry.tome, human(entry.title_slug)))
    pool = [
        entry
        for entries in by_series.values()
        for entry in entries
        if entry.album_id != NAINS_T1 and entry.tome_kind == "regular"
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


@dataclass(frozen=True)
class DemoCommands:
    serve: str  # brings the fake site back
    with_config: str  # bdnex-core with the demo's --config: what every other hint starts with
    hints: list[str]  # every command to try while the site is served (review among them)

    def command(self, *args: str) -> str:
        return " ".join([self.with_config, *(shlex.quote(arg) for arg in args)])


def demo_commands(folder: Path, session_id: int | None, album_id: int) -> DemoCommands:
    """Full command lines for this installation and this demo folder."""
    prefix = command_prefix()
    with_config = f"{prefix} --config {shlex.quote(str(folder / CONFIG_NAME))}"
    hints = [
        f"{with_config} sessions list",
        *([f"{with_config} sessions info {session_id}"] if session_id is not None else []),
        f"{with_config} stats",
        f"{with_config} review --list",
        f"{with_config} review",
        f"{with_config} album {album_id}",
    ]
    return DemoCommands(f"{prefix} demo --serve --dir {shlex.quote(str(folder))}", with_config, hints)


def start_site(port: int) -> FakeBedetheque:
    """The fake site on ``port``, or on a free port when that one is taken."""
    try:
        return FakeBedetheque(port=port).start()
    except OSError:
        if port == 0:
            raise
        return FakeBedetheque(port=0).start()


def demo_mapping(folder: Path, site: FakeBedetheque, workers: int) -> dict[str, Any]:
    """The demo's settings: everything in ``folder``, the catalogue on the local fake site."""
    return {
        "database": {"path": str(folder / "bdnex.db")},
        "cache": {"dir": str(folder / "cache")},
        "pipeline": {"logs_dir": str(folder / "logs"), "workers": workers},
        **site.settings_mapping(min_delay_seconds=0.02, jitter_seconds=0.02),
    }


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bdnex-demo"),
    show_default=True,
    help="Where the sample library, database, logs and config go.",
)
@click.option(
    "--files", type=click.IntRange(5, 500), default=30, show_default=True, help="How many albums to generate."
)
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The fake site's port (a free one if taken); written into DIR/config.yaml.",
)
@click.option("--serve", is_flag=True, help="Only bring back the fake site of an earlier demo in DIR, until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def demo(app: AppContext, folder: Path, files: int, workers: int, port: int, serve: bool, as_json: bool) -> None:
    """Build a sample library, start a fake Bédéthèque on 127.0.0.1, index it, tag the library."""
    folder = folder.resolve()
    if serve:
        serve_again(folder)
        return

    if folder.exists() and any(folder.iterdir()) and not (folder / DEMO_MARKER).exists():
        raise click.UsageError(f"{folder} exists and is not a demo folder; choose another --dir")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / DEMO_MARKER).write_text("made by bdnex-core demo; safe to delete\n")
    reset_politeness()
    site = start_site(port)
    try:
        mapping = demo_mapping(folder, site, workers)
        settings = from_mapping(mapping)
        (folder / CONFIG_NAME).write_text(
            "# bdnex-core demo: the database, logs and cache here, the catalogue on the local fake site\n"
            "# (bring it back with: bdnex-core demo --serve --dir THIS_FOLDER)\n"
            + yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )
        db = BDneXDB(settings=settings)
        client = BedethequeClient(settings)
        say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
        say(f"fake Bédéthèque on {site.base_url} ({len(site.catalogue.albums)} albums)")
        catalogue_bar = None if as_json else CatalogueProgress.for_terminal(urlsplit(site.base_url).netloc, app.quiet)
        if catalogue_bar is None:
            report = Catalogue(db).update_online(client)
        else:
            with catalogue_bar:
                report = Catalogue(db).update_online(client, progress=catalogue_bar)
        say(f"catalogue index: {report.albums} albums from {len(report.fetched)} sitemap(s)")
        present, absent = pick_albums(site, files - 4, 3)
        library = folder / "library"
        samples = build_library(library, present, absent, broken=1)
        say(f"sample library: {len(samples)} files in {library}")
        options = TagOptions(workers=workers, interactive=False, locations=(str(library),))
        progress = None if as_json else ProgressDisplay.for_terminal(app.quiet)
        summary = tag_locations(settings, db, options, client=client, progress=progress)
        db.close()
    finally:
        site.stop()
    in_library = {album.album_id for album in present}
    not_fetched = min(album_id for album_id in site.catalogue.albums if album_id not in in_library)
    commands = demo_commands(folder, summary.session_id, not_fetched)
    if as_json:
        echo_json(
            {
                **summary.to_dict(),
                "folder": str(folder),
                "config": str(folder / CONFIG_NAME),
                "serve": commands.serve,
                "hints": commands.hints,
            }
        )
    else:
        print_summary(summary, follow_up=commands.command)
        click.echo(
            f"\nEverything is in {folder} (database, logs, library, {CONFIG_NAME}).\n"
            f"To go on exploring offline, bring the fake site back (in another terminal):\n"
            f"  {commands.serve}\n"
            f"then try:\n" + "\n".join(f"  {hint}" for hint in commands.hints)
        )
    raise SystemExit(0 if summary.status == "completed" else summary.exit_code)


def serve_again(folder: Path) -> None:
    """Serve the fake site of the demo in ``folder`` on the port its config names, until interrupted."""
    config = folder / CONFIG_NAME
    if not (folder / DEMO_MARKER).exists() or not config.is_file():
        raise click.UsageError(f"no demo in {folder}: run 'bdnex-core demo --dir {folder}' first")
    try:
        mapping = yaml.safe_load(config.read_text("utf-8")) or {}
        port = urlsplit(mapping["catalogue"]["base_url"]).port
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise click.UsageError(f"{config}: no catalogue.base_url with a port ({exc})") from None
    if port is None:
        raise click.UsageError(f"{config}: catalogue.base_url names no port")
    try:
        site = FakeBedetheque(port=port).start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    click.echo(f"fake Bédéthèque on {site.base_url} for {folder}; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
