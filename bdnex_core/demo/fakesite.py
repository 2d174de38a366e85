"""A local stand-in for Bédéthèque, for tests, benchmarks and the demo (127.0.0.1 only).

It serves what the real site serves to our client: the home page (with the
``csrf_cookie_bel`` cookie), the sitemap index and album sitemaps (ETag/Last-Modified,
304 on conditional requests), mobile album and series pages for every album of its
catalogue, and covers. Its catalogue is generated (a few hundred albums) unless sitemaps
are given; pages and covers are generated in the real mobile template, except where a
folder of recorded real pages is given (the test suite passes the developers' fixtures).
Fault modes reproduce what scrapers meet: 429 with Retry-After, 503, slow answers, a
Cloudflare challenge, the IP-ban page, truncated HTML, a cookie required, an answer without
end (``huge``), a page sent one byte at a time (``drip``; ``drip_all``: its status line and
headers too). A strict mode (``strict=StrictRules(...)``) behaves like a strict real site: 429 with
Retry-After to a request arriving closer than its minimum gap to another, and a ``csrf_cookie_bel``
cookie that expires (403 without a valid one). Every request is logged with its **arrival** time (the
moment its request line was read) and the time it was answered. ``stop()`` closes open connections
too, like a site that went away, and ``start()`` again listens on the same port.

    python -m bdnex_core.demo.fakesite --port 8765 [--sitemaps albums_*.xml] [--recorded DIR]
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import html
import io
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bdnex_core.bedetheque.album import Album
from bdnex_core.bedetheque.parse import parse_album_page
from bdnex_core.bedetheque.sitemaps import AlbumEntry, iter_album_entries
from bdnex_core.demo.covers import album_cover_seeds, cover_image, jpeg
from bdnex_core.matching.editions import edition_groups, split_tome

PUBLISHERS = ("Dupuis", "Dargaud", "Casterman", "Le Lombard", "Glénat", "Soleil Productions", "Delcourt", "Futuropolis")
WRITERS = ("Jarry, Nicolas", "Van Hamme, Jean", "Cauvin, Raoul", "Goscinny, René", "Sfar, Joann", "Dufaux, Jean")
ARTISTS = ("Goux, Pierre-Denis", "Rosinski, Grzegorz", "Lambil, Willy", "Uderzo, Albert", "Blain, Christophe")
COLORISTS = ("Digikore Studios", "Cerise", "Vink", "<N&B>", "Usagi")
GENRES = ("Fantasy", "Aventure", "Humour", "Western", "Science-fiction", "Policier", "Historique")
CHALLENGE_PAGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    '<div id="cf-browser-verification">Checking your browser before accessing bedetheque.com.</div>'
    '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>'
)
BAN_PAGE = "<html><head><title>Bedetheque</title></head><body><h1>Bloquage de l'IP : {ip}</h1></body></html>"


def _seed(album_id: int, salt: str = "") -> int:
    return zlib.crc32(f"{album_id}{salt}".encode())


def isbn13(album_id: int) -> str:
    digits = f"9782{album_id % 100000000:08d}"
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
    return f"{digits[:3]}-{digits[3]}-{digits[4:8]}-{digits[8:12]}-{(10 - total % 10) % 10}"


def human(slug: str) -> str:
    return slug.replace("-", " ").strip()


def series_id_for(series_slug: str) -> int:
    return 100000 + zlib.crc32(series_slug.encode()) % 800000


def series_genre(series_slug: str) -> str:
    """A series has one style, which every album page of it repeats (as on the real site)."""
    return GENRES[zlib.crc32(f"genre-{series_slug}".encode()) % len(GENRES)]


@dataclass
class FaultMode:
    # 429, 503, 522, slow, challenge, ban, forbidden, truncated, cookie_required, huge, drip, drip_all
    kind: str | None = None
    remaining: int | None = None  # how many requests it affects (None: all)
    retry_after: int = 1
    delay: float = 0.0  # drip: between two bytes
    paths: str = ""  # only paths containing this text ("" = every path)
    size: int = 0  # huge: bytes sent (no Content-Length, then the connection closes)


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    time: float  # when it was answered (time.monotonic())
    cookie: bool
    referer: str | None
    arrived: float = 0.0  # when its request line arrived: what a site's rate limit measures


@dataclass(frozen=True)
class StrictRules:
    """A strict site: ``min_gap`` seconds at least between two arrivals (closer: 429 with the
    Retry-After that reaches the gap), and a cookie living ``cookie_lifetime`` seconds (None: forever),
    without which every page but the home page answers 403."""

    min_gap: float = 0.0
    cookie_lifetime: int | None = None


@dataclass
class FakeCatalogue:
    albums: dict[int, AlbumEntry] = field(default_factory=dict)
    sitemaps: dict[str, bytes] = field(default_factory=dict)
    series: dict[str, list[AlbumEntry]] = field(default_factory=lambda: defaultdict(list))
    # the editions of one album (as matching groups them: same series, tome and title), by album id
    editions: dict[int, list[AlbumEntry]] = field(default_factory=dict)
    series_ids: dict[str, int] = field(default_factory=dict)  # of recorded series pages (recorded_series_ids)

    def group_editions(self) -> None:
        """Each album's editions, the site's ``N éditions`` list (only albums that have several)."""
        self.editions = {}
        for entries in self.series.values():
            rows = [(index, e.tome_kind, e.tome, e.title_norm) for index, e in enumerate(entries)]
            for group in edition_groups(rows):
                members = sorted((entries[index] for index in group), key=lambda member: member.album_id)
                self.editions.update((member.album_id, members) for member in members)

    def series_id(self, series_slug: str) -> int:
        """The id in the series links of generated pages: a recorded series page's, else derived from the slug."""
        return self.series_ids.get(series_slug) or series_id_for(series_slug)


