"""``bdnex-core stats``: library statistics from the database, and the pace Bédéthèque taught the runs
sharing it (kept in the request slot, where the next run starts from)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app


@click.command("stats")
@click.option("--snapshot", is_flag=True, help="Also store today's figures in the statistics table.")
@click.option("--history", "history", type=int, default=0, help="Show the last N daily snapshots.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def stats(app: AppContext, snapshot: bool, history: int, as_json: bool) -> None:
    """Library statistics: files tagged, series, publishers, failures, reviews waiting."""
    db = app.db
    figures = db.statistics.snapshot() if snapshot else db.statistics.current()
    past = db.statistics.history(history) if history else []
    pace = request_pace(app)
    if as_json:
        echo_json({**figures, "request_pace": pace, **({"history": past} if history else {})})
        return
    click.echo(f"files tagged:          {figures['total_files']}")
    click.echo(f"series:                {figures['total_series']}")
    click.echo(f"publishers:            {figures['total_editors']}")
    click.echo(f"average pages:         {figures['avg_pages'] or '-'}")
    click.echo(f"average time per file: {figures['avg_processing_time_ms'] or '-'} ms")
    click.echo(f"failed files:          {figures['files_failed']}")
    click.echo(f"waiting for review:    {figures['files_pending_review']}")
    click.echo(f"sessions:              {figures['total_sessions']}")
    click.echo(f"albums in cache:       {figures['albums_cached']}")
    if pace["learned"]:
        click.echo(
            f"request pace:          {pace['seconds']:.1f} s between requests, as Bédéthèque asked "
            f"(configured {pace['configured']:.1f} s)"
        )
    else:
        click.echo(f"request pace:          {pace['seconds']:.1f} s between requests (configured)")
    for row in past:
        click.echo(
            f"  {row['date']}: {row['total_files']} files, {row['total_series']} series, {row['files_failed']} failed"
        )


def request_pace(app: AppContext) -> dict[str, Any]:
    """The pace the next run starts at: the one the site's refusals taught (kept in the request slot of
    the site), or the configured minimum delay."""
    catalogue = app.settings.catalogue
    slot = app.db.request_slots.read(urlparse(catalogue.base_url).netloc)
    configured = catalogue.min_delay_seconds
    learned = slot is not None and slot.pace > configured
    return {"seconds": slot.pace if learned and slot else configured, "configured": configured, "learned": learned}
