"""A Bédéthèque series as we keep it: the facts of its own page, and the rules that read them.

Series-level metadata comes from the series page, never from whichever album was written last
(each album's publisher and genre would otherwise take turns on the series). The record holds
the series' summary, genres, status, tome count, origin, language and publishers, and the list of
its albums, as its desktop page (or, with less, its mobile page) shows them.

Two rules live here because every consumer must apply them the same way:

- **The publisher of a series** is chosen once, the first time its page is read: the publisher of
  its first regular tome (the lowest number; its first listed album when several share it), else
  the publisher most of its albums have (ties: the first listed). Later reads of the page keep it
  (the store never replaces a chosen publisher), so a new album from another publisher, a
  ``sync --force`` or a book arriving later never changes it.
- **Count never below Number**: the number of tomes given for an album (ComicInfo ``Count``,
  Komga's ``totalBookCount``) is the first of the known counts (the series page's regular tomes,
  its header, the catalogue index's) that is not below the album's own tome number; none is
  better than a count that says tome 14 of 4.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bdnex_core.bedetheque.album import Album
    from bdnex_core.bedetheque.parse import Series

REGULAR_TOME = re.compile(r"^\s*(\d+)")
SERIES_SLUG_IN_URL = re.compile(r"/serie-(?P<id>\d+)-BD-(?P<slug>.+?)(?:__\d+)?\.html")
#: the site's wording of a series' state -> one word for every consumer (Komga's statuses map from it)
STATUSES = (
    ("abandon", "abandoned"),
    ("suspendu", "hiatus"),
    ("interrompu", "hiatus"),
    ("fini", "ended"),
    ("termin", "ended"),
    ("one shot", "ended"),
    ("one-shot", "ended"),
    ("en cours", "ongoing"),
)


def regular_number(tome: str | None) -> int | None:
    """The number of a regular tome ("14", "14a" -> 14); ``None`` for HS, INT, one-shots."""
    found = REGULAR_TOME.match(tome or "")
    return int(found.group(1)) if found else None


def tome_parts(tome: str | None) -> tuple[str | None, int | None]:
    """(kind, number) of a tome as a series page writes it: ("regular", 14) for "14" or "14a",
    ("hs", 2) for "HS2", ("int", 1) for "INT01"; (None, None) for a one-shot."""
    text = (tome or "").strip().upper()
    apart = re.match(r"^(HS|INT)\D*(\d*)", text)
    if apart:
        return apart.group(1).lower(), int(apart.group(2)) if apart.group(2) else None
    number = regular_number(text)
    return ("regular", number) if number is not None else (None, None)


def count_not_below(tome: str | None, *counts: int | None) -> int | None:
    """The first of ``counts`` that is known and not below the tome's number (see the module docstring)."""
    number = regular_number(tome)
    for count in counts:
        if count and count > 0 and (number is None or count >= number):
            return count
    return None


def normal_status(text: str | None) -> str | None:
    """``ended``, ``ongoing``, ``abandoned`` or ``hiatus`` for the site's "Série finie", "En cours"..."""
    lowered = " ".join((text or "").lower().split())
    return next((status for word, status in STATUSES if word in lowered), None)


def choose_publisher(albums: list[dict[str, Any]]) -> str | None:
    """The series' publisher by the rule of the module docstring, from its albums in page order."""
    numbered = [
        (regular_number(album.get("tome")), position, album.get("publisher"))
        for position, album in enumerate(albums)
        if album.get("publisher") and regular_number(album.get("tome")) is not None
    ]
    if numbered:
        return str(min(numbered, key=lambda item: (item[0], item[1]))[2])
    publishers = [str(album["publisher"]) for album in albums if album.get("publisher")]
    if not publishers:
        return None
    counts = Counter(publishers)
    best = max(counts.values())
    return next(publisher for publisher in publishers if counts[publisher] == best)


