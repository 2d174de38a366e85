"""``kavita sync --dry-run``: what would change in Kavita, compared with Kavita's current chapters and series.

The core's dry run compares the album with the file's ComicInfo.xml; with ``kavita.write``
including ``api`` what matters is Kavita's own metadata: this asks Kavita for it and lists the
fields that would be sent (``kavita.titleName``, ``kavita.series.genres``…) and those locked in
Kavita that would be kept. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from bdnex_kavita.settings import kavita_settings
from bdnex_kavita.writeback import KavitaWriter

if TYPE_CHECKING:
    from bdnex_core.api import RunSummary, Settings


@dataclass
class Preview:
    file: str
    chapter_id: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    kept: dict[str, Any] = field(default_factory=dict)
    comicinfo: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "chapter_id": self.chapter_id,
            "changes": {name: list(change) for name, change in self.changes.items()},
            "locked_kept": self.kept,
            "comicinfo_changes": {name: list(change) for name, change in self.comicinfo.items()},
            "notes": self.notes,
            "error": self.error or None,
        }


def preview_in_kavita(settings: Settings, summary: RunSummary) -> list[Preview]:
    """One preview per matched chapter; each outcome's ``changes`` become the Kavita fields."""
    from bdnex_core.api import comicinfo_for
    from bdnex_core.errors import BdnexError

    config = kavita_settings(settings)
    writer = KavitaWriter()
    previews = []
    for outcome in summary.whole_outcomes():  # a dry run keeps them whole
        if outcome.state != "done" or outcome.album is None or not outcome.item.external_id:
            continue
        preview = Preview(outcome.item.name, str(outcome.item.external_id))
        if config.writes_comicinfo:
            preview.comicinfo = dict(outcome.changes)
        if config.writes_api:
            try:
                plan = writer.preview(outcome.item, comicinfo_for(settings, outcome.item, outcome.album), settings)
            except BdnexError as exc:
                preview.error = str(exc)
            else:
                preview.changes, preview.kept, preview.notes = plan.changes, plan.kept, plan.notes
            outcome.changes = {**preview.comicinfo, **preview.changes}
        previews.append(preview)
    return previews


def print_previews(previews: list[Preview]) -> None:
    for preview in previews:
        if preview.error:
            click.echo(f"{preview.file}: cannot compare with Kavita: {preview.error}")
            continue
        if preview.changes or preview.kept:
            click.echo(f"{preview.file} would change in Kavita (chapter {preview.chapter_id}):")
            for name, (old, new) in preview.changes.items():
                click.echo(f"  {name.removeprefix('kavita.')}: {old!r} -> {new!r}")
            for name, value in preview.kept.items():
                click.echo(f"  {name.removeprefix('kavita.')}: kept {value!r} (locked in Kavita; --force overwrites)")
            for note in preview.notes:
                click.echo(f"  note: {note}")
        if preview.comicinfo:
            click.echo(f"{preview.file} would change in its ComicInfo.xml:")
            for name, (old, new) in preview.comicinfo.items():
                click.echo(f"  {name}: {old!r} -> {new!r}")
        if not (preview.changes or preview.kept or preview.comicinfo):
            click.echo(f"{preview.file}: nothing would change")
