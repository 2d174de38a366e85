"""The Bédéthèque talker: ComicTagger's view of bdnex-core's client, caches and catalogue index.

Series are found in the local catalogue index (built from the site's sitemaps, fetched once
into the bdnex-core database); listing a series' albums costs no request; an album costs one
page fetch, none when bdnex-core's album cache has it. Both tools share one database, one
album cache and, within a process, one rate limiter and circuit breaker.
"""

from __future__ import annotations

import logging
import pathlib
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlparse

import settngs
from comicapi.genericmetadata import ComicSeries, GenericMetadata, ImageHash, MetadataOrigin
from comicapi.utils import parse_url
from comictalker.comictalker import ComicTalker, RLCallBack, TalkerDataError, TalkerNetworkError

from bdnex_comictagger.mapping import album_metadata, series_aliases, series_display_name
from bdnex_comictagger.tomes import canonical_issue, display_issue, series_without_marker
from bdnex_core import api
from bdnex_core.api import CatalogueRow
from bdnex_core.errors import (
    BdnexError,
    BlockedError,
    CatalogueError,
    HourlyCapReached,
    NotFound,
    ParseError,
    RateLimited,
    Unreachable,
)

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://www.bedetheque.com/"
DEFAULT_MOBILE_URL = "https://m.bedetheque.com/"
DEFAULT_DELAY = 3.0
# TalkerNetworkError sub-codes: ComicTagger's own (0 general, 1 refused, 3 rate limit, 4 timeout,
# 5 retries exceeded) plus one for a site that refuses us outright.
NETWORK_GENERAL, NETWORK_REFUSED, NETWORK_RATE_LIMIT, NETWORK_TIMEOUT, NETWORK_RETRIES = 0, 1, 3, 4, 5
NETWORK_BLOCKED = 6


def talker_error(source: str, error: BdnexError) -> Exception:
    """bdnex-core's error as ComicTagger's, with a sub-code the GUI and CLI can act on."""
    message = str(error)
    if isinstance(error, BlockedError):
        return TalkerNetworkError(source, NETWORK_BLOCKED, f"Bédéthèque is blocking requests: {message}")
    if isinstance(error, ParseError):
        return TalkerDataError(source, 2, message)
    if isinstance(error, NotFound):
        return TalkerDataError(source, 3, message)
    if isinstance(error, (RateLimited, HourlyCapReached)):
        return TalkerNetworkError(source, NETWORK_RATE_LIMIT, message)
    if isinstance(error, Unreachable):
        if error.timed_out:
            return TalkerNetworkError(source, NETWORK_TIMEOUT, message)
        # answered 5xx every time: the retries ran out; no answer at all: refused
        return TalkerNetworkError(source, NETWORK_RETRIES if error.status else NETWORK_REFUSED, message)
    if isinstance(error, CatalogueError):
        return TalkerNetworkError(source, NETWORK_GENERAL, message)
    return TalkerDataError(source, 0, message)


class _Core:
    """bdnex-core objects for one configuration, created on first use."""

    def __init__(self, settings: Any):
        self.settings = settings
        self.client = api.BedethequeClient(settings)
        self.db = api.BDneXDB(settings=settings)
        self._index: Any = None
        self._lock = threading.Lock()
        self.rows_by_id: dict[int, CatalogueRow] = {}
        self.rows_by_series: dict[str, list[CatalogueRow]] = {}

    def index(self) -> Any:
        """The catalogue index; the sitemaps are fetched once when the local catalogue is empty."""
        with self._lock:
            if self._index is None:
                catalogue = api.Catalogue(self.db)
                if catalogue.count() == 0:
                    logger.info("bedetheque: building the local catalogue from the site's sitemaps (once)")
                    catalogue.update_online(self.client)
                rows = list(catalogue.rows())
                for row in rows:
                    self.rows_by_id[row.album_id] = row
                    self.rows_by_series.setdefault(row.series_slug or row.series_norm, []).append(row)
                self._index = api.CatalogueIndex.build(rows)
            return self._index

    def series_slug_of_album(self, album_id: int) -> str | None:
        row = self.rows_by_id.get(album_id)
        return (row.series_slug or row.series_norm) if row else None

    def series_slug_of(self, series_number: int) -> str:
        album_id = self.index().series_albums(series_number)[0].album_id
        row = self.rows_by_id[album_id]
        return row.series_slug or row.series_norm


