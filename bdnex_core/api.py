"""The plugin API: what a plugin may use of the core besides the hooks, errors and library types.

Plugins (Komga, calibre, yours) import from here, ``bdnex_core.hookimpl``,
``bdnex_core.errors`` and ``bdnex_core.library`` only, so the core can reorganise its
internals (the CLI's modules, the pipeline, the archive code) without breaking them.
A test fails when the bundled plugins import anything else. Documented in
``docs/plugin_hooks.md``; names are only added here, never changed.

This module only re-exports: the calls come from the application (:mod:`bdnex_core.app.operations`)
and the pipeline, the click side of a plugin's commands from :mod:`bdnex_core.cli.plugin_commands`.
Heavy parts (the pipeline, the archive code, the HTTP client) are imported on first use (PEP 562), so
a plugin importing this module at load time does not slow down every command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bdnex_core.bedetheque.catalogue_row import CatalogueRow
from bdnex_core.cli.plugin_commands import (
    AppContext,
    add_lazy_command,
    echo_json,
    pass_app,
    report_tagging,
    run_tagging,
)
from bdnex_core.isbn import to_isbn13
from bdnex_core.pipeline.options import TagOptions
from bdnex_core.signals import stop_on_signals

if TYPE_CHECKING:
    from bdnex_core.app.albums import fetch_album
    from bdnex_core.app.match import match_name
    from bdnex_core.app.operations import (
        TRAILING_ARTICLE_SET,
        Album,
        BedethequeClient,
        Catalogue,
        CatalogueIndex,
        album_cover,
        catalogue_rows,
        comic_kind,
        comicinfo_for,
        fetch_album_through,
        load_settings,
        move_article,
        normalize,
        parse_filename,
        read_comicinfo,
        retry_site_now,
        series_of_album,
        service_upkeep,
        strip_articles,
        title_key,
        write_comicinfo,
    )
    from bdnex_core.bedetheque.album import person_name
    from bdnex_core.config import Settings
    from bdnex_core.db import BDneXDB
    from bdnex_core.fileio import read_regular_file
    from bdnex_core.pipeline.runner import RunSummary

__all__ = [
    "TRAILING_ARTICLE_SET",
    "Album",
    "AppContext",
    "BDneXDB",
    "BedethequeClient",
    "Catalogue",
    "CatalogueIndex",
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
    "fetch_album_through",
    "load_settings",
    "match_name",
    "move_article",
    "normalize",
    "parse_filename",
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
    "strip_articles",
    "title_key",
    "to_isbn13",
    "write_comicinfo",
]

# name -> the module that has it, imported when a plugin first asks for the name (PEP 562)
_ON_FIRST_USE = {
    "BDneXDB": "bdnex_core.db",
    "RunSummary": "bdnex_core.pipeline.runner",
    "Settings": "bdnex_core.config",
    "fetch_album": "bdnex_core.app.albums",
    "read_regular_file": "bdnex_core.fileio",
    "match_name": "bdnex_core.app.match",
    "person_name": "bdnex_core.bedetheque.album",
    **dict.fromkeys(
        (
            "album_cover",
            "catalogue_rows",
            "comic_kind",
            "comicinfo_for",
            "read_comicinfo",
            "retry_site_now",
            "series_of_album",
            "service_upkeep",
            "write_comicinfo",
            # for a metadata source that searches the catalogue itself (the ComicTagger talker)
            "Album",
            "BedethequeClient",
            "Catalogue",
            "CatalogueIndex",
            "TRAILING_ARTICLE_SET",
            "fetch_album_through",
            "load_settings",
            "move_article",
            "normalize",
            "parse_filename",
            "strip_articles",
            "title_key",
        ),
        "bdnex_core.app.operations",
    ),
}


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
