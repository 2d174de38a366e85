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
    from bdnex_core.config import Settings
    from bdnex_core.pipeline.runner import RunSummary


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
    from bdnex_core.errors import BdnexError

    config = komga_settings(settings)
    writer = KomgaWriter()
    previews = []
    for outcome in summary.outcomes:
        if outcome.state != "done" or outcome.album is None or not outcome.item.external_id:
            continue
        preview = Preview(outcome.item.name, str(outcome.item.external_id))
        if config.writes_comicinfo:
            preview.comicinfo = dict(outcome.changes)
        if config.writes_api:
            try:
                info = merged_comicinfo(settings, outcome.item, outcome.album)
                plan = writer.preview(outcome.item, info, settings)
            except BdnexError as exc:
                preview.error = str(exc)
            else:
                preview.changes, preview.kept = plan.changes, plan.kept
            outcome.changes = {**preview.comicinfo, **preview.changes}
        previews.append(preview)
    return previews


def merged_comicinfo(settings: Settings, item: Any, album: Any) -> Any:
    """The ComicInfo the writers would get: the album's, merged into the file's own as the core merges it."""
    from bdnex_core import archive
    from bdnex_core.comicinfo import ComicInfo, read_comicinfo_safely

    pages: list[str] = []
    existing = None
    if item.path is not None and item.path.is_file():
        with archive.open_archive(item.path) as comic:
            pages = comic.pages()
            existing, _problem = read_comicinfo_safely(comic.comicinfo_bytes())
    new_info = ComicInfo.from_album(
        album, pages=pages, page_count=len(pages) or None, version=settings.comicinfo.version
    )
    return ComicInfo.merge(existing, new_info, settings.comicinfo.merge_policy, settings.comicinfo.locked_fields)


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
