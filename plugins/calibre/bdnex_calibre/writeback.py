"""The calibre library source and metadata writer.

Items carry a *working copy* of the book's comic file (in a temp dir), never the
file inside the calibre library. This writer alone writes the copy (the items say
``write_back=WriteBack(comicinfo=False)`` to the core's ComicInfo writer): ComicInfo goes in, calibre
takes the copy back with ``add_format`` (so its recorded size and path stay right and
it never sees a half-written file), and nothing touches the copy afterwards. The hash
the core records is then that of the file calibre holds, and an unchanged re-sync
recognises every book (the next copy has that same hash) and rewrites none.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_calibre import calibredb
from bdnex_calibre.copies import temporary_copy_dirs
from bdnex_calibre.identify import PLACEHOLDER_AUTHORS
from bdnex_calibre.opf import album_id_of, authors_of, build_opf, merged_tags, split_people
from bdnex_calibre.settings import calibre_settings
from bdnex_core.library import LibraryItem, WriteBack, WriteResult

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


def items_from_library(library: calibredb.CalibreLibrary, work_dir: Path) -> Iterator[LibraryItem]:
    """One item per comic book, with a working copy of its file in ``work_dir`` (made by the first copy)."""
    calibredb.check_library(library)
    for book in calibredb.list_comics(library):
        copy_dir = work_dir / str(book.book_id)
        copy_dir.mkdir(parents=True, exist_ok=True)
        source = (
            calibredb.export_comic(library, book, copy_dir) if library.is_remote else Path(book.comic_format() or "")
        )
        path = copy_dir / (_safe_name(matching_name(book, source)) + source.suffix.lower())
        if library.is_remote:
            source.rename(path)
        else:
            shutil.copy2(source, path)
        hints: dict[str, Any] = {
            "calibre_library": library.location,
            "identifiers": book.identifiers,
            "tags": list(book.tags),
            "title": book.title,
            "series": book.series,
            "series_index": book.series_index,
        }
        if book.identifiers.get("bedetheque"):
            hints["bedetheque_id"] = book.identifiers["bedetheque"]
        yield LibraryItem(
            SOURCE_NAME,
            name=path.name,
            path=path,
            external_id=str(book.book_id),
            hints=hints,
            write_back=WriteBack(comicinfo=False),  # CalibreWriter owns the copy: see the module docstring
        )


def matching_name(book: calibredb.CalibreBook, stored: Path) -> str:
    """The name matched as ``tag`` matches a file's: the stored file's, ``Title - Authors``.

    calibre splits an added file's name at " - " into title and authors, so ``Série - 3 - Titre``
    may become the title "Série" by the author "3 - Titre": the title alone loses the tome and the
    album's title, while the stored name (calibre's ``{title} - {authors}``) keeps them all. Only
    calibre's placeholder for no author ("Unknown") is left out."""
    stem = stored.stem
    authors = book.authors.strip()
    if authors and authors.lower() in PLACEHOLDER_AUTHORS and stem.endswith(f" - {authors}"):
        stem = stem[: -len(f" - {authors}")]
    return stem or book.title


def _safe_name(title: str) -> str:
    return "".join("_" if char in '/\\:*?"<>|' else char for char in title).strip() or "book"


class CalibreSource:
    name = SOURCE_NAME

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        # named now, made by the first copy, removed by remove_temporary_copies at the session's end
        work_dir = Path(tempfile.gettempdir()) / f"bdnex-calibre-{os.getpid()}-{secrets.token_hex(4)}"
        temporary_copy_dirs.append(work_dir)
        for location in locations:
            yield from items_from_library(_library(location, settings), work_dir)


