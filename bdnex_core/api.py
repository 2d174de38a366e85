"""The plugin API: what a plugin may use of the core besides the hooks, errors and library types.

Plugins (Komga, calibre, yours) import from here, ``bdnex_core.hookimpl``,
``bdnex_core.errors`` and ``bdnex_core.library`` only, so the core can reorganise its
internals (the CLI's modules, the pipeline, the archive code) without breaking them.
A test fails when the bundled plugins import anything else. Documented in
``docs/plugin_hooks.md``; names are only added here, never changed.

Heavy parts (the pipeline, the archive code) are imported when first called, so a
plugin importing this module at load time does not slow down every command.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bdnex_core.bedetheque.catalogue_row import CatalogueRow
from bdnex_core.cli.context import AppContext, echo_json, pass_app
from bdnex_core.cli.lazy import add_lazy_command
from bdnex_core.fileio import read_regular_file
from bdnex_core.isbn import to_isbn13
from bdnex_core.library import LibraryItem
from bdnex_core.pipeline.options import TagOptions
from bdnex_core.signals import stop_on_signals

if TYPE_CHECKING:
    import threading

    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.pipeline.runner import RunSummary
    from bdnex_core.service.upkeep import ServiceUpkeep

__all__ = [
    "AppContext",
    "BDneXDB",
    "CatalogueRow",
    "RunSummary",
    "Settings",
    "TagOptions",
    "add_lazy_command",
    "album_cover",
    "catalogue_rows",
    "comic_kind",
    "comicinfo_for",
    "echo_json",
    "fetch_album",
    "match_name",
    "pass_app",
    "person_name",
    "read_comicinfo",
    "read_regular_file",
    "report_tagging",
    "retry_site_now",
    "run_tagging",
    "series_of_album",
    "service_upkeep",
    "stop_on_signals",
    "tag_and_report",
    "to_isbn13",
    "write_comicinfo",
]


# types plugins annotate with, imported on first use rather than by every command (PEP 562)
_LAZY_TYPES = {
    "BDneXDB": "bdnex_core.db",
    "RunSummary": "bdnex_core.pipeline.runner",
    "Settings": "bdnex_core.config",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_TYPES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def run_tagging(settings: Settings, db: BDneXDB, items: Sequence[LibraryItem], options: TagOptions) -> RunSummary:
    """Tag ``items`` in a new session (matching, review queue, writers, notifications) and return its summary.

    ``options.source`` and ``options.locations`` say where the items came from, so that
    ``bdnex-core tag --resume ID`` can ask your library source for them again. With
    ``options.interactive``, uncertain matches are asked about on the terminal (as ``tag`` does).
    """
    from bdnex_core.cli.context import follow_up_of_this_command
    from bdnex_core.pipeline.review import terminal_reviewer
    from bdnex_core.pipeline.review_service import ReviewService
    from bdnex_core.pipeline.runner import run_tagging as run

    review_command = follow_up_of_this_command()("review")
    reviewer = (
        terminal_reviewer(lambda: ReviewService(settings, db), review_command=review_command)
        if options.interactive
        else None
    )
    return run(settings, db, list(items), options, reviewer=reviewer)


def report_tagging(summary: RunSummary, *, dry_run: bool = False, as_json: bool = False) -> None:
    """Print a session's summary as ``bdnex-core tag`` does: a table (and the changes of a dry run), or JSON."""
    from bdnex_core.cli.context import follow_up_of_this_command
    from bdnex_core.cli.tag import echo_database_stop, print_summary

    if as_json:
        echo_json(summary.to_dict())
        echo_database_stop(summary, follow_up_of_this_command())
        return

    print_summary(summary, follow_up=follow_up_of_this_command(), dry_run=dry_run)


def tag_and_report(app: AppContext, items: Sequence[LibraryItem], options: TagOptions, *, as_json: bool) -> RunSummary:
    """Tag ``items`` with the command's settings and database, print the summary; end the command with
    ``raise SystemExit(summary.exit_code)`` so the exit code says how the run went."""
    summary = run_tagging(app.settings, app.db, items, options)
    report_tagging(summary, dry_run=options.dry_run, as_json=as_json)
    return summary


def comic_kind(path: str | Path) -> str:
    """What a comic file really is, by content: ``cbz``, ``cbr``, ``cb7``... whatever its extension says."""
    from bdnex_core import archive

    return str(archive.detect_kind(path))