@dataclass
class SeriesRecord:
    """One series, as stored in ``bdgest_series``. ``albums``: its albums in page order, each a dict
    of ``album_id``, ``url``, ``tome``, ``title``, ``publisher``, ``legal_deposit``."""

    series_id: int
    url: str
    title: str = ""
    slug: str | None = None
    summary: str | None = None
    genres: list[str] = field(default_factory=list)
    status: str | None = None  # as the site words it ("Série finie", "En cours")
    album_count: int | None = None  # the page header's count
    origin: str | None = None
    language: str | None = None
    years: str | None = None
    keywords: list[str] = field(default_factory=list)
    publishers: list[str] = field(default_factory=list)  # every publisher of its albums, in page order
    publisher: str | None = None  # chosen once (module docstring)
    template: str = "desktop"  # the page it was read from: desktop (whole albums) or mobile
    albums: list[dict[str, Any]] = field(default_factory=list)

    @property
    def normal_status(self) -> str | None:
        return normal_status(self.status)

    @property
    def tome_count(self) -> int | None:
        """The regular tomes the page lists: how many, or the highest number when the list skips some
        (never below a tome it lists); the header's count when it lists none."""
        numbers = {number for album in self.albums if (number := regular_number(album.get("tome"))) is not None}
        return max(len(numbers), max(numbers, default=0)) or self.album_count

    @property
    def album_ids(self) -> list[int]:
        return [int(album["album_id"]) for album in self.albums]

    def count_for(self, tome: str | None) -> int | None:
        """ComicInfo ``Count`` for an album of this series whose tome is ``tome``."""
        return count_not_below(tome, self.tome_count, self.album_count)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` with what the rules derive (``tome_count``, ``normal_status``): what plugins get."""
        return {**self.to_dict(), "tome_count": self.tome_count, "normal_status": self.normal_status}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesRecord:
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def from_page(cls, series: Series, *, slug: str | None = None) -> SeriesRecord:
        """The record of a parsed series page (desktop or mobile); the publisher is chosen here."""
        albums = [
            {
                "album_id": album.album_id,
                "url": album.url,
                "tome": album.tome,
                "title": album.title,
                "publisher": album.publisher,
                "legal_deposit": album.legal_deposit,
            }
            for album in series.albums
        ]
        found = SERIES_SLUG_IN_URL.search(series.url)
        publishers = list(dict.fromkeys(str(album["publisher"]) for album in albums if album["publisher"]))
        assert series.series_id is not None, "a series page without its id is refused before this"
        return cls(
            series_id=series.series_id,
            url=canonical_series_url(series.url),
            title=series.title,
            slug=slug or (found["slug"] if found else None),
            summary=series.abstract,
            genres=list(series.genres or ([series.genre] if series.genre else [])),
            status=series.status,
            album_count=series.album_count,
            origin=series.origin,
            language=series.language,
            years=series.years,
            keywords=[] if series.template == "desktop" else list(series.tags),
            publishers=publishers,
            publisher=choose_publisher(albums),
            template=series.template,
            albums=albums,
        )

    def apply_to(self, album: Album) -> None:
        """What an album takes from its series: its genres, its tome count (never below its tome), its name."""
        album.series_id = self.series_id
        album.series = album.series or self.title or None
        album.series_url = album.series_url or self.url
        if self.genres:
            album.genre = ", ".join(self.genres)
        album.origin = album.origin or self.origin
        album.series_album_count = self.count_for(album.tome)


def canonical_series_url(url: str) -> str:
    """``…/serie-47467-BD-Nains__10000.html`` -> ``…/serie-47467-BD-Nains.html`` (the page, not its listing)."""
    return re.sub(r"__\d+\.html$", ".html", url)


def full_list_path(series_id: int, slug: str | None) -> str:
    """The desktop page that lists every album of a series (GUIDE: ``serie-{id}-BD-{slug}__10000.html``)."""
    return f"serie-{series_id}-BD-{slug or 'x'}__10000.html"
