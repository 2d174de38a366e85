"""The ``komga`` commands (``sync``, ``check``, ``watch``, ``serve``): imported when one of them runs, so
that loading the plugin (every ``bdnex-core`` command does) never imports the Komga client's HTTP stack."""

from __future__ import annotations

from collections.abc import Callable

import click

from bdnex_core.api import AppContext, echo_json, pass_app


def _listen_option(value: str | None) -> tuple[str, int] | None:
    from bdnex_komga.webhook import parse_listen

    if value is None:
        return None
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None


@click.group()
def komga() -> None:
    """Komga servers: tag their books, follow their events, receive forwarded events."""


@komga.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Check the connection, the credentials and the ADMIN role; show the libraries and path mapping."""
    from bdnex_komga.client import KomgaClient
    from bdnex_komga.paths import map_path
    from bdnex_komga.settings import komga_settings

    config = komga_settings(app.settings)
    client = KomgaClient(config)
    user = client.check_admin()
    libraries = []
    for library in client.libraries():
        root = str(library.get("root") or "")
        mapped = map_path(root, config.path_map) if root.startswith("/") or ":" in root[:3] else None
        libraries.append(
            {
                "id": library.get("id"),
                "name": library.get("name"),
                "root": root,
                "local": str(mapped.local) if mapped and mapped.local else None,
                "local_exists": bool(mapped and mapped.local and mapped.local.is_dir()),
            }
        )
    result = {
        "url": config.url,
        "user": user.get("email"),
        "roles": user.get("roles"),
        "write": list(config.write),
        "libraries": libraries,
    }
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"Komga {config.url}: user {user.get('email')} ({', '.join(user.get('roles') or [])}), "
        f"write-back: {' + '.join(config.write)}"
    )
    for library in libraries:
        where = (
            f"-> {library['local']}" + ("" if library["local_exists"] else " (missing here)")
            if library["local"]
            else "-> no local path (komga.path_map)"
        )
        click.echo(f"  library {library['id']}  {library['name']}  {library['root']} {where}")


@komga.command()
@click.option("--library", "libraries", multiple=True, metavar="ID", help="A Komga library id (repeatable).")
@click.option("--series", "series", multiple=True, metavar="ID", help="A Komga series id (repeatable).")
@click.option("--book", "books", multiple=True, metavar="ID", help="A Komga book id (repeatable).")
@click.option(
    "--media-status",
    "media_status",
    multiple=True,
    metavar="STATUS",
    help="Only books whose analysis status is this (READY, UNKNOWN, ERROR, UNSUPPORTED, OUTDATED).",
)
@click.option("--dry-run", is_flag=True, help="Match and show what would change; write nothing.")
@click.option("--force", is_flag=True, help="Process books already tagged again, and overwrite fields locked in Komga.")
@click.option(
    "--workers", type=int, default=None, help="Parallel workers (default: komga.workers or pipeline.workers)."
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
    series: tuple[str, ...],
    books: tuple[str, ...],
    media_status: tuple[str, ...],
    dry_run: bool,
    force: bool,
    workers: int | None,
    interactive: bool | None,
    as_json: bool,
) -> None:
    """Tag the books of Komga libraries (default: komga.libraries, else all) and write back."""
    import dataclasses
    import sys
    import tempfile
    from pathlib import Path

    from bdnex_core.api import TagOptions, report_tagging, run_tagging
    from bdnex_core.errors import BdnexError
    from bdnex_komga.client import KomgaClient
    from bdnex_komga.dryrun import preview_in_komga, print_previews
    from bdnex_komga.settings import komga_settings
    from bdnex_komga.source import FORCE_TOKEN, item_from_book, iter_books

    settings = app.settings
    config = komga_settings(settings)
    if media_status:
        config = dataclasses.replace(config, media_status=tuple(status.upper() for status in media_status))
    client = KomgaClient(config)
    client.check_admin()
    locations = [f"library:{value}" for value in libraries] + [f"series:{value}" for value in series]
    locations += [f"book:{value}" for value in books]
    if not locations:
        locations = [f"library:{value}" for value in config.libraries] or ["all"]
    if force:
        locations.append(FORCE_TOKEN)
    if interactive is None:
        interactive = sys.stdin.isatty() and not as_json
    with tempfile.TemporaryDirectory(prefix="bdnex-komga-") as work:
        download_dir = config.download_dir or Path(work)
        items = [
            item_from_book(book, config, client, download_dir, force=force)
            for book in iter_books(client, config, locations)
        ]
        if not items:
            raise BdnexError(f"no books in Komga at {', '.join(locations)}")
        if all(item.unavailable for item in items):
            # not one file reachable: a configuration problem, said once rather than per book
            raise BdnexError(
                f"{items[0].unavailable} (and the same for all {len(items)} books)"
                if len(items) > 1
                else str(items[0].unavailable)
            )
        options = TagOptions(
            workers=workers or config.workers or settings.pipeline.workers,
            dry_run=dry_run,
            force=force,
            interactive=interactive,
            source="komga",
            locations=tuple(locations),
        )
        summary = run_tagging(settings, app.db, items, options)  # options.interactive: a person is asked
        previews = preview_in_komga(settings, summary) if dry_run else []
    if as_json:
        data = summary.to_dict()
        if dry_run:
            data["komga_changes"] = [preview.to_dict() for preview in previews]
        echo_json(data)
    else:
        if dry_run:
            print_previews(previews)
        report_tagging(summary, dry_run=dry_run)
    raise SystemExit(summary.exit_code)


def _run_service(
    app: AppContext,
    *,
    events: bool,
    listen: tuple[str, int] | None,
    workers: int | None,
    exit_after: float | None,
    as_json: bool,
) -> None:
    from bdnex_core.api import stop_on_signals
    from bdnex_komga.service import komga_service

    def report(summary) -> None:
        if as_json:
            echo_json(summary.to_dict())
            return
        counts = summary.to_dict()["counts"]
        click.echo(
            f"session {summary.session_id}: {counts['tagged']} tagged, {counts['waiting']} waiting for "
            f"review, {counts['skipped']} skipped, {counts['failed']} failed"
        )

    with komga_service(
        app.settings, app.db, events=events, listen=listen, workers=workers, on_summary=report
    ) as service:
        service.worker.command = "komga watch" if events else "komga serve"
        if service.webhook is not None and not as_json:
            click.echo(f"listening on {service.webhook.url}/hooks/komga", err=True)
        if events and not as_json:
            click.echo(f"following Komga events at {service.worker.config.url}", err=True)
        with stop_on_signals(service.worker.stop_event):
            service.worker.run(exit_after=exit_after)


def service_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options `watch` and `serve` share (each adds its own --listen)."""
    command = click.option("--exit-after", type=float, default=None, hidden=True, help="Stop after SECONDS (tests).")(
        command
    )
    command = click.option("--json", "as_json", is_flag=True, help="Print each batch's summary as a JSON line.")(
        command
    )
    return click.option("--workers", type=int, default=None, help="Parallel workers per batch.")(command)


@komga.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Also accept forwarded events on http://HOST:PORT/hooks/komga (as `serve`).",
)
@service_options
@pass_app
def watch(app: AppContext, listen: str | None, workers: int | None, as_json: bool, exit_after: float | None) -> None:
    """Follow Komga's events and tag each added book once (runs until stopped)."""
    _run_service(
        app, events=True, listen=_listen_option(listen), workers=workers, exit_after=exit_after, as_json=as_json
    )


@komga.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    required=True,
    help="Where to accept events: POST http://HOST:PORT/hooks/komga (and GET /health).",
)
@service_options
@pass_app
def serve(app: AppContext, listen: str, workers: int | None, as_json: bool, exit_after: float | None) -> None:
    """Receive Komga events forwarded by other tools (needs komga.webhook_token) and tag added books."""
    _run_service(
        app, events=False, listen=_listen_option(listen), workers=workers, exit_after=exit_after, as_json=as_json
    )