# Albums the docs and tests name, with their real ids and slugs, so that "Nains - T01 - Redwin de la
# Forge.cbz" finds album 245127 on the generated catalogue as it does on the real one.
ANCHOR_ALBUMS = (
    "BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    "BD-Nains-Tome-2-Ordo-du-Talion-253769.html",
    "BD-Rokka-Melt-Mes-adorables-hommes-des-neiges-Tome-1-240007.html",
    "BD-Rokka-Melt-Mes-adorables-hommes-des-neiges-Tome-2-251045.html",
    "BD-Rokka-Melt-Mes-adorables-hommes-des-neiges-Tome-3-256417.html",
)


def synthetic_sitemap(count: int = 400) -> bytes:
    """The generated catalogue: a few series with tomes, HS, INT and one-shots, plus the anchor albums."""
    names = (
        "Les-Tuniques-Bleues",
        "Les-Vieux-Fourneaux",
        "Thorgal",
        "Blake-et-Mortimer",
        "Lanfeust-de-Troy",
        "Spirou-et-Fantasio",
        "Largo-Winch",
        "XIII",
        "Blacksad",
        "Lucky-Luke",
    )
    words = ("La-grande-patrouille", "Le-secret", "Les-ombres", "Retour-a-la-ville", "Le-dernier-voyage", "La-forge")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">',
    ]
    lines += [
        f"<url><loc>https://www.bedetheque.com/{path}</loc><lastmod>2024-01-01</lastmod></url>"
        for path in ANCHOR_ALBUMS
    ]
    album_id = 900001
    for position in range(count):
        series = names[position % len(names)]
        tome = position // len(names) + 1
        title = f"{words[position % len(words)]}-{tome}"
        if position % 37 == 0:
            path = f"BD-{series}-HS{tome}-{title}-{album_id}.html"
        elif position % 41 == 0:
            path = f"BD-{series}-INT{tome}-Integrale-{album_id}.html"
        elif position % 29 == 0:
            path = f"BD-{title}-{album_id}.html"
        else:
            path = f"BD-{series}-Tome-{tome}-{title}-{album_id}.html"
        lines.append(f"<url><loc>https://www.bedetheque.com/{path}</loc><lastmod>2024-01-01</lastmod></url>")
        album_id += 1
    lines.append("</urlset>")
    return "\n".join(lines).encode()


def load_catalogue(sitemaps: list[Path] | None) -> FakeCatalogue:
    """The catalogue of these album sitemaps; the generated one when there are none."""
    catalogue = FakeCatalogue()
    sources: list[tuple[str, bytes]] = []
    if sitemaps:
        sources = [(path.name, path.read_bytes()) for path in sitemaps]
    else:
        sources = [("albums_900001_910000_map.xml", synthetic_sitemap())]
    for name, data in sources:
        catalogue.sitemaps[name] = data
        for entry in iter_album_entries(io.BytesIO(data)):
            catalogue.albums[entry.album_id] = entry
            catalogue.series[entry.series_slug].append(entry)
    catalogue.group_editions()
    return catalogue


