"""The ``kavita`` library source: the chapter files of Kavita libraries, series or single chapters.

Locations (what ``--resume`` gets back from the session): ``library:ID``, ``series:ID``,
``chapter:ID`` or ``all`` (the libraries of ``kavita.libraries``, or every library). The token
``option:overwrite-locked`` makes the writer ignore Kavita's locks (``sync --force``).

Kavita's unit is the chapter (a volume groups chapters; a BD album is one chapter, see the
README). Each item is the chapter's file on this machine (``kavita.path_map``); one that cannot
be reached fails alone with the reason. Items carry ``WriteBack(comicinfo=False)``: the Kavita
writer writes the file itself when ``kavita.write`` includes ``comicinfo``, then asks Kavita to
scan that series.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from bdnex_core.errors import ConfigError
from bdnex_core.library import LibraryItem, WriteBack
from bdnex_kavita.client import KavitaClient
from bdnex_kavita.errors import KavitaError, KavitaHTTPError
from bdnex_kavita.paths import map_path
from bdnex_kavita.settings import KavitaSettings, kavita_settings

if TYPE_CHECKING:
    from bdnex_core.api import Settings

SOURCE_NAME = "kavita"
FORCE_TOKEN = "option:overwrite-locked"
LOCATION_KINDS = ("library", "series", "chapter")
BEDETHEQUE_ALBUM = re.compile(r"bedetheque\.com/[^,\s]*-(\d+)\.html")
# Kavita's reserved numbers: a chapter of no number, a file of no volume, the volume of specials
DEFAULT_NUMBER = -100000.0
SPECIAL_VOLUME = 100000.0


def parse_location(location: str) -> tuple[str, int | None]:
    """``library:3`` -> ("library", 3); ``all`` -> ("all", None)."""
    if location == "all":
        return "all", None
    kind, _, value = location.partition(":")
    if kind not in LOCATION_KINDS or not value.isdigit():
        raise KavitaError(
            f"{location!r} is not a Kavita location (expected library:ID, series:ID, chapter:ID or all; ids are numbers)"
        )
    return kind, int(value)


def resolve_libraries(client: KavitaClient, wanted: tuple[str, ...]) -> list[dict[str, Any]]:
    """The libraries named (or numbered) in ``wanted``; every library when it is empty."""
    libraries = client.libraries()
    if not wanted:
        return libraries
    chosen: list[dict[str, Any]] = []
    for name in wanted:
        found = [
            library
            for library in libraries
            if str(library.get("id")) == name or str(library.get("name") or "").casefold() == name.casefold()
        ]
        if not found:
            known = ", ".join(f"{library.get('name')} ({library.get('id')})" for library in libraries) or "none"
            raise ConfigError(f"Kavita at {client.url} has no library {name!r} (libraries: {known})")
        chosen.extend(library for library in found if library not in chosen)
    return chosen


def tome_of(volume: dict[str, Any], chapter: dict[str, Any]) -> str | None:
    """The number Kavita gave the album: its chapter number, else its volume's (a file named ``T03``)."""
    for value in (chapter.get("minNumber"), volume.get("minNumber")):
        if isinstance(value, int | float) and value not in (DEFAULT_NUMBER, SPECIAL_VOLUME) and value >= 0:
            return str(int(value)) if float(value).is_integer() else str(value)
    return None


def bedetheque_album_id(links: str | None) -> int | None:
    """The album id of a Bédéthèque album link among comma-separated links (``…-245127.html``)."""
    found = BEDETHEQUE_ALBUM.search(str(links or ""))
    return int(found.group(1)) if found else None


def describe(series: dict[str, Any], chapter: dict[str, Any]) -> str:
    return f"Kavita chapter {chapter.get('id')} ({series.get('name') or '?'})"


