"""``komga sync --dry-run``: what would change in Komga, compared with Komga's current state.

The core's dry run compares the album with the file's ComicInfo.xml. With ``komga.write``
including ``api``, what matters is Komga's own book and series metadata: this module asks
Komga for them and lists the Komga fields that would be sent (``title``, ``links``,
``series.publisher``…), and the fields locked in Komga that would be kept. With ``comicinfo``
too, the file's ComicInfo changes are listed beside them; nothing is written either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from bdnex_komga.settings import komga_settings
from bdnex_komga.writeback import KomgaWriter

if TYPE_CHECKING:
    from bdnex_core.api import RunSummary, Settings


@dataclass
class Preview:
    file: str
    book_id: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)
    comicinfo: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "book_id": self.book_id,
            "changes": {name: list(change) for name, change in self.changes.items()},
            "locked_kept": self.kept,
            "comicinfo_changes": {name: list(change) for name, change in self.comicinfo.items()},
            "error": self.error or None,
        }


def preview_in_komga(settings: Settings, summary: RunSummary) -> list[Preview]:
    """One preview per matched book; each outcome's ``changes`` become the Komga fields (``komga.…``)."""
    from bdnex_core.api import comicinfo_for
    from bdnex_core.errors import BdnexError

    config = komga_settings(settings)
    writer = KomgaWriter()
    previews = []
    for outcome in summary.whole_outcomes():  # a dry run keeps them whole
        if outcome.state != "done" or outcome.album is None or not outcome.item.external_id:
            continue
        preview = Preview(outcome.item.name, str(outcome.item.external_id))
        if config.writes_comicinfo:
            preview.comicinfo = dict(outcome.changes)
        if config.writes_api:
            try:
                info = comicinfo_for(settings, outcome.item, outcome.album)
                plan = writer.preview(outcome.item, info, settings)
            except BdnexError as exc:
                preview.error = str(exc)
            else:
                preview.changes, preview.kept = plan.changes, plan.kept
            outcome.changes = {**preview.comicinfo, **preview.changes}
        previews.append(preview)
    return previews


def print_previews(previews: list[Preview]) -> None:
    for preview in previews:
        if preview.error:
            click.echo(f"{preview.file}: cannot compare with Komga: {preview.error}")
            continue
        if preview.changes or preview.kept:
            click.echo(f"{preview.file} would change in Komga (book {preview.book_id}):")
            for name, (old, new) in preview.changes.items():
                click.echo(f"  {name.removeprefix('komga.')}: {old!r} -> {new!r}")
            for name, value in preview.kept.items():
                click.echo(f"  {name.removeprefix('komga.')}: kept {value!r} (locked in Komga; --force overwrites)")
        if preview.comicinfo:
            click.echo(f"{preview.file} would change in its ComicInfo.xml:")
            for name, (old, new) in preview.comicinfo.items():
                click.echo(f"  {name}: {old!r} -> {new!r}")
        if not (preview.changes or preview.kept or preview.comicinfo):
            click.echo(f"{preview.file}: nothing would change")