class FakeBedetheque:
    """The site; use as a context manager: ``with FakeBedetheque() as site: site.base_url``.

    ``sitemaps``: album sitemap files (default: the generated catalogue). ``recorded``: a folder
    with ``album/``, ``series/`` and ``covers/`` of real pages, served instead of generated ones.
    """

    def __init__(
        self,
        sitemaps: list[Path] | None = None,
        *,
        recorded: Path | None = None,
        port: int = 0,
        network_delay: float = 0.0,
        strict: StrictRules | None = None,
    ):
        self.catalogue = load_catalogue(sitemaps)
        self.strict = strict
        self._arrivals: list[float] = []  # every arrival, in order (the strict gap)
        self._cookies: dict[str, float] = {}  # cookie value -> when it was issued (strict)
        self.recorded = recorded if recorded is not None and recorded.is_dir() else None
        self.catalogue.series_ids.update(recorded_series_ids(self.recorded))
        self._desktop_series: dict[int, bytes] = {}
        self.network_delay = network_delay
        self.mode = FaultMode()
        self.log: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[Any] = set()
        self.ban_ip = "127.0.0.1"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeBedetheque:
        site = self

        class Handler(_Handler):
            fake = site

        self._server = _Server(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]  # started again after stop(): the same address
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-bedetheque", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:  # kept-alive connections too: the site is gone, not only its door
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeBedetheque:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the site first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_mapping(self, **catalogue: Any) -> dict[str, Any]:
        """A configuration section pointing bdnex-core at this site (politeness kept small)."""
        return {
            "catalogue": {
                "base_url": self.base_url,
                "mobile_base_url": self.base_url,
                "min_delay_seconds": 0.0,
                "jitter_seconds": 0.0,
                "max_retries": 2,
                **catalogue,
            }
        }

    # ------------------------------------------------------------------ control

    def set_mode(
        self,
        kind: str | None,
        *,
        remaining: int | None = None,
        retry_after: int = 1,
        delay: float = 0.0,
        paths: str = "",
        size: int = 0,
    ) -> None:
        with self._lock:
            self.mode = FaultMode(kind, remaining, retry_after, delay, paths, size)

    def requests(self, contains: str = "") -> list[LoggedRequest]:
        with self._lock:
            return [entry for entry in self.log if contains in entry.path]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def arrival_gaps(self, contains: str = "") -> list[float]:
        """The gaps between consecutive arrivals of the logged requests (``/_fake`` ones left out)."""
        times = sorted(entry.arrived for entry in self.requests(contains) if not entry.path.startswith("/_fake"))
        return [later - earlier for earlier, later in itertools.pairwise(times)]

    # ------------------------------------------------------------------ strict mode

    def set_strict(self, rules: StrictRules | None) -> None:
        with self._lock:
            self.strict = rules
            self._arrivals.clear()

    def too_close(self, arrived: float) -> int | None:
        """Strict: the Retry-After (whole seconds) for a request arriving closer than the minimum gap to
        another one; None when it keeps the gap. Every arrival counts, refused ones too."""
        with self._lock:
            rules = self.strict
            if rules is None or not rules.min_gap:
                return None
            position = bisect.bisect(self._arrivals, arrived)
            neighbours = self._arrivals[max(0, position - 1) : position + 1]
            self._arrivals.insert(position, arrived)
            closest = min((abs(arrived - other) for other in neighbours), default=math.inf)
        if closest >= rules.min_gap:
            return None
        return max(1, math.ceil(rules.min_gap - closest))

    def issue_cookie(self, now: float) -> str:
        """The Set-Cookie header of the home page: a new token, with its lifetime when strict."""
        with self._lock:
            rules = self.strict
            if rules is None or rules.cookie_lifetime is None:
                return "csrf_cookie_bel=fake-token-1234; Path=/; HttpOnly"
            token = f"fake-token-{len(self._cookies) + 1}"
            self._cookies[token] = now
        return f"csrf_cookie_bel={token}; Max-Age={rules.cookie_lifetime}; Path=/; HttpOnly"

    def cookie_refused(self, cookie_header: str | None, arrived: float) -> bool:
        """Strict: no cookie, or one this site did not issue or that expired."""
        with self._lock:
            rules = self.strict
            if rules is None or rules.cookie_lifetime is None:
                return False
            values = [part.strip()[len("csrf_cookie_bel=") :] for part in (cookie_header or "").split(";")]
            issued = [self._cookies[value] for value in values if value in self._cookies]
            return not any(arrived - at < rules.cookie_lifetime for at in issued)

    def _take_fault(self, path: str) -> FaultMode | None:
        with self._lock:
            mode = self.mode
            if mode.kind is None or (mode.paths and mode.paths not in path) or path.startswith("/_fake"):
                return None
            if mode.remaining is not None:
                if mode.remaining <= 0:
                    return None
                mode.remaining -= 1
            return FaultMode(mode.kind, mode.remaining, mode.retry_after, mode.delay, mode.paths, mode.size)

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    # ------------------------------------------------------------------ content

    def sitemap_index(self) -> bytes:
        entries = "".join(
            f"<sitemap><loc>{self.base_url}/{name}</loc><lastmod>{self.sitemap_lastmod(name)}</lastmod></sitemap>"
            for name in sorted(self.catalogue.sitemaps)
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{entries}</sitemapindex>"
        ).encode()

    def sitemap_lastmod(self, name: str) -> str:
        return "2026-11-01"

    def etag(self, data: bytes) -> str:
        return '"' + hashlib.sha1(data).hexdigest()[:16] + '"'

    def album_page(self, album_id: int) -> bytes | None:
        entry = self.catalogue.albums.get(album_id)
        if entry is None:
            return None
        if self.recorded is not None:
            recorded = next((self.recorded / "album").glob(f"*-{album_id}.html"), None)
            if recorded is not None:
                return recorded.read_bytes()
        return render_album_page(entry, self.catalogue).encode()

    def series_page(self, series_id: int) -> bytes | None:
        if self.recorded is not None:
            recorded = next((self.recorded / "series").glob(f"m-serie-{series_id}-*.html"), None)
            if recorded is not None:
                return recorded.read_bytes()
        for slug, entries in self.catalogue.series.items():
            if self.catalogue.series_id(slug) == series_id:
                return render_series_page(slug, entries, self.catalogue.editions).encode()
        return None

    def desktop_series_page(self, series_id: int) -> bytes | None:
        """The desktop full-list page of a series (``serie-{id}-BD-{slug}__10000.html``), whose
        articles say what each album's own page says (recorded pages included)."""
        page = self._desktop_series.get(series_id)
        if page is None:
            page = render_desktop_series_of(self, series_id)
            if page is not None:
                self._desktop_series[series_id] = page
        return page

    def cover(self, album_id: int) -> bytes | None:
        if album_id not in self.catalogue.albums:
            return None
        if self.recorded is not None:
            recorded = self.recorded / "covers" / f"Couv_{album_id}.jpg"
            if recorded.is_file():
                return recorded.read_bytes()

        return jpeg(cover_image(*cover_seeds(self.catalogue, album_id)), 85)