def write_comicinfo(
    item: LibraryItem, metadata: Any, settings: Settings, *, delete_original: bool | None = None
) -> Path:
    """Write ``metadata`` (a :class:`bdnex_core.comicinfo.ComicInfo`) into the item's local file, atomically.

    A CBZ is written in place (its modification time kept when ``archives.preserve_mtime``), inside a
    tagging run's journal when a writer calls this (``archives.write``), else through an atomic copy;
    a CBR/CB7 is converted to a CBZ beside it, the original removed only when
    ``delete_original`` (default: ``archives.delete_converted_originals``). Returns the CBZ written.
    Raises :class:`bdnex_core.errors.ArchiveError` when the file cannot be written safely.
    """
    from bdnex_core import archive
    from bdnex_core.archives import WritePolicy

    if item.path is None:
        raise ValueError(f"{item.name}: no local file to write ComicInfo into")
    xml = metadata.to_xml(settings.comicinfo.version)
    if comic_kind(item.path) == "cbz":
        policy = WritePolicy.from_settings(settings.archives)
        archive.write_comicinfo(item.path, xml, preserve_mtime=settings.archives.preserve_mtime, policy=policy)
        return item.path
    delete = settings.archives.delete_converted_originals if delete_original is None else delete_original
    return Path(archive.convert_to_cbz(item.path, xml, delete_original=delete))


def album_cover(settings: Settings, album: Mapping[str, Any]) -> bytes:
    """The cover image of an album (``Album.to_dict()``, as ``file_tagged`` receives it), fetched
    through the polite Bédéthèque client and kept in the cache. Raises a ``CatalogueError`` when
    the site has none or cannot answer."""
    from bdnex_core.bedetheque.album import Album
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.bedetheque.service import fetch_cover

    return fetch_cover(BedethequeClient(settings), Album.from_dict(dict(album)))


def comicinfo_for(settings: Settings, item: LibraryItem, album: Any) -> Any:
    """The ``ComicInfo`` the writers get for ``item`` and ``album`` (a ``RunSummary`` outcome's): the
    album's, merged into the file's own ComicInfo.xml as ``comicinfo.merge_policy`` says (what a
    dry run's writer-side preview needs)."""
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


def retry_site_now() -> None:
    """Forget that Bédéthèque stopped the last run (a tripped breaker holds for the process): for a
    long-running plugin (a watcher) that paused on its own and now tries again. Hourly counts stay."""
    from bdnex_core.bedetheque.client import reset_breakers

    reset_breakers()


def service_upkeep(
    settings: Settings,
    db: BDneXDB,
    *,
    command: str,
    stop: threading.Event,
    status: Callable[[], Mapping[str, Any]] | None = None,
) -> ServiceUpkeep:
    """What a long-running command does beside its events, in one place for every adapter: use it as
    ``with service_upkeep(...) as upkeep:`` around the loop and call ``upkeep.tick(paused=...)`` on each
    turn (``paused``: your queue holds its work because Bédéthèque cannot be used now).

    It refreshes the catalogue index every ``service.catalogue_refresh_days`` (polite, resumable, never
    while paused; stopped by ``stop``) and, when ``BDNEX_HEALTH_FILE`` is set, writes the heartbeat that
    ``bdnex-core health`` checks, with what ``status()`` returns (your counters; called from another
    thread). ``command`` names the service in the heartbeat (``"komga watch"``).
    """
    from bdnex_core.service.upkeep import ServiceUpkeep

    return ServiceUpkeep(settings, db, command=command, stop=stop, status=status)


def catalogue_rows(db: BDneXDB) -> Iterator[CatalogueRow]:
    """Every album of the local catalogue, as named rows."""
    from bdnex_core.bedetheque.catalogue import Catalogue

    yield from Catalogue(db).rows()


def fetch_album(settings: Settings, db: BDneXDB, album_id: int) -> Any:
    """An album (``Album``; ``to_dict()`` for JSON): from the cache while valid, else fetched through
    the polite client and cached. Raises a ``CatalogueError`` when the site cannot answer."""
    from bdnex_core.bedetheque.album import Album

    cached = db.get_cached_album(album_id)
    if cached is not None:  # no HTTP client nor page parser to import (a calibre lookup runs this per album)
        return Album.from_dict(cached)
    from bdnex_core.bedetheque.client import BedethequeClient
    from bdnex_core.bedetheque.service import fetch_album as fetch

    return fetch(BedethequeClient(settings), db, album_id)


