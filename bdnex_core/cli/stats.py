"""``bdnex-core stats``: library statistics from the database."""

from __future__ import annotations

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
    figures = db.snapshot_statistics() if snapshot else db.get_statistics()
    past = db.statistics_history(history) if history else []
    if as_json:
        echo_json({**figures, "history": past} if history else figures)
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
    for row in past:
        click.echo(
            f"  {row['date']}: {row['total_files']} files, {row['total_series']} series, {row['files_failed']} failed"
        )