def item_from_chapter(
    series: dict[str, Any], volume: dict[str, Any], chapter: dict[str, Any], config: KavitaSettings, *, force: bool
) -> LibraryItem:
    """A library item for one chapter's file (the first, when Kavita grouped several files)."""
    files = [entry for entry in chapter.get("files") or [] if isinstance(entry, dict)]
    kavita_path = str(files[0].get("filePath") or "") if files else ""
    path_type = PureWindowsPath if "\\" in kavita_path else PurePosixPath
    name = path_type(kavita_path).name or f"chapter-{chapter.get('id')}.cbz"
    mapped = map_path(kavita_path, config.path_map) if kavita_path else None
    unavailable = None
    if mapped is None:
        unavailable = f"{describe(series, chapter)}: Kavita lists no file for it"
    elif not mapped.exists:
        if mapped.mapping is not None:
            unavailable = (
                f"{describe(series, chapter)}: Kavita's file {kavita_path} maps to {mapped.local} through "
                f"kavita.path_map ({mapped.mapping.kavita} -> {mapped.mapping.local}), which does not exist here"
            )
        elif config.path_map:
            unavailable = f"{describe(series, chapter)}: no kavita.path_map entry covers Kavita's file {kavita_path}"
        else:
            unavailable = (
                f"{describe(series, chapter)}: Kavita's file {kavita_path} is not a file here; "
                "add a kavita.path_map entry {kavita: ..., local: ...}"
            )
    hints: dict[str, Any] = {
        "kavita_chapter_id": chapter.get("id"),
        "kavita_volume_id": volume.get("id"),
        "kavita_series_id": series.get("id"),
        "kavita_library_id": series.get("libraryId"),
        "kavita_path": kavita_path,
        "series": series.get("name"),
        "number": tome_of(volume, chapter),
        "title": chapter.get("titleName") or None,
        "parent": path_type(kavita_path).parent.name or series.get("name"),
    }
    album_id = bedetheque_album_id(chapter.get("webLinks"))  # ours, from an earlier run
    if album_id:
        hints["bedetheque_id"] = album_id
    return LibraryItem(
        SOURCE_NAME,
        name=name,
        path=mapped.local if mapped is not None and mapped.exists else None,
        external_id=str(chapter.get("id")),
        hints=hints,
        write_back=WriteBack(comicinfo=False, force=force),
        unavailable=unavailable,
    )


def series_chapters(client: KavitaClient, series: dict[str, Any]) -> Iterator[tuple[dict, dict]]:
    """(volume, chapter) of a series, in Kavita's order (volumes, then chapters, by number)."""
    for volume in client.volumes(int(series["id"])):
        for chapter in volume.get("chapters") or []:
            if isinstance(chapter, dict) and isinstance(chapter.get("id"), int):
                yield volume, chapter


def iter_chapters(
    client: KavitaClient, config: KavitaSettings, locations: list[str]
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(series, volume, chapter) at ``locations``, each chapter once."""
    seen: set[int] = set()
    for location in locations:
        if location == FORCE_TOKEN:
            continue
        kind, value = parse_location(location)
        if kind == "series":
            assert value is not None
            series_list: Any = [client.series(value)]
        elif kind == "chapter":
            assert value is not None
            chapter = client.chapter(value)
            series = _series_of_chapter(client, chapter)
            found = [(volume, entry) for volume, entry in series_chapters(client, series) if entry.get("id") == value]
            for volume, entry in found[:1]:
                if value not in seen:
                    seen.add(value)
                    yield series, volume, entry
            continue
        else:
            ids: list[Any] = (
                [value]
                if kind == "library"
                else [library["id"] for library in resolve_libraries(client, config.libraries)]
            )
            series_list = (
                series
                for library_id in ids
                for series in client.iter_series(int(library_id), page_size=config.page_size)
            )
        for series in series_list:
            for volume, chapter in series_chapters(client, series):
                if chapter["id"] not in seen:
                    seen.add(chapter["id"])
                    yield series, volume, chapter


def _series_of_chapter(client: KavitaClient, chapter: dict[str, Any]) -> dict[str, Any]:
    """Kavita's ChapterDto names its volume, not its series: found through the volume."""
    volume_id = chapter.get("volumeId")
    answer = client.get_json("/api/Series/volume", {"volumeId": volume_id}) if isinstance(volume_id, int) else None
    series_id = answer.get("seriesId") if isinstance(answer, dict) else None
    if not isinstance(series_id, int):
        raise KavitaHTTPError(f"Kavita at {client.url}: chapter {chapter.get('id')} belongs to no series", 404)
    return client.series(series_id)


class KavitaSource:
    name = SOURCE_NAME

    def iter_items(self, settings: Settings, locations: list[str]) -> Iterator[LibraryItem]:
        config = kavita_settings(settings)
        client = KavitaClient(config)
        force = FORCE_TOKEN in locations
        for series, volume, chapter in iter_chapters(client, config, locations):
            yield item_from_chapter(series, volume, chapter, config, force=force)