def series_of_album(settings: Settings, album_id: int | str | None) -> dict[str, Any] | None:
    """The series record of an album, as its series page gave it: ``series_id``, ``title``, ``summary``,
    ``genres``, ``status`` (the site's words) and ``normal_status`` (``ended``, ``ongoing``,
    ``abandoned``, ``hiatus`` or ``None``), ``tome_count``, ``origin``, ``language``, ``publishers`` and
    ``publisher`` (chosen once per series, never changed after), ``albums``. ``None`` when no page of
    the album's series was read (series-level fields must then not come from the album). Reads the
    configured database; asks the site nothing."""
    from bdnex_core.bedetheque.series import SeriesRecord
    from bdnex_core.db import BDneXDB

    if album_id is None or not str(album_id).isdigit():
        return None
    with BDneXDB(settings=settings, schema_ready=True) as db:
        if not db.backend.table_exists("bdgest_series"):
            return None  # a database this version has not opened yet: no series was read into it
        series_id = db.series.of_album(int(album_id))
        data = db.series.get(series_id, fresh=False) if series_id is not None else None
    return None if data is None else SeriesRecord.from_dict(data).summary_dict()


def read_comicinfo(path: str | Path) -> dict[str, str] | None:
    """The fields of a comic file's ComicInfo.xml (``{"Series": ..., "Web": ...}``), or ``None`` when it
    has none or an unusable one. Raises ``ArchiveError`` when the archive itself cannot be read."""
    from bdnex_core import archive
    from bdnex_core.comicinfo import read_comicinfo_safely

    with archive.open_archive(path) as comic:
        info, _problem = read_comicinfo_safely(comic.comicinfo_bytes())
    return None if info is None else dict(info.fields)


def person_name(name: str) -> str | None:
    """A Bédéthèque name ("Jarry, Nicolas") as ComicInfo writes it ("Nicolas Jarry"); ``None`` for
    a pseudo-author ("<Collectif>")."""
    from bdnex_core.comicinfo import person_name as display

    return display(name)


def match_name(settings: Settings, db: BDneXDB, name: str) -> dict[str, Any]:
    """How the core matches a file name (``Série - T01 - Titre.cbz``; a folder before it helps, as for
    ``tag``) against the local catalogue index, as ``bdnex-core identify`` prints it: ``decision``
    (``accept``, ``review``, ``none``), ``reason``, the ``accept_threshold`` and ``review_threshold``
    in force, and ``candidates`` best first, each with ``album_id``, ``url``, ``score``, ``confidence``,
    ``caps`` (why it may not be accepted automatically), ``title_only`` (found by its album title
    alone: the name gave no series), ``ambiguous`` (another album is as close), ``hard_caps`` (the
    caps that are neither of those two) and ``explain``.
    No page is fetched."""
    from pathlib import PurePath

    from bdnex_core.matching.decide import AMBIGUOUS_CAP
    from bdnex_core.matching.filename import parse_filename
    from bdnex_core.matching.score import TITLE_ONLY_CAP
    from bdnex_core.pipeline.catalogue_matcher import load_matcher

    path = PurePath(name)
    result = load_matcher(settings, db).match(parse_filename(path.name, parent=path.parent.name or None))
    return {
        "decision": str(result.decision),
        "reason": result.reason,
        "accept_threshold": settings.matching.accept_threshold,
        "review_threshold": settings.matching.review_threshold,
        "candidates": [
            {
                "album_id": candidate.album_id,
                "url": candidate.url,
                "score": round(candidate.score, 4),
                "confidence": round(candidate.confidence, 4),
                "caps": list(candidate.caps),
                "title_only": any(cap.startswith(TITLE_ONLY_CAP) for cap in candidate.caps),
                "ambiguous": any(cap.startswith(AMBIGUOUS_CAP) for cap in candidate.caps),
                "hard_caps": [cap for cap in candidate.caps if not cap.startswith((TITLE_ONLY_CAP, AMBIGUOUS_CAP))],
                "explain": candidate.explain(),
            }
            for candidate in result.candidates
        ],
    }
