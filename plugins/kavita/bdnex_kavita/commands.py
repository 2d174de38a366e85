"""The ``kavita`` commands: ``check``, ``sync``, ``watch``.

Only click is imported here; the client, the source, the hub and the pipeline are imported
when a command runs, so that registering the commands costs nothing to other commands.
"""

from __future__ import annotations

import click

from bdnex_core.api import AppContext, echo_json, pass_app


@click.group()
def kavita() -> None:
    """Kavita servers: tag their chapters, follow their events."""


@kavita.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Check the connection, the API key and the admin role; show the libraries and path mapping."""
    from bdnex_kavita.client import KavitaClient
    from bdnex_kavita.paths import map_path
    from bdnex_kavita.settings import kavita_settings

    config = kavita_settings(app.settings)
    client = KavitaClient(config)
    user = client.check_admin()
    libraries = []
    for library in client.libraries():
        folders = []
        for folder in library.get("folders") or []:
            mapped = map_path(str(folder), config.path_map)
            folders.append(
                {
                    "kavita": folder,
                    "local": str(mapped.local) if mapped.local else None,
                    "local_exists": bool(mapped.local and mapped.local.is_dir()),
                }
            )
        libraries.append({"id": library.get("id"), "name": library.get("name"), "folders": folders})
    result = {
        "url": config.url,
        "user": user.get("username"),
        "kavita_version": user.get("kavitaVersion"),
        "write": list(config.write),
        "libraries": libraries,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"Kavita {result['kavita_version'] or '?'} at {config.url}: user {result['user']} (admin), "
        f"write-back: {' + '.join(config.write)}"
    )
    for library in libraries:
        click.echo(f"  library {library['id']}  {library['name']}")
        for folder in library["folders"]:
            where = (
                f"-> {folder['local']}" + ("" if folder["local_exists"] else " (missing here)")
                if folder["local"]
                else "-> no local path (kavita.path_map)"
            )
            click.echo(f"    {folder['kavita']} {where}")


@kavita.command()
@click.option(
    "--library", "libraries", multiple=True, metavar="NAME", help="A Kavita library, by name or id (repeatable)."
)
@click.option("--series", "series", multiple=True, type=int, metavar="ID", help="A Kavita series id (repeatable).")
@click.option("--chapter", "chapters", multiple=True, type=int, metavar="ID", help="A Kavita chapter id (repeatable).")
@click.option("--dry-run", is_flag=True, help="Match and show what would change in Kavita; write nothing.")
@click.option(
    "--force", is_flag=True, help="Process chapters already tagged again, and overwrite fields locked in Kavita."
)
@click.option(
    "--workers", type=int, default=None, help="Parallel workers (default: kavita.workers or pipeline.workers)."
)
@click.option(
    "--interactive/--batch",
    default=None,
    help="Ask about uncertain matches (default on a terminal), or queue them for `review`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_app
def sync(
    app: AppContext,
    libraries: tuple[str, ...],
    series: tuple[int, ...],
    chapters: tuple[int, ...],
    dry_run: bool,
    force: bool,
    workers: int | None,
    interactive: bool | None,
    as_json: bool,
) -> None:
    """Tag the chapters of Kavita libraries (default: kavita.libraries, else all) and write back."""
    import sys

    from bdnex_core.api import TagOptions, report_tagging, run_tagging
    from bdnex_core.errors import BdnexError
    from bdnex_kavita.client import KavitaClient
    from bdnex_kavita.dryrun import preview_in_kavita, print_previews
    from bdnex_kavita.settings import kavita_settings
    from bdnex_kavita.source import FORCE_TOKEN, item_from_chapter, iter_chapters, resolve_libraries
    from bdnex_kavita.writeback import series_choices

    settings = app.settings
    config = kavita_settings(settings)
    client = KavitaClient(config)
    client.check_admin()
    locations = [f"library:{library['id']}" for library in resolve_libraries(client, libraries)] if libraries else []
    locations += [f"series:{value}" for value in series] + [f"chapter:{value}" for value in chapters]
    if not locations:
        locations = ["all"]
    if force:
        locations.append(FORCE_TOKEN)
    if interactive is None:
        interactive = sys.stdin.isatty() and not as_json
    items = [
        item_from_chapter(found_series, volume, chapter, config, force=force)
        for found_series, volume, chapter in iter_chapters(client, config, locations)
    ]
    if not items:
        raise BdnexError(f"no chapters in Kavita at {', '.join(locations)}")
    if all(item.unavailable for item in items):
        # not one file reachable: a configuration problem, said once rather than per chapter
        more = f" (and the same for all {len(items)} chapters)" if len(items) > 1 else ""
        raise BdnexError(f"{items[0].unavailable}{more}")
    options = TagOptions(
        workers=workers or config.workers or settings.pipeline.workers,
        dry_run=dry_run,
        force=force,
        interactive=interactive,
        source="kavita",
        locations=tuple(locations),
    )
    series_choices.clear()  # series values are chosen once per run
    summary = run_tagging(settings, app.db, items, options)
    previews = preview_in_kavita(settings, summary) if dry_run else []
    if as_json:
        data = summary.to_dict()
        if dry_run:
            data["kavita_changes"] = [preview.to_dict() for preview in previews]
        echo_json(data)
    else:
        if dry_run:
            print_previews(previews)
        report_tagging(summary, dry_run=dry_run)
    raise SystemExit(summary.exit_code)


@kavita.command()
@click.option("--workers", type=int, default=None, help="Parallel workers per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print each batch's summary as a JSON line.")
@click.option("--exit-after", type=float, default=None, hidden=True, help="Stop after SECONDS (tests).")
@pass_app
def watch(app: AppContext, workers: int | None, as_json: bool, exit_after: float | None) -> None:
    """Follow Kavita's events and tag each new chapter once (runs until stopped)."""
    from bdnex_core.api import stop_on_signals
    from bdnex_kavita.service import kavita_service

    def report(summary) -> None:
        if as_json:
            echo_json(summary.to_dict())
            return
        counts = summary.to_dict()["counts"]
        click.echo(
            f"session {summary.session_id}: {counts['tagged']} tagged, {counts['waiting']} waiting for "
            f"review, {counts['skipped']} skipped, {counts['failed']} failed"
        )

    with kavita_service(app.settings, app.db, workers=workers, on_summary=report) as service:
        if not as_json:
            click.echo(f"following Kavita's events at {service.worker.config.url}", err=True)
        with stop_on_signals(service.worker.stop_event):
            service.worker.run(exit_after=exit_after)
