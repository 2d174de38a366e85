"""``bdnex-core review``: walk the queue of uncertain matches (the terminal front-end of the review service)."""

from __future__ import annotations

import click

from bdnex_core.app.review import SKIPPED, WAITING, ReviewError, ReviewService
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.review_prompt import EndOfInput, ReviewPrompt, Subject, say
from bdnex_core.errors import BdnexError


@click.command("review")
@click.option("--list", "list_only", is_flag=True, help="Only list what waits for review.")
@click.option("--skipped", is_flag=True, help="The entries skipped earlier (list them, or review them again).")
@click.option("--limit", type=int, default=None, help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@pass_app
def review(app: AppContext, list_only: bool, skipped: bool, limit: int | None, as_json: bool) -> None:
    """Pick the right album for each file waiting for review (or skip it); choices are recorded as manual.

    A number, `id N` or a URL shows what that album would change in the file and asks to confirm
    (Enter: yes); `/ TEXT` searches the catalogue; `m` more; `u` undo; `?` help. Ctrl-C pauses; at the
    end of its input (a pipe, a script) the review stops and what is left keeps waiting."""
    service = ReviewService(app.settings, app.db)
    for notice in service.prune():
        click.echo(notice, err=True)
    status = SKIPPED if skipped else WAITING
    entries = service.entries(status, limit)
    if list_only:
        if as_json:
            echo_json([entry.__dict__ for entry in entries])
        else:
            for entry in entries:
                best = entry.candidates[0] if entry.candidates else None
                click.echo(
                    f"{entry.id}: {entry.file_path}"
                    + (
                        f" (best: album {best['album_id']}, score {best.get('confidence', best['score']):.2f})"
                        if best
                        else ""
                    )
                )
        return
    if not entries:
        click.echo("Nothing skipped." if skipped else "Nothing waits for review.")
        return
    prompt = ReviewPrompt(service, can_undo=lambda: bool(service.decisions))
    counts = {"tagged": 0, "skipped": 0, "undone": 0}
    position, paused, ended = 0, False, False
    try:
        while position < len(entries):
            entry = entries[position]
            subject = Subject(
                entry.item(),
                parsed=entry.parsed,
                candidates=entry.candidates,
                header=f"[{position + 1}/{len(entries)}] {entry.file_path}",
            )
            choice = prompt.ask(subject)
            if choice.action == "quit":
                break
            if choice.action == "undo":
                try:
                    undone = service.undo()
                except BdnexError as exc:  # the file is gone or cannot be rewritten: the review goes on
                    say(f"  cannot undo: {exc}")
                    continue
                say(f"  undone: {undone.entry.name} is back to how it was (album {undone.album_id} taken back)")
                counts["tagged"] -= 1
                counts["undone"] += 1
                position = entries.index(undone.entry) if undone.entry in entries else position
                continue
            if choice.action == "skip":
                service.skip(entry)
                counts["skipped"] += 1
            else:
                assert choice.album_id is not None
                try:
                    applied = service.accept(entry, choice.album_id)
                except ReviewError as exc:
                    say(f"  not tagged: {exc}")
                    continue
                say(f"  tagged {applied.file_path} as album {applied.album_id}")
                counts["tagged"] += 1
            position += 1
    except KeyboardInterrupt:
        paused = True
    except EndOfInput:  # nobody left to ask: a quit, not an interruption
        ended = True
    waiting = len(service.entries(WAITING))
    click.echo(
        f"{counts['tagged']} tagged, {counts['skipped']} skipped, {waiting} still waiting"
        + (f", {counts['undone']} undone" if counts["undone"] else "")
    )
    if ended:
        click.echo(
            f"input ended: the review stops here; the current file is left as it was. Continue with: "
            f"{app.follow_up('review')} (in a terminal), or {app.follow_up('web')}"
        )
    if paused:
        click.echo(f"paused: the current file is left as it was; continue with: {app.follow_up('review')}")
        raise SystemExit(130)