def cover_seeds(catalogue: FakeCatalogue, album_id: int) -> tuple[int, int, Any]:
    """What the generated cover of ``album_id`` is drawn from (``demo/covers.py``: ``album_cover_seeds``,
    its first edition being the lowest id of its editions)."""
    entry = catalogue.albums[album_id]
    editions = catalogue.editions.get(album_id) or [entry]
    return album_cover_seeds(entry.series_slug, album_id, editions[0].album_id)


def _edition_year(entry: AlbumEntry, editions: list[AlbumEntry]) -> int:
    """The year of one edition among its album's: a printing year in its tome ('1a2016'), else the
    first edition's year plus four years a re-edition (by id: re-editions come later)."""
    coded = re.search(r"(?:19|20)\d\d$", split_tome(entry.tome)[1])
    if coded:
        return int(coded.group())
    first = 1990 + _seed(editions[0].album_id, "edition") % 20
    return first + 4 * [member.album_id for member in editions].index(entry.album_id)


def _entry_values(entry: AlbumEntry, editions: list[AlbumEntry] | None = None) -> dict[str, Any]:
    seed = _seed(entry.album_id)
    year = _edition_year(entry, editions) if editions else 1990 + seed % 34
    month, day = 1 + seed % 12, 1 + seed % 28
    return {
        "series": human(entry.series_slug),
        "title": human(entry.title_slug) or human(entry.series_slug),
        "tome": entry.tome,
        "publisher": PUBLISHERS[seed % len(PUBLISHERS)],
        "writer": WRITERS[seed % len(WRITERS)],
        "artist": ARTISTS[(seed // 7) % len(ARTISTS)],
        "colorist": COLORISTS[(seed // 11) % len(COLORISTS)],
        "genre": series_genre(entry.series_slug),
        "legal": f"{month:02d}/{year}",
        "release": f"{day:02d}/{month:02d}/{year}",
        "rating": round(2.5 + (seed % 250) / 100, 2),
        "votes": 3 + seed % 300,
        "planches": 44 + seed % 20,
        "isbn": isbn13(entry.album_id),
    }


def render_album_page(entry: AlbumEntry, catalogue: FakeCatalogue) -> str:
    """A mobile album page with the real page's structure, its values derived from the album id."""
    editions = catalogue.editions.get(entry.album_id, [])
    values = _entry_values(entry, editions)
    escaped = {
        key: html.escape(str(value)) if not isinstance(value, (int, float)) else value for key, value in values.items()
    }
    series_id = catalogue.series_id(entry.series_slug)
    tome_line = f"<li><label>Tome : </label>{html.escape(entry.tome)}</li>" if entry.tome else ""
    if editions:  # as the real page lists them: "06/2015 -1a2016- Soleil Productions", this one selected
        options = ""
        for edition in editions:
            facts = _entry_values(edition, editions)
            selected = ' selected="selected"' if edition.album_id == entry.album_id else ""
            options += (
                f'<option value="{edition.album_id}"{selected}>{facts["legal"]} -{html.escape(edition.tome or "")}- '
                f"{html.escape(facts['publisher'])}</option>\n"
            )
        tome_line += (
            f'<li class="select-editions"><label>{len(editions)} éditions : </label>\n'
            f'<select data-native-menu="true" data-corners="false" data-theme="a" id="selEdition">\n{options}'
            "</select>\n</li>"
        )
    series_line = (
        (
            f'<li>\n<label>Série : </label>\n<a href="/serie-{series_id}-BD-{entry.series_slug}.html" data-ajax="false">'
            f"\n{escaped['series']}    </a>\n</li>"
        )
        if entry.tome
        else ""
    )
    # the colorist may be a pseudo-author such as <N&B>: written raw, as the site does
    colorist = values["colorist"] if values["colorist"].startswith("<") else escaped["colorist"]
    summary = (
        f"{escaped['title']} : un album de la série {escaped['series']}. "
        f"Une histoire écrite par {escaped['writer']} &amp; dessinée par {escaped['artist']}."
    )
    return f"""<!DOCTYPE html>
<html dir="ltr" lang="fr">
<head><title>{escaped["series"]} -{html.escape(entry.tome or "")}- {escaped["title"]}</title><meta charset="utf-8" />
<link rel="canonical" href="https://www.bedetheque.com/{entry.url.rsplit("/", 1)[-1]}" ></head>
<body class="album"><div data-role="page" id="myPage"><div data-role="content">
<div data-role="none" id="album-slider" class="owl-carousel">
<img class="item" src="/media/Couvertures/Couv_{entry.album_id}.jpg" alt="Couverture" />
<img class="item" src="/media/Versos/Verso_{entry.album_id}.jpg" alt="Verso" />
</div>
<ul id="album-detail">
<li class="title"><i class="fa fa-info-circle"></i> Informations sur l'album</li>
{series_line}
<li><label>Titre : </label>{escaped["title"]}</li>
{tome_line}
<li><label>Note : </label><i class="fa fa-star"></i><i class="fa fa-star-o"></i> {values["rating"]}/5 ({values["votes"]} votes)</li>
<li><label>Origine : </label>Europe</li>
<li><label>Style : </label>{escaped["genre"]}</li>
<li><label>Identifiant : </label>{entry.album_id}</li>
<li class=""><label>Scénario :</label><a href="/auteur-1-BD-x.html" data-ajax="false">{escaped["writer"]}</a></li>
<li class=""><label>Dessin :</label><a href="/auteur-2-BD-x.html" data-ajax="false">{escaped["artist"]}</a></li>
<li class=""><label>Couleurs :</label>{colorist}</li>
<li class=""><label>Couverture :</label><a href="/auteur-2-BD-x.html" data-ajax="false">{escaped["artist"]}</a></li>
<li><label>Dépot légal : </label>{values["legal"]} <span class="grise"> (Parution le {values["release"]})</span></li>
<li><label>Estimation : </label>non coté</li>
<li><label>Editeur : </label><span>{escaped["publisher"]}</span></li>
<li><label>Format : </label>Format normal</li>
<li><label>ISBN  : </label><span>{values["isbn"]}</span></li>
<li><label>Planches :</label><span>{values["planches"]}</span></li>
<li><label>Créé le : </label>01/01/2020 10:00:00 <span class="grise"> (maj 01/01/2024 10:00:00)</span></li>
<li><span class="infoedition"><em>Résumé:</em> {summary}</span></li>
</ul>
</div></div></body></html>
"""


def render_series_page(
    slug: str, entries: list[AlbumEntry], editions: dict[int, list[AlbumEntry]] | None = None
) -> str:
    editions = editions or {}
    values = _entry_values(entries[0])
    items = "".join(
        f"""<li data-theme="a"><a href="/{entry.url.rsplit("/", 1)[-1]}" data-ajax="false">
<img src="/media/Couvertures/Couv_{entry.album_id}.jpg" class="couv"><h2 class="serie">{html.escape(human(slug))}</h2>
<p class="titre">{html.escape(entry.tome or "")}. {html.escape(human(entry.title_slug))}<br/>
<span class="editeur">{html.escape(_entry_values(entry)["publisher"])}</span> - <span class="dl">{_entry_values(entry, editions.get(entry.album_id))["legal"]}</span></p></a></li>"""
        for entry in sorted(entries, key=lambda e: (e.tome_number or 0, e.album_id))
    )
    return f"""<!DOCTYPE html><html lang="fr"><head><title>{html.escape(human(slug))}</title></head><body>
<div data-role="content"><div class="info-serie"><h3>{html.escape(human(slug))}</h3>
<h4><i class="fa fa-globe"></i> Europe <span class="serie-style">/ {html.escape(values["genre"])}</span></h4>
<h5><img src="/flags/France.png" class="drapeau" /> Français <i class="fa fa-calendar"></i> 1990-2024 <span class="parution">Série en cours</span></h5>
<p id="commentaire"><input type="hidden" id="full-commentaire" value="La série {html.escape(human(slug))}." /></p></div>
<h4>{len(entries)} albums :</h4><ul data-role="listview" class="li-album">{items}</ul></div></body></html>"""


# ---------------------------------------------------------------------- desktop series pages


def recorded_series_ids(recorded: Path | None) -> dict[str, int]:
    """Series slug -> id of the recorded series pages (``series/m-serie-47467-BD-Nains.html``): the
    generated pages of their other albums then link to the same series as the recorded album pages."""
    found: dict[str, int] = {}
    folder = recorded / "series" if recorded is not None else None
    for path in sorted(folder.glob("m-serie-*-BD-*.html")) if folder is not None and folder.is_dir() else ():
        series_id, _, slug = path.stem[len("m-serie-") :].partition("-BD-")
        if series_id.isdigit() and slug:
            found[slug] = int(series_id)
    return found


def render_desktop_series_of(site: FakeBedetheque, series_id: int) -> bytes | None:
    """The 2026 desktop template of a series page, every album of the series in it, each album's
    article read from that album's own page (the real site renders both from one database)."""
    slug = next((slug for slug in site.catalogue.series if site.catalogue.series_id(slug) == series_id), None)
    if slug is None:
        return None
    entries = sorted(
        site.catalogue.series[slug], key=lambda e: (e.tome_kind != "regular", e.tome_number or 0, e.album_id)
    )
    albums = []
    for entry in entries:
        recorded = next((site.recorded / "album").glob(f"*-{entry.album_id}.html"), None) if site.recorded else None
        if recorded is not None:
            albums.append(
                parse_album_page(recorded.read_bytes(), f"https://www.bedetheque.com/BD-x-{entry.album_id}.html")
            )
        else:
            albums.append(generated_album(entry, site.catalogue.editions.get(entry.album_id)))
    return render_desktop_series_page(series_id, slug, albums).encode()


def generated_album(entry: AlbumEntry, editions: list[AlbumEntry] | None = None) -> Album:
    """What :func:`render_album_page` shows of an album, as an ``Album`` (reading 40 generated pages back
    would make the answer of a long series late by a tenth of a second); ``editions``: its album's, whose
    order dates it as its page does."""
    values = _entry_values(entry, editions)
    month, year = values["legal"].split("/")
    day = values["release"].split("/")[0]
    return Album(
        album_id=entry.album_id,
        url=f"https://www.bedetheque.com/{entry.url.rsplit('/', 1)[-1]}",
        title=" ".join(str(values["title"]).split()),
        tome=entry.tome,
        writers=[values["writer"]],
        pencillers=[values["artist"]],
        publisher=values["publisher"],
        isbn=values["isbn"],
        planches=values["planches"],
        legal_deposit=f"{year}-{month}",
        release_date=f"{year}-{month}-{day}",
        cover_url=f"/media/Couvertures/Couv_{entry.album_id}.jpg",
    )


def render_desktop_series_page(series_id: int, slug: str, albums: list[Album]) -> str:
    """A desktop series page (GUIDE "Desktop pages") listing ``albums`` (parsed ``Album``s) in full."""
    title = html.escape(human(slug))
    seed = zlib.crc32(slug.encode())
    status = "Série finie" if seed % 3 == 0 else "Série en cours"
    years = sorted(album.year for album in albums if album.year)
    span = f"{years[0]} - {years[-1]}" if years else ""
    tomes = len({album.tome for album in albums if album.tome and album.tome[:1].isdigit()})
    link = f"/serie-{series_id}-BD-{slug}.html"
    articles = "\n".join(_desktop_article(album) for album in albums)
    return f"""<!DOCTYPE html>
<html lang="fr">
<head><meta charset="utf-8"><title>{title} - BD, informations, cotes</title>
<link rel="canonical" href="https://www.bedetheque.com{link}"></head>
<body class="bdt"><main class="bdt-main">
<section class="bdt-ah bdt-ah--serie"><div class="bdt-ah-body">
<h1><a href="{link}">{title}</a></h1>
<span class="bdt-sh-genres"><a class="bdt-sh-genre" href="/search/serie?genre=x">{html.escape(series_genre(slug))}</a></span>
<p class="bdt-sh-meta"><b class="bdt-sh-parution">{status}</b> <span class="bdt-sh-annees">{span}</span></p>
<ul class="bdt-ah-pastilles"><li title="Tomes"><i class="bdt-icon-books"></i> {tomes} tomes</li>
<li title="Origine">Europe</li><li title="Langue"><img class="drapeau" src="/flags/fr.png" alt="fr"> Français</li></ul>
</div></section>
<p class="bdt-sh-resume">La série {title}, racontée tome après tome.</p>
<div class="bdt-editions">
{articles}
</div></main></body></html>
"""


def _desktop_article(album: Album) -> str:
    """One ``article.bdt-edition``: what the template shows of an album (no summary, colorist, rating...)."""

    def people(names: list[str], prop: str) -> str:
        return ", ".join(
            f'<a href="/auteur-1-BD-x.html"><span itemprop="{prop}">{html.escape(name)}</span></a>' for name in names
        )

    name = f"{album.tome}. {album.title}" if album.tome else album.title
    rows = [
        ("Scénario", people(album.writers, "author")) if album.writers else None,
        ("Dessin", people(album.pencillers, "illustrator")) if album.pencillers else None,
        ("Éditeur", f'<span itemprop="publisher">{html.escape(album.publisher)}</span>') if album.publisher else None,
        ("EAN/ISBN", f'<span itemprop="isbn">{html.escape(album.isbn)}</span>') if album.isbn else None,
        ("Planches", f'<span itemprop="numberOfPages">{album.planches}</span>') if album.planches else None,
    ]
    sheet = "".join(f"<dt>{key}</dt><dd>{value}</dd>" for key, value in filter(None, rows))
    cover = (
        f'<a href="{html.escape(album.cover_url)}"><img itemprop="image" '
        f'src="/cache/thb_couv/Couv_{album.album_id}.jpg" alt="Couverture"></a>'
        if album.cover_url
        else ""
    )
    date = album.release_date or album.legal_deposit
    published = f'<meta itemprop="datePublished" content="{date}">' if date else ""
    return f"""<article class="bdt-edition" itemscope itemtype="https://schema.org/Book">
<a name="{album.album_id}"></a>{cover}
<h3><a itemprop="url" href="{html.escape(album.url)}"><span itemprop="name">{html.escape(name)}</span></a></h3>
<dl class="bdt-sheet">{sheet}</dl>{published}
</article>"""


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that stopped reading (a deadline, a size cap, a stopped test): not news
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBedetheque
    protocol_version = "HTTP/1.1"
    # the headers and the body go out as two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK of the headers (40 ms on Linux) on every kept-alive answer, which no real
    # site adds; TCP_NODELAY sends each write at once
    disable_nagle_algorithm = True

    arrived = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        return

    def parse_request(self) -> bool:
        self.arrived = time.monotonic()  # the request line was just read: the request has arrived
        return super().parse_request()

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass  # the site was stopped under this connection

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        # logged before the body goes out, so a client that got its answer always finds it in the log
        self.fake._record(
            LoggedRequest(
                self.command,
                self.path,
                status,
                time.monotonic(),
                "csrf_cookie_bel" in (self.headers.get("Cookie") or ""),
                self.headers.get("Referer"),
                self.arrived,
            )
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self) -> None:
        if self.path == "/_fake/mode":
            length = int(self.headers.get("Content-Length") or 0)
            try:
                data = json.loads(self.rfile.read(length) or b"{}")
                self.fake.set_mode(
                    data.get("kind"),
                    remaining=data.get("remaining"),
                    retry_after=data.get("retry_after", 1),
                    delay=data.get("delay", 0.0),
                    paths=data.get("paths", ""),
                    size=data.get("size", 0),
                )
            except (ValueError, TypeError) as exc:
                self._send(400, str(exc).encode(), "text/plain")
                return
            self._send(204, b"")
            return
        self._send(405, b"method not allowed", "text/plain")

    def do_GET(self) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        if path == "/_fake/log":
            body = json.dumps([entry.__dict__ for entry in fake.requests()]).encode()
            self._send(200, body, "application/json")
            return
        if self._strict_refusal(path):
            return
        if fake.network_delay:
            time.sleep(fake.network_delay)
        fault = fake._take_fault(path)
        if fault is not None and self._fault(fault, path):
            return
        has_cookie = "csrf_cookie_bel" in (self.headers.get("Cookie") or "")
        if path == "/":
            self._send(
                200,
                b"<html><head><title>Bedetheque</title></head><body>Accueil</body></html>",
                headers={"Set-Cookie": fake.issue_cookie(self.arrived)},
            )
            return
        if fault is not None and fault.kind == "cookie_required" and not has_cookie:
            self._send(403, b"<html><body>Forbidden</body></html>")
            return
        if path == "/sitemap.xml":
            self._send(200, fake.sitemap_index(), "application/xml")
            return
        name = path.lstrip("/")
        if name in fake.catalogue.sitemaps:
            data = fake.catalogue.sitemaps[name]
            etag = fake.etag(data)
            last_modified = formatdate(1_700_000_000, usegmt=True)
            validator = self.headers.get("If-None-Match")
            # RFC 9110 13.1.3: If-Modified-Since counts only without If-None-Match
            if validator == etag if validator else self.headers.get("If-Modified-Since") == last_modified:
                self._send(304, b"", headers={"ETag": etag, "Last-Modified": last_modified})
                return
            self._send(200, data, "application/xml", {"ETag": etag, "Last-Modified": last_modified})
            return
        if path.startswith("/media/Couvertures/Couv_") or path.startswith("/cache/thb_couv/Couv_"):
            album_id = int("".join(ch for ch in path.rsplit("_", 1)[-1] if ch.isdigit()) or 0)
            cover = fake.cover(album_id)
            self._send(200 if cover else 404, cover or b"not found", "image/jpeg" if cover else "text/plain")
            return
        if path.startswith("/serie-"):
            try:
                series_id = int(path.split("-")[1])
            except (IndexError, ValueError):
                series_id = -1
            page = fake.desktop_series_page(series_id) if "__" in path else fake.series_page(series_id)
            self._send(200 if page else 404, page or _not_found())
            return
        if path.startswith("/BD-") and path.endswith(".html"):
            digits = path[:-5].rsplit("-", 1)[-1]
            page = fake.album_page(int(digits)) if digits.isdigit() else None
            if page is None:
                self._send(404, _not_found())
                return
            if fault is not None and fault.kind == "truncated":
                page = page[: len(page) // 3]
            self._send(200, page)
            return
        self._send(404, _not_found())

    def _strict_refusal(self, path: str) -> bool:
        """Strict mode: 429 to a request arriving too close to another, 403 to a page asked without a
        valid cookie (the home page gives one). True when answered so."""
        retry_after = self.fake.too_close(self.arrived)
        if retry_after is not None:
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": str(retry_after)})
            return True
        if path != "/" and self.fake.cookie_refused(self.headers.get("Cookie"), self.arrived):
            self._send(403, b"<html><head><title>Bedetheque</title></head><body>Forbidden</body></html>")
            return True
        return False

    def _fault(self, fault: FaultMode, path: str) -> bool:
        """Answer with the fault; False when the fault only changes the content (truncated)."""
        if fault.kind in ("huge", "drip", "drip_all"):
            self._stream_fault(fault)
            return True
        if fault.delay:
            time.sleep(fault.delay)
        if fault.kind == "429":
            self._send(429, b"Too Many Requests", "text/plain", {"Retry-After": str(fault.retry_after)})
        elif fault.kind == "522":  # Cloudflare: the site behind it does not answer
            self._send(522, b"<html><body>Connection timed out</body></html>", headers={"Server": "cloudflare"})
        elif fault.kind == "503":
            self._send(503, b"Service Unavailable", "text/plain", {"Retry-After": str(fault.retry_after)})
        elif fault.kind == "challenge":
            self._send(403, CHALLENGE_PAGE.encode(), headers={"Server": "cloudflare", "cf-mitigated": "challenge"})
        elif fault.kind == "ban":
            self._send(200, BAN_PAGE.format(ip=self.fake.ban_ip).encode())
        elif fault.kind == "forbidden":  # a plain 403, whatever the cookie: no challenge, no ban page
            self._send(403, b"<html><head><title>Bedetheque</title></head><body>Forbidden</body></html>")
        else:
            return False  # slow (delay only), truncated, cookie_required: handled by the normal path
        return True

    def _stream_fault(self, fault: FaultMode) -> None:
        """``huge``: ``size`` bytes and no Content-Length; ``drip``: a small page, one byte every ``delay`` s
        (``drip_all``: the whole answer, status line and headers included)."""
        body = b"<html><body>" + b"x" * 2048 + b"</body></html>"
        if fault.kind == "drip_all":
            padding = "x" * 400  # headers long enough that they alone take minutes
            head = f"HTTP/1.1 200 OK\r\nX-Padding: {padding}\r\nContent-Length: {len(body)}\r\n\r\n"
            self.fake._record(LoggedRequest(self.command, self.path, 200, time.monotonic(), False, None, self.arrived))
            try:
                for byte in head.encode() + body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.delay or 1.0)
            except OSError:
                pass  # the client stopped reading: what it should do
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if fault.kind == "huge":
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.fake._record(LoggedRequest(self.command, self.path, 200, time.monotonic(), False, None, self.arrived))
        self.end_headers()
        try:
            if fault.kind == "huge":
                block = b"<p>" + b"x" * (1024 * 1024 - 7) + b"</p>\n"
                for _ in range(max(1, fault.size // len(block))):
                    self.wfile.write(block)
            else:
                for position in range(len(body)):
                    self.wfile.write(body[position : position + 1])
                    self.wfile.flush()
                    time.sleep(fault.delay or 1.0)
        except OSError:
            self.close_connection = True  # the client stopped reading: what it should do


def _not_found() -> bytes:
    return b"<html><head><title>Page introuvable</title></head><body>Erreur 404</body></html>"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local stand-in for Bédéthèque (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--sitemaps", nargs="*", type=Path, help="album sitemaps (default: a generated catalogue)")
    parser.add_argument("--recorded", type=Path, help="a folder of recorded real pages (album/, series/, covers/)")
    parser.add_argument("--delay", type=float, default=0.0, help="network delay per request, in seconds")
    parser.add_argument("--min-gap", type=float, default=0.0, help="strict: 429 to requests arriving closer (s)")
    parser.add_argument("--cookie-lifetime", type=int, help="strict: the cookie expires after this long (s)")
    arguments = parser.parse_args(argv)
    strict = None
    if arguments.min_gap or arguments.cookie_lifetime:
        strict = StrictRules(min_gap=arguments.min_gap, cookie_lifetime=arguments.cookie_lifetime)
    site = FakeBedetheque(
        arguments.sitemaps or None,
        recorded=arguments.recorded,
        port=arguments.port,
        network_delay=arguments.delay,
        strict=strict,
    ).start()
    print(f"fake Bédéthèque on {site.base_url} with {len(site.catalogue.albums)} albums; Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main()
