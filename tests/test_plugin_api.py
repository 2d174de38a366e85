"""The plugin API (bdnex_core.api): plugins use it, the hooks, errors and library types, nothing else."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

from bdnex_core import api
from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.comicinfo import ComicInfo
from bdnex_core.config import from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.library import LibraryItem
from tests.conftest import REPO_ROOT

PLUGIN_PACKAGES = [
    REPO_ROOT / "plugins" / "komga" / "bdnex_komga",
    REPO_ROOT / "plugins" / "kavita" / "bdnex_kavita",
    REPO_ROOT / "plugins" / "calibre" / "bdnex_calibre",
]
# the ComicTagger talker (ComicTagger's plugin that calls bdnex-core) is held to the same rule
COMICTAGGER_PACKAGE = REPO_ROOT / "plugins" / "comictagger" / "bdnex_comictagger"
ALLOWED_MODULES = {"bdnex_core.api", "bdnex_core.errors", "bdnex_core.library", "bdnex_core.hookspecs"}
ALLOWED_FROM_ROOT = {"hookimpl", "api", "errors", "library", "hookspecs"}


def _core_imports(path: Path) -> list[tuple[int, str]]:
    """Every import of bdnex_core in a module (TYPE_CHECKING and function-level ones included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bdnex_core":
            if node.module == "bdnex_core":
                found += [(node.lineno, f"bdnex_core.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "bdnex_core"]
    return found


def _offending_imports(packages: list[Path]) -> list[str]:
    offending = []
    modules = [path for package in packages for path in package.rglob("*.py")]
    assert modules
    for path in modules:
        for line, module in _core_imports(path):
            name = module.removeprefix("bdnex_core.")
            if module in ALLOWED_MODULES or ("." not in name and name in ALLOWED_FROM_ROOT):
                continue
            offending.append(f"{path.relative_to(REPO_ROOT)}:{line}: {module}")
    return offending


def test_every_adapter_is_checked():
    assert {path.name for path in [*PLUGIN_PACKAGES, COMICTAGGER_PACKAGE]} == {
        path.parent.name for path in (REPO_ROOT / "plugins").glob("*/bdnex_*/__init__.py")
    }


def test_bundled_plugins_import_only_the_plugin_api():
    offending = _offending_imports(PLUGIN_PACKAGES)
    assert not offending, "plugins must use bdnex_core.api, not core internals:\n" + "\n".join(offending)


def test_comictagger_talker_imports_only_the_plugin_api():
    offending = _offending_imports([COMICTAGGER_PACKAGE])
    assert not offending, "the talker must use bdnex_core.api, not core internals:\n" + "\n".join(offending)


def test_catalogue_rows_are_named(tmp_path):
    db = BDneXDB(tmp_path / "bdnex.db")
    url = "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html"
    entry = parse_album_url(url)
    assert entry is not None
    Catalogue(db).replace_sitemap("sitemap-1.xml", [entry])
    (row,) = list(api.catalogue_rows(db))
    assert isinstance(row, api.CatalogueRow)
    assert (row.album_id, row.series_slug, row.tome, row.tome_number) == (245127, "Nains", "1", 1)
    assert row.url == url and row.title_slug == entry.title_slug
    db.close()


def test_write_comicinfo_for_an_item(tmp_path):
    settings = from_mapping({})
    comic = write_cbz(tmp_path / "Nains T01.cbz", sample_pages("Nains", 2, 1))
    item = LibraryItem(source="test", name=comic.name, path=comic)
    assert api.comic_kind(comic) == "cbz"
    written = api.write_comicinfo(item, ComicInfo(fields={"Series": "Nains", "Number": "1"}), settings)
    assert written == comic
    with zipfile.ZipFile(comic) as archive:
        assert b"<Series>Nains</Series>" in archive.read("ComicInfo.xml")
        assert len([name for name in archive.namelist() if name.endswith(".jpg")]) == 2
    with pytest.raises(ValueError, match="no local file"):
        api.write_comicinfo(LibraryItem(source="test", name="remote"), ComicInfo(), settings)


def test_api_names_are_documented():
    text = (REPO_ROOT / "docs" / "plugin_hooks.md").read_text("utf-8")
    missing = [name for name in api.__all__ if f"`{name}" not in text]
    assert not missing, f"bdnex_core.api names not in docs/plugin_hooks.md: {missing}"
    for name in api.__all__:
        assert getattr(api, name) is not None


def test_album_cover_through_the_polite_client_and_its_cache(tmp_path):
    from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
    from bdnex_core.bedetheque.service import fetch_album
    from bdnex_core.demo.fakesite import FakeBedetheque

    with FakeBedetheque() as site:
        reset_politeness()
        settings = from_mapping({**site.settings_mapping(), "cache": {"dir": str(tmp_path / "cache")}})
        db = BDneXDB(tmp_path / "bdnex.db")
        album_id = next(album_id for album_id in sorted(site.catalogue.albums) if album_id not in (245127, 272757))
        album = fetch_album(BedethequeClient(settings), db, album_id).to_dict()
        assert album["cover_url"].startswith(site.base_url)
        cover = api.album_cover(settings, album)
        assert cover[:2] == b"\xff\xd8"  # a JPEG
        requests_before = len(site.log)
        assert api.album_cover(settings, album) == cover  # from the cache, no new request
        assert len(site.log) == requests_before
        db.close()
