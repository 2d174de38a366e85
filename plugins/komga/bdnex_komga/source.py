"""The ``komga`` library source: books of Komga libraries, series or single books.

Locations (what ``--resume`` gets back from the session): ``library:ID``,
``series:ID``, ``book:ID`` or ``all`` (the libraries of ``komga.libraries``, or
every library). The token ``option:overwrite-locked`` makes the writer ignore
Komga's field locks for the items (``sync --force``).

Each item points at the book's file on this machine (``komga.path_map``), or,
when there is none and the write-back goes through the API only, at a
downloaded copy. Komga items always carry ``WriteBack(comicinfo=False)``: the core's
ComicInfo writer stays away, and the Komga writer writes the file itself (when
``komga.write`` includes ``comicinfo``) so that it can ask Komga to re-analyse it
right after.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from bdnex_core.library import COMIC_SUFFIXES, LibraryItem, WriteBack
from bdnex_komga.client import KomgaClient, KomgaError
from bdnex_komga.downloads import temporary_download_dirs
from bdnex_komga.ids import checked_id
from bdnex_komga.paths import map_path
from bdnex_komga.settings import KomgaSettings, komga_settings

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SOURCE_NAME = "komga"
FORCE_TOKEN = "option:overwrite-locked"
BEDETHEQUE_ALBUM = re.compile(r"bedetheque\.com/.*-(\d+)\.html")
LOCATION_KINDS = ("library", "series", "book")


def parse_location(location: str) -> tuple[str, str]:
    """``library:ID`` -> ("library", "ID"); ``all`` -> ("all", "")."""
    if location == "all":
        return "all", ""
    kind, _, value = location.partition(":")
    if kind not in LOCATION_KINDS or not value:
        raise KomgaError(f"{location!r} is not a Komga location (expected library:ID, series:ID, book:ID or all)")
    return kind, checked_id(value, f"{kind} id")


def book_condition(kind: str, value: str, media_status: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The ``POST /api/v1/books/list`` search condition for a location."""
    conditions: list[dict[str, Any]] = []
    if kind == "library":
        conditions.append({"libraryId": {"operator": "is", "value": value}})
    elif kind == "series":
        conditions.append({"seriesId": {"operator": "is", "value": value}})
    if media_status:
        statuses = [{"mediaStatus": {"operator": "is", "value": status}} for status in media_status]
        conditions.append(statuses[0] if len(statuses) == 1 else {"anyOf": statuses})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"allOf": conditions}


def _file_name(book: dict[str, Any]) -> str:
    url = str(book.get("url") or "")
    name = (PureWindowsPath(url) if "\\" in url else PurePosixPath(url)).name
    if name and Path(name).suffix.lower() in COMIC_SUFFIXES:
        return name
    return f"{book.get('name') or book.get('id')}.cbz"


def _parent_name(book: dict[str, Any]) -> str | None:
    url = str(book.get("url") or "")
    path = PureWindowsPath(url) if "\\" in url else PurePosixPath(url)
    return path.parent.name or book.get("seriesTitle") or None


def bedetheque_id_of(book: dict[str, Any]) -> int | None:
    """The album id of a Bédéthèque link already on the book (ours, from an earlier run)."""
    for link in (book.get("metadata") or {}).get("links") or []:
        found = BEDETHEQUE_ALBUM.search(str(link.get("url") or ""))
        if found:
            return int(found.group(1))
    return None


def describe_book(book: dict[str, Any]) -> str:
    return f"Komga book {book.get('id')} ({book.get('seriesTitle') or '?'} / {book.get('name') or '?'})"


def item_from_book(
    book: dict[str, Any],
    config: KomgaSettings,
    client: KomgaClient | None,
    download_dir: Path | None,
    *,
    force: bool = False,
) -> LibraryItem:
    """A library item for one ``BookDto``: its local file, or a downloaded copy (API-only writing)."""
    book_id = checked_id(book.get("id"), "book id")  # also names the download folder
    url = str(book.get("url") or "")
    absolute = url.startswith("/") or "\\" in url or (len(url) > 2 and url[1] == ":")
    mapped = map_path(url, config.path_map) if absolute else None
    downloaded = False
    unavailable = None  # this book fails alone, with the reason; the others go on
    path: Path | None = None
    if mapped is not None and mapped.exists:
        path = mapped.local
    elif mapped is not None and mapped.mapping is not None:
        unavailable = (
            f"{describe_book(book)}: Komga's file {url} maps to {mapped.local} through komga.path_map "
            f"({mapped.mapping.komga} -> {mapped.mapping.local}), which does not exist here; fix komga.path_map"
        )
    elif config.writes_comicinfo:
        if not absolute:
            why = f"Komga only gives the file name {url!r} (the user is not an administrator)"
        elif config.path_map:
            why = f"no komga.path_map entry covers Komga's file {url}"
        else:
            why = f"Komga's file {url} is not a file here; add a komga.path_map entry {{komga: ..., local: ...}}"
        unavailable = f"{describe_book(book)}: komga.write includes comicinfo, which needs the file; {why}"
    else:
        if client is None or download_dir is None:
            raise KomgaError(f"{describe_book(book)}: no local file for {url or 'the book'} and no way to download it")
        path = client.download_book(book_id, download_dir / book_id / _file_name(book))
        downloaded = True
    metadata = book.get("metadata") or {}
    hints: dict[str, Any] = {
        "komga_book_id": book_id,
        "komga_series_id": book.get("seriesId"),
        "komga_library_id": book.get("libraryId"),
        "komga_url": url,
        "komga_created": book.get("created"),
        "title": metadata.get("title"),
        "number": metadata.get("number"),
        "series": book.get("seriesTitle"),
        "parent": _parent_name(book),
    }
    album_id = bedetheque_id_of(book)
    if album_id:
        hints["bedetheque_id"] = album_id
    return LibraryItem(
        SOURCE_NAME,
        name=_file_name(book),
        path=path,
        external_id=book_id,
        hints=hints,
        # the Komga writer writes the file itself when komga.write asks for it (then asks for analysis)
        write_back=WriteBack(comicinfo=False, downloaded=downloaded, force=force),
        unavailable=unavailable or None,
    )


def iter_books(client: KomgaClient, config: KomgaSettings, locations: list[str]) -> Iterator[dict[str, Any]]:
    """The books at ``locations`` (each once), deleted ones left out."""
    seen: set[str] = set()
    for location in locations:
        if location == FORCE_TOKEN:
            continue
        kind, value = parse_location(location)
        if kind == "book":
            books: Any = [client.book(value)]
        elif kind == "all" and config.libraries:
            books = (
                book
                for library in config.libraries
                for book in client.iter_books(
                    book_condition("library", library, config.media_status), page_size=config.page_size
                )
            )
        else:
            books = client.iter_books(book_condition(kind, value, config.media_status), page_size=config.page_size)
        for book in books:
            if not isinstance(book, dict):
                raise KomgaError(f"Komga at {client.url} listed something that is not a book at {location}")
            if book.get("deleted") or str(book.get("id")) in seen:
                continue
            seen.add(str(book["id"]))
            yield book


class KomgaSource:
    name = SOURCE_NAME

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        config = komga_settings(settings)
        client = KomgaClient(config)
        force = FORCE_TOKEN in locations
        download_dir = config.download_dir
        if download_dir is None:  # made by the first download only
            download_dir = Path(tempfile.gettempdir()) / f"bdnex-komga-{os.getpid()}-{secrets.token_hex(4)}"
            temporary_download_dirs.append(download_dir)
        for book in iter_books(client, config, locations):
            yield item_from_book(book, config, client, download_dir, force=force)