class CalibreWriter:
    """Writes ComicInfo into the working copy, replaces calibre's file (add_format replaces by default),
    then sets the metadata by OPF."""

    name = "calibre"

    def can_write(self, item: LibraryItem, settings: Settings) -> bool:
        return item.source == SOURCE_NAME and bool(item.external_id) and "calibre_library" in item.hints

    def write(self, item: LibraryItem, metadata: Any, settings: Settings, *, dry_run: bool = False) -> WriteResult:
        from bdnex_core.api import write_comicinfo

        library = _library(str(item.hints["calibre_library"]), settings)
        book_id = str(item.external_id)
        fields = dict(metadata.fields)
        policy = calibre_settings(settings).tags
        if dry_run:
            return WriteResult(self.name, written=False, message=f"dry run: calibre book {book_id}")
        assert item.path is not None
        comic = write_comicinfo(item, metadata, settings, delete_original=False)
        converted = comic != item.path
        calibredb.run_calibredb(library, ["add_format", book_id, str(comic)])
        tags = merged_tags(list(item.hints.get("tags") or []), split_people(fields.get("Genre")), policy)
        opf = build_opf(
            fields,
            dict(item.hints.get("identifiers") or {}),
            tags=tags,
            bedetheque_names=bedetheque_names(settings, album_id_of(fields)),
        )
        opf_path = comic.parent / f"{comic.stem}.opf"
        opf_path.write_text(opf, encoding="utf-8")
        try:
            calibredb.run_calibredb(library, ["set_metadata", book_id, str(opf_path)])
        finally:
            opf_path.unlink(missing_ok=True)
        # the core records the file that holds the metadata: for a CBR, the CBZ calibre now has
        message = f"converted to {comic}" if converted else f"calibre book {book_id}"
        return WriteResult(self.name, written=True, message=message, new_path=comic if converted else None)


def bedetheque_names(settings: Settings, album_id: str | None) -> dict[str, str]:
    """ "First Last" -> Bédéthèque's "Last, First" for the album's people, from bdnex-core's album cache
    (filled when the album was fetched for this write); empty when it is not there."""
    if not album_id:
        return {}
    from bdnex_core.api import BDneXDB, fetch_album, person_name

    db = BDneXDB(settings=settings)
    try:
        album = fetch_album(settings, db, int(album_id))  # from the cache: it was fetched for this write
    finally:
        db.close()
    names: dict[str, str] = {}
    for raw in [*album.writers, *album.pencillers]:
        display = person_name(raw)
        if display and "," in raw:
            names.setdefault(display, " ".join(raw.split()))
    return names


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


def custom_column_values(fields: Mapping[str, str]) -> dict[str, str]:
    """What the custom columns hold for a book whose ComicInfo has ``fields`` (empty values left out)."""
    values = {
        "scenario": ", ".join(split_people(fields.get("Writer"))),
        "dessin": ", ".join(split_people(fields.get("Penciller"))),
        "couleurs": ", ".join(split_people(fields.get("Colorist"))),
        "bdgest_id": album_id_of(fields) or "",
    }
    if fields.get("Year"):
        # noon UTC: the same calendar day in every time zone calibre may convert to
        month, day = int(fields.get("Month") or 1), int(fields.get("Day") or 1)
        values["depot_legal"] = f"{int(fields['Year']):04d}-{month:02d}-{day:02d}T12:00:00+00:00"
    return {column: value for column, value in values.items() if value}


def backfill_custom_columns(library: calibredb.CalibreLibrary) -> int:
    """Fill the custom columns of every book whose comic file in the library carries our ComicInfo,
    tagged in this run or an earlier one; only values that differ are set (an unchanged book is not
    modified). Returns how many books changed."""
    from bdnex_core.api import read_comicinfo
    from bdnex_core.errors import BdnexError

    columns = ",".join(f"*{column}" for column in CUSTOM_COLUMNS)
    rows = json.loads(calibredb.run_calibredb(library, ["list", "--for-machine", "--fields", f"formats,{columns}"]))
    changed = 0
    for row in rows or []:
        comic = next((fmt for fmt in row.get("formats") or [] if fmt.lower().endswith(".cbz")), None)
        if comic is None:
            continue
        try:
            fields = read_comicinfo(comic)
        except (BdnexError, OSError):
            continue  # not ours to judge here: the sync reported the books it could not read
        if fields is None or not album_id_of(fields):
            continue
        updates = {
            column: value
            for column, value in custom_column_values(fields).items()
            if not _same_value(row.get(f"*{column}"), value, CUSTOM_COLUMNS[column][2])
        }
        for column, value in updates.items():
            calibredb.run_calibredb(library, ["set_custom", column, str(row["id"]), value])
        changed += bool(updates)
    return changed


def _same_value(current: Any, wanted: str, datatype: str) -> bool:
    if current in (None, ""):
        return False
    if datatype == "datetime":  # calibre answers in its own ISO form; the day is what we set
        return str(current)[:10] == wanted[:10]
    return str(current) == wanted


__all__ = [
    "CalibreSource",
    "CalibreWriter",
    "authors_of",
    "backfill_custom_columns",
    "create_custom_columns",
    "items_from_library",
]
