"""``bdnex-core review``: walk the queue of uncertain matches."""

from __future__ import annotations

from pathlib import Path

import click

from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.library import LibraryItem, WriteBack
from bdnex_core.states import OutcomeState


def register(cli: click.Group) -> None:
    cli.add_command(review)


@click.command("review")
@click.option("--list", "list_only", is_flag=True, help="Only list what waits for review.")
@click.option("--limit", type=int, default=None, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@pass_app
def review(app: AppContext, list_only: bool, limit: int | None, as_json: bool) -> None:
    """Pick the right album for each queued file (or skip it); choices are recorded as manual."""
    from bdnex_core.pipeline import TagOptions, TagRun
    from bdnex_core.pipeline.review import ask

    db = app.db
    entries = db.pending_reviews(limit)
    if list_only:
        if as_json:
            echo_json(entries)
        else:
            for entry in entries:
                best = entry["candidates"][0] if entry["candidates"] else None
                click.echo(
                    f"{entry['id']}: {entry['file_path']}"
                    + (f" (best: album {best['album_id']} at {best['score']:.2f})" if best else "")
                )
        return
    if not entries:
        click.echo("Nothing waits for review.")
        return
    run = TagRun(app.settings, db, TagOptions(interactive=True))
    resolved = skipped = 0
    for entry in entries:
        answer = ask(Path(entry["file_path"]).name, "", entry["parsed"], entry["candidates"])
        if answer == "quit":
            break
        if answer is None:
            db.resolve_review(entry["id"], album_id=None, status="skipped")
            skipped += 1
            continue
        path = Path(entry["file_path"])
        item = LibraryItem.from_record(entry["item"]) if entry["item"] else _item_without_record(entry, path)
        outcome = run.apply_choice(entry["session_id"], item, int(answer))
        if outcome.state == OutcomeState.DONE:
            db.resolve_review(entry["id"], album_id=int(answer))
            resolved += 1
            click.echo(f"  tagged as album {answer}", err=True)
        else:
            click.echo(f"  failed: {outcome.reason}", err=True)
    click.echo(f"{resolved} tagged, {skipped} skipped, {len(db.pending_reviews())} still waiting")


def _item_without_record(entry: dict, path: Path) -> LibraryItem:
    """An entry queued before items were stored with it: rebuilt from its path and key."""
    if entry["item_key"] != str(path):
        source, _, external = entry["item_key"].partition(":")
        # a source's item: its file stays as it is, whatever its write-back was
        return LibraryItem(
            source=source,
            name=path.name,
            path=path if path.exists() else None,
            external_id=external,
            write_back=WriteBack(comicinfo=False),
        )
    return LibraryItem(
        source="folder", name=path.name, path=path if path.exists() else None, hints={"parent": path.parent.name}
    )
