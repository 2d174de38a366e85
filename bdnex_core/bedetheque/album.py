"""The parsed form of a Bédéthèque album, shared by parsers, caches, ComicInfo and plugins."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: where a cached album's facts come from (``Album.filled_from``): its own page has them all; an
#: ``article.bdt-edition`` of its series' desktop page has no summary, colorist, rating, collection...
ALBUM_PAGE = "album_page"
SERIES_PAGE = "series_page"


@dataclass
class Edition:
    """Another edition of the same album listed on its page."""

    album_id: int
    label: str = ""


@dataclass
class Album:
    """One Bédéthèque album. Missing fields are normal: the site is not uniform.

    ``tome`` is text ('1', 'HS1', 'INT2', '1a', or None for a one-shot).
    Creators are lists of names as the site writes them ("Jarry, Nicolas").
    Dates are ISO strings: ``release_date`` 'YYYY-MM-DD' (parution),
    ``legal_deposit`` 'YYYY-MM' (dépôt légal).
    """

    album_id: int
    url: str
    title: str = ""
    series: str | None = None
    series_id: int | None = None
    series_url: str | None = None
    tome: str | None = None
    writers: list[str] = field(default_factory=list)  # Scénario
    pencillers: list[str] = field(default_factory=list)  # Dessin
    colorists: list[str] = field(default_factory=list)  # Couleurs
    cover_artists: list[str] = field(default_factory=list)  # Couverture
    letterers: list[str] = field(default_factory=list)  # Lettrage
    translators: list[str] = field(default_factory=list)  # Traduction
    publisher: str | None = None  # Editeur
    collection: str | None = None  # Collection -> Imprint
    genre: str | None = None  # Style
    origin: str | None = None  # Origine
    language: str = "fr"
    isbn: str | None = None
    legal_deposit: str | None = None
    release_date: str | None = None
    rating: float | None = None  # 0..5
    votes: int | None = None
    planches: int | None = None
    format: str | None = None
    summary: str | None = None
    edition_info: str | None = None
    other_info: str | None = None
    cover_url: str | None = None
    editions: list[Edition] = field(default_factory=list)
    series_album_count: int | None = None  # ComicInfo Count
    estimation: str | None = None
    created_on: str | None = None
    filled_from: str = ALBUM_PAGE  # ALBUM_PAGE or SERIES_PAGE (albums cached before it existed: their page)

    @property
    def year(self) -> int | None:
        date = self.release_date or self.legal_deposit
        return int(date[:4]) if date and date[:4].isdigit() else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Album:
        known = {item.name for item in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["editions"] = [
            edition if isinstance(edition, Edition) else Edition(**edition) for edition in values.get("editions") or []
        ]
        return cls(**values)


def person_name(name: str) -> str | None:
    """Bédéthèque writes 'Jarry, Nicolas'; ComicInfo lists are comma-separated, so 'Nicolas Jarry'.
    Pseudo-authors ('<N&B>', '<Indéterminé>', '<Collectif>') are not people: dropped."""
    name = " ".join(name.split())
    if not name or (name.startswith("<") and name.endswith(">")):
        return None
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma and first.strip() else last.strip()
