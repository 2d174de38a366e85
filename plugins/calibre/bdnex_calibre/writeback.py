"""The calibre library source and metadata writer.

Items carry a *working copy* of the book's comic file (in a temp dir), never the
file inside the calibre library: the core's CBZ writer and ours write ComicInfo
into the copy, and calibre takes it back with ``add_format --replace`` so its
recorded size and path stay right and it never sees a half-written file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_calibre import calibredb
from bdnex_calibre.opf import album_id_of, authors_of, build_opf, split_people
from bdnex_core.library import LibraryItem, WriteResult

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SOURCE_NAME = "calibre"
CUSTOM_COLUMNS = {
    # column -> (label, ComicInfo field or None for computed, calibre datatype)
    "scenario": ("Scénario", "Writer", "text"),
    "dessin": ("Dessin", "Penciller", "text"),
    "couleurs": ("Couleurs", "Colorist", "text"),
    "bdgest_id": ("Bédéthèque id", None, "text"),
    "depot_legal": ("Dépôt légal", None, "datetime"),
}


def _library(location: str, settings: Settings) -> calibredb.CalibreLibrary:
    return calibredb.library_from_settings(location, settings.section("calibre"))


def items_from_library(
    library: calibredb.CalibreLibrary, work_dir: Path, *, custom_columns: bool = False
) -> Iterator[LibraryItem]:
    """One item per comic book, with a working copy of its file in ``work_dir``."""
    for book in calibredb.list_comics(library):
        copy_dir = work_dir / str(book.book_id)
        copy_dir.mkdir(parents=True, exist_ok=True)
        source = (
            calibredb.export_comic(library, book, copy_dir) if library.is_remote else Path(book.comic_format() or "")
        )
        # calibre names files "Title - Author.ext"; the title alone matches better
        path = copy_dir / (_safe_name(book.title or source.stem) + source.suffix.lower())
        if library.is_remote:
            source.rename(path)
        else:
            shutil.copy2(source, path)
        hints: dict[str, Any] = {
            "calibre_library": library.location,
            "identifiers": book.identifiers,
            "title": book.title,
            "series": book.series,
            "series_index": book.series_index,
            "calibre_custom_columns": custom_columns,
        }
        if book.identifiers.get("bedetheque"):
            hints["bedetheque_id"] = book.identifiers["bedetheque"]
        yield LibraryItem(SOURCE_NAME, name=path.name, path=path, external_id=str(book.book_id), hints=hints)


def _safe_name(title: str) -> str:
    return "".join("_" if char in '/\\:*?"<>|' else char for char in title).strip() or "book"


class CalibreSource:
    name = SOURCE_NAME

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        work_dir = Path(tempfile.mkdtemp(prefix="bdnex-calibre-"))
        for location in locations:
            yield from items_from_library(_library(location, settings), work_dir)


class CalibreWriter:
    """Writes ComicInfo into the working copy, replaces calibre's file (add_format replaces by default), then sets metadata by OPF."""

    name = "calibre"

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        return item.source == SOURCE_NAME and bool(item.external_id) and "calibre_library" in item.hints

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        from bdnex_core.api import write_comicinfo

        library = _library(str(item.hints["calibre_library"]), settings)
        book_id = str(item.external_id)
        fields = dict(metadata.fields)
        if dry_run:
            return WriteResult(self.name, written=False, message=f"dry run: calibre book {book_id}")
        assert item.path is not None
        comic = write_comicinfo(item, metadata, settings, delete_original=False)
        calibredb.run_calibredb(library, ["add_format", book_id, str(comic)])
        opf_path = comic.with_suffix(".opf")
        opf_path.write_text(build_opf(fields, dict(item.hints.get("identifiers") or {})), encoding="utf-8")
        calibredb.run_calibredb(library, ["set_metadata", book_id, str(opf_path)])
        if item.hints.get("calibre_custom_columns") and not library.is_remote:
            set_custom_columns(library, book_id, fields)
        return WriteResult(self.name, written=True, message=f"calibre book {book_id}")


def create_custom_columns(library: calibredb.CalibreLibrary) -> list[str]:
    """Add the missing ``#scenario``... columns (local libraries only); returns those created."""
    if library.is_remote:
        raise calibredb.CalibreError(f"{library.location}: custom columns can only be created on a local library")
    existing = calibredb.run_calibredb(library, ["custom_columns"])
    present = {line.split(" ", 1)[0].strip() for line in existing.splitlines() if line.strip()}
    created = []
    for column, (label, _field, datatype) in CUSTOM_COLUMNS.items():
        if column not in present:
            calibredb.run_calibredb(library, ["add_custom_column", column, label, datatype])
            created.append(column)
    return created


def set_custom_columns(library: calibredb.CalibreLibrary, book_id: str, fields: dict[str, str]) -> None:
    values = {
        "scenario": ", ".join(split_people(fields.get("Writer"))),
        "dessin": ", ".join(split_people(fields.get("Penciller"))),
        "couleurs": ", ".join(split_people(fields.get("Colorist"))),
        "bdgest_id": album_id_of(fields) or "",
    }
    if fields.get("Year"):
        values["depot_legal"] = (
            f"{fields['Year']}-{int(fields.get('Month') or 1):02d}-{int(fields.get('Day') or 1):02d}"
        )
    for column, value in values.items():
        if value:
            calibredb.run_calibredb(library, ["set_custom", column, book_id, value])


__all__ = ["CalibreSource", "CalibreWriter", "authors_of", "create_custom_columns", "items_from_library"]