LOGO = pathlib.Path(__file__).with_name("logo.png")


class BedethequeTalker(ComicTalker):
    name: str = "Bédéthèque"
    id: str = "bedetheque"
    comictagger_min_ver: str = "1.6.0b9"
    website: str = "https://www.bedetheque.com"
    # shipped in the package: ComicTagger's windows fetch the logo themselves (Qt's network access, no
    # politeness, no breaker, whatever the configured site), and a file: URL reaches no host at all
    logo_url: str = LOGO.as_uri()
    attribution: str = f"Metadata provided by <a href='{website}'>Bédéthèque</a> (BDGest), through bdnex-core"
    about: str = (
        f"<a href='{website}'>Bédéthèque</a> is the reference database of French-language comics. "
        "It has no API: this source reads its pages politely (one page per album, cached), and finds "
        "series in a local index of the site's sitemaps shared with bdnex-core."
    )

    def __init__(self, version: str, cache_folder: pathlib.Path):
        super().__init__(version, cache_folder)
        self.default_api_url = self.api_url = DEFAULT_URL
        self.delay = DEFAULT_DELAY
        self.db_path = ""
        self.bdnex_config = ""
        self._core: _Core | None = None
        self._core_lock = threading.Lock()

    # ------------------------------------------------------------------ settings

    def register_settings(self, parser: settngs.Manager) -> None:
        # Bédéthèque has no API key: replace ComicTagger's generic option by a hidden one
        parser.add_setting(
            f"--{self.id}-key",
            default=None,
            cmdline=False,
            file=False,
            display_name="API Key",
            help="Unused: Bédéthèque has no API key",
        )
        parser.add_setting(
            f"--{self.id}-delay",
            default=DEFAULT_DELAY,
            type=float,
            display_name="Politeness delay",
            help="Minimum seconds between two requests to Bédéthèque (default: %(default)s). "
            "Lower values risk a ban of your IP address.",
        )
        parser.add_setting(
            f"--{self.id}-db",
            default="",
            display_name="bdnex-core database",
            help="The bdnex-core database holding the catalogue index and the album cache "
            "(default: bdnex-core's configured database)",
        )
        parser.add_setting(
            f"--{self.id}-bdnex-config",
            default="",
            display_name="bdnex-core config file",
            help="A bdnex-core config.yaml for the other client settings "
            "(cookies file, transport, hourly cap; default: bdnex-core's usual file)",
        )

    def parse_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super().parse_settings(settings)
        self.delay = float(settings.get(f"{self.id}_delay") or DEFAULT_DELAY)
        self.db_path = settings.get(f"{self.id}_db") or ""
        self.bdnex_config = settings.get(f"{self.id}_bdnex_config") or ""
        with self._core_lock:
            self._core = None
        return settings

    def core_settings(self, url: str | None = None, delay: float | None = None, db_path: str | None = None) -> Any:
        """bdnex-core settings: its own config file, then this source's settings on top."""
        from dataclasses import replace

        settings = api.load_settings(self.bdnex_config or None, db_path or self.db_path or None)
        base = (url or self.api_url or DEFAULT_URL).rstrip("/") + "/"
        # a custom URL (a mirror, a local test site) serves the mobile pages too
        mobile = DEFAULT_MOBILE_URL if base == DEFAULT_URL else base
        catalogue = replace(
            settings.catalogue,
            base_url=base,
            mobile_base_url=mobile,
            min_delay_seconds=self.delay if delay is None else delay,
            jitter_seconds=min(settings.catalogue.jitter_seconds, (self.delay if delay is None else delay) / 2),
        )
        return replace(settings, catalogue=catalogue)

    def core(self) -> _Core:
        with self._core_lock:
            if self._core is None:
                try:
                    self._core = _Core(self.core_settings())
                except BdnexError as exc:
                    raise talker_error(self.name, exc) from None
            return self._core

    # ------------------------------------------------------------------ status

    def check_status(self, settings: dict[str, Any]) -> tuple[str, bool]:
        url = settings.get(f"{self.id}_url") or DEFAULT_URL
        try:
            client = api.BedethequeClient(
                self.core_settings(url=url, delay=0.0, db_path=settings.get(f"{self.id}_db") or None)
            )
            client.get("sitemap.xml")
        except BlockedError as exc:
            return f"Bédéthèque is blocking requests from this address: {exc}", False
        except BdnexError as exc:
            return f"Bédéthèque did not answer: {exc}", False
        return "The Bédéthèque site answers.", True

    # ------------------------------------------------------------------ helpers

    def _call(self, function: Callable[[], Any]) -> Any:
        try:
            return function()
        except BdnexError as exc:
            raise talker_error(self.name, exc) from None

    def _cover_url(self, core: _Core, album_id: int, cover_url: str | None = None) -> str:
        # always on the configured site: a recorded page's absolute URL must not leave it
        path = urlparse(cover_url).path if cover_url else f"/media/Couvertures/Couv_{album_id}.jpg"
        return urljoin(core.client.base_url, path.lstrip("/"))

    def _series(self, core: _Core, slug: str, query: str = "", *, named: bool = False) -> ComicSeries:
        """``named``: the search found this series for ``query`` by its name (with an edition qualifier or
        year the query left out) or by one of its album titles: the query becomes one of its aliases, so
        ComicTagger's own name check (about 90 %) lets the covers decide."""
        rows = core.rows_by_series.get(slug)
        if not rows:
            raise TalkerDataError(self.name, 3, f"no series {slug!r} in the local Bédéthèque catalogue")
        name = series_display_name(slug)
        aliases = series_aliases(name, query)
        if named and query and query != name:
            aliases.add(query)
        regular = [row for row in rows if row.tome_kind == "regular"]
        first = min(rows, key=lambda row: (row.tome_number if row.tome_number is not None else 10**6, row.album_id))
        return ComicSeries(
            id=slug,
            name=name,
            aliases=aliases,
            count_of_issues=len(regular) or len(rows),
            count_of_volumes=None,
            description="",
            image_url=self._cover_url(core, first[0]),
            publisher="",
            start_year=None,
            format=None,
            web_links=[],
        )

    def _issue_stub(self, core: _Core, row: CatalogueRow, series: ComicSeries) -> GenericMetadata:
        """An album from the index alone (no request): enough for listing and cover matching."""
        album_id, url, tome, title_slug = row.album_id, row.url, row.tome, row.title_slug
        metadata = GenericMetadata(
            data_origin=MetadataOrigin(self.id, self.name),
            issue_id=str(album_id),
            series_id=series.id,
            series=series.name,
            series_aliases=set(series.aliases),
            issue=display_issue(tome),
            issue_count=series.count_of_issues,
            title=(title_slug or "").replace("-", " ").strip() or None,
            language="fr",
        )
        cached = core.db.albums.get(album_id)
        if cached:
            metadata.year = _year(cached)
        metadata.web_links = [parse_url(urljoin(core.client.base_url, urlparse(url).path.lstrip("/")))]
        metadata._cover_image = ImageHash(URL=self._cover_url(core, album_id), Hash=0, Kind="")
        metadata.is_empty = False
        return metadata

    # ------------------------------------------------------------------ talker API

    def search_for_series(
        self,
        series_name: str,
        callback: Callable[[int, int], None] | None = None,
        refresh_cache: bool = False,
        literal: bool = False,
        series_match_thresh: int = 90,
        *,
        on_rate_limit: RLCallBack | None = None,
    ) -> list[ComicSeries]:
        core = self.core()
        index = self._call(core.index)
        queries = [api.normalize(series_name)]
        if not literal:
            # ComicTagger's parsers leave French tome markers in the name ("Nains - T01 - Redwin"), a
            # trailing "Tome" or year ("Kamisama Dolls Tome", "All Star Western 2011")
            for extra in (
                api.normalize(series_without_marker(series_name)),
                api.parse_filename(series_name).series_norm,
            ):
                if extra and extra not in queries:
                    queries.append(extra)
        named: dict[str, bool] = {}  # series slug -> found by its name (see _series), in search order
        threshold = max(0.0, min(series_match_thresh, 100) / 100 - 0.2)
        for query in queries:
            for hit in index.find_series(query, limit=20):
                if hit.similarity >= threshold:
                    slug = core.series_slug_of(hit.series)
                    named[slug] = named.get(slug, False) or (not literal and hit.how in ("exact", "prefix"))
        if not named and not literal:
            # a name that gives the album's title only ("01 - Redwin de la Forge" is Nains tome 1)
            for query in queries:
                for album in index.albums_titled(api.title_key(query)):
                    slug = core.series_slug_of_album(album.album_id)
                    if slug:
                        named[slug] = True
        found = [self._series(core, slug, series_name, named=by_name) for slug, by_name in named.items()]
        if callback is not None:
            callback(len(found), len(found))
        return found

    def fetch_series(self, series_id: str, *, on_rate_limit: RLCallBack | None = None) -> ComicSeries:
        core = self.core()
        self._call(core.index)
        return self._series(core, series_id)

    def fetch_issues_in_series(
        self, series_id: str, *, on_rate_limit: RLCallBack | None = None
    ) -> list[GenericMetadata]:
        core = self.core()
        self._call(core.index)
        series = self._series(core, series_id)
        rows = sorted(
            core.rows_by_series[series_id],
            key=lambda row: (row.tome_number if row.tome_number is not None else 10**6, row.tome or "", row.album_id),
        )
        return [self._issue_stub(core, row, series) for row in rows]

    def fetch_issues_by_series_issue_num_and_year(
        self, series_id_list: list[str], issue_number: str, year: int | None, *, on_rate_limit: RLCallBack | None = None
    ) -> list[GenericMetadata]:
        core = self.core()
        self._call(core.index)
        wanted = canonical_issue(issue_number)
        results: list[GenericMetadata] = []
        for series_id in series_id_list:
            if series_id not in core.rows_by_series:
                continue
            series = self._series(core, series_id)
            for row in core.rows_by_series[series_id]:
                if canonical_issue(row.tome or "") != wanted:
                    continue
                issue = self._issue_stub(core, row, series)
                # the year is known only for albums already fetched; others stay candidates
                if year is not None and issue.year is not None and abs(issue.year - int(year)) > 1:
                    continue
                results.append(issue)
        return results

    def fetch_comic_data(
        self,
        issue_id: str | None = None,
        series_id: str | None = None,
        issue_number: str = "",
        *,
        on_rate_limit: RLCallBack | None = None,
    ) -> GenericMetadata:
        core = self.core()
        if issue_id:
            digits = re.search(r"(\d+)(?:\.html)?/?$", str(issue_id))
            if not digits:
                raise TalkerDataError(self.name, 1, f"not a Bédéthèque album id: {issue_id!r}")
            album_id = int(digits.group(1))
        elif series_id and issue_number:
            matches = self.fetch_issues_by_series_issue_num_and_year([series_id], issue_number, None)
            if not matches:
                return GenericMetadata()
            album_id = int(matches[0].issue_id or 0)
        else:
            return GenericMetadata()
        # one album looked at in full (its summary, colorist, rating): its own page, no series page
        album = self._call(
            lambda: api.fetch_album_through(core.client, core.db, album_id, read_series=False, album_pages="always")
        )
        metadata = album_metadata(album, source=MetadataOrigin(self.id, self.name))
        metadata.series_id = series_id or self._series_id_for(core, album_id) or metadata.series_id
        metadata._cover_image = ImageHash(URL=self._cover_url(core, album.album_id, album.cover_url), Hash=0, Kind="")
        return metadata

    def _series_id_for(self, core: _Core, album_id: int) -> str | None:
        if core._index is None:
            return None  # an --id lookup needs no catalogue
        row = core.rows_by_id.get(album_id)
        return (row.series_slug or row.series_norm) if row else None


def _year(cached: dict[str, Any]) -> int | None:
    date = cached.get("release_date") or cached.get("legal_deposit")
    return int(date[:4]) if date and str(date)[:4].isdigit() else None
