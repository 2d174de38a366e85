"""Editions of one album, and series that are another series in another language or collection.

Bédéthèque gives every edition of an album its own id and page: the first edition, its
re-editions (the same slug under another id, or the tome with a printing code: ``Tome-1a2016``,
``Tome-1TL``, ``Tome-10VC``), club editions. For a file name they are one album: matching groups
them (:func:`edition_key`) and chooses the edition afterwards, by a documented rule
(:func:`choose_edition`).

A series named as another series plus a language or collection qualifier (``Largo Winch en
néerlandais``, ``Tintin en langues étrangères``, ``Astérix Collection Atlas``, ``Gaston La collection
Hachette``, ``Batman Le Soir``) is another series: a name that does not say so never matches it
automatically (:func:`series_qualifier`). A tome code naming a language or a special printing
(``9Grec``, ``11Pub``, ``0FCBD``) is such a qualifier too (:func:`tome_qualifier`). Qualifiers that
name the same work (a year, a publisher, ``2e série``) are none of these.

Everything here is a pure function of a catalogue row, so that an index kept on disk can store
the values computed once (no I/O, no catalogue needed).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz

from bdnex_core.isbn import to_isbn13
from bdnex_core.matching.normalize import strip_articles

# Languages (French adjectives) Bédéthèque files editions under ("Largo Winch en néerlandais")
LANGUAGES = frozenset(
    [
        "albanais",
        "allemand",
        "alsacien",
        "anglais",
        "arabe",
        "armenien",
        "basque",
        "bengali",
        "bosniaque",
        "breton",
        "bulgare",
        "catalan",
        "chinois",
        "coreen",
        "corse",
        "creole",
        "croate",
        "danois",
        "espagnol",
        "esperanto",
        "estonien",
        "feroien",
        "finnois",
        "flamand",
        "francique",
        "frison",
        "gaelique",
        "galicien",
        "gallo",
        "gallois",
        "gaumais",
        "georgien",
        "grec",
        "hebreu",
        "hessois",
        "hindi",
        "hongrois",
        "indonesien",
        "islandais",
        "italien",
        "japonais",
        "latin",
        "letton",
        "lituanien",
        "luxembourgeois",
        "macedonien",
        "malais",
        "maltais",
        "mauricien",
        "neerlandais",
        "norvegien",
        "occitan",
        "picard",
        "polonais",
        "portugais",
        "provencal",
        "roumain",
        "russe",
        "serbe",
        "slovaque",
        "slovene",
        "suedois",
        "swahili",
        "tagalog",
        "tcheque",
        "thai",
        "turc",
        "ukrainien",
        "vietnamien",
        "wallon",
        "yiddish",
    ]
)
_LANGUAGE = "|".join(sorted(LANGUAGES, key=len, reverse=True))
# Where a language or collection qualifier starts in a normalised series name; it runs to the end
# ("asterix collection atlas les archives", "blueberry integrale le soir 2")
SERIES_QUALIFIER = re.compile(
    rf"\b(?P<language>en (?:langues? (?:etrangeres|regionales)|{_LANGUAGE})(?: et \w+)?"
    r"|(?:the adventures|le avventure|as aventuras|las aventuras|die abenteuer|de avonturen) (?:of|di|de|von|van)\b)"
    r"|(?P<collection>(?:la )?collection (?:hachette|atlas|le soir|france loisirs|altaya|del prado)"
    r"|le soir(?: \d+)?$|france loisirs|edition (?:de )?luxe|edition speciale|edition collector)"
    # the same stories in another format: "Appa Manga", "Chi Une vie de chat grand format", "Pif Poche"
    r"|(?P<format>\b(?:manga|poche|(?:tres )?(?:grand|petit) format|(?:les )?editions de poche|livre de poche)$)",
)
# A word every qualifier above holds (a quick test before the expression)
QUALIFIER_WORDS = ("en ", "collection", "soir", "loisirs", "edition", "ventur", "abenteuer", "manga", "poche", "format")
# Tome codes that keep the album (printings, variants, limited runs): '1a', '1a2016', '1TL', '10VC', '2bis'
SAME_ALBUM_CODE = re.compile(r"^(?:[a-z]?(?:19|20)\d\d|[a-z]|[A-Z]{1,2}|bis|ter)$")
TOME_CODE = re.compile(r"^(?P<base>(?:INT|HS)?\d*)(?P<code>[A-Za-z][A-Za-z0-9]*)?$")


class Qualifier(NamedTuple):
    """What makes a series another edition of ``base``: ``kind`` is ``language``, ``collection`` or ``format``."""

    base: str
    text: str
    kind: str


def series_qualifier(series_norm: str) -> Qualifier | None:
    """The language or collection qualifier of a normalised series name, if it has one."""
    if not any(word in series_norm for word in QUALIFIER_WORDS):
        return None  # most names: no regular expression to run (this runs on every series of the site)
    for match in SERIES_QUALIFIER.finditer(series_norm):
        base = series_norm[: match.start()].strip()
        if base and strip_articles(base):
            kind = "language" if match["language"] else "format" if match["format"] else "collection"
            return Qualifier(base, series_norm[match.start() :].strip(), kind)
    return None


def qualifier_named(qualifier: Qualifier, query: str) -> bool:
    """Whether a name (normalised) says the qualifier: all its words but the small ones are there,
    mistyped or not ("en espagnrl", "Colllection Atlas")."""
    words = query.split()
    wanted = [word for word in qualifier.text.split() if len(word) > 2 and not word.isdigit()]
    return all(word in words or any(fuzz.ratio(word, other) >= 80 for other in words) for word in wanted)


@lru_cache(maxsize=8192)
def split_tome(tome: str | None) -> tuple[str, str]:
    """A catalogue tome and its edition code: '1a2016' -> ('1', 'a2016'), '9Grec' -> ('9', 'Grec'),
    'INT2a' -> ('INT2', 'a'), '12' -> ('12', '')."""
    if not tome:
        return "", ""
    match = TOME_CODE.match(tome)
    if match is None:
        return tome, ""
    return match["base"] or tome, match["code"] or ""


@lru_cache(maxsize=8192)
def tome_qualifier(tome: str | None) -> str | None:
    """A tome code that names another edition than the album's (a language, a promotional or pirate
    printing: '9Grec', '11Pub', '0FCBD'); None for codes of the same album ('1a2016', '1TL')."""
    _base, code = split_tome(tome)
    if not code or SAME_ALBUM_CODE.match(code):
        return None
    return code


@lru_cache(maxsize=8192)
def tome_key(tome: str | None) -> str:
    """The tome as editions share it: its printing code left out, a language's kept ('1a2016' -> '1')."""
    base, code = split_tome(tome)
    return f"{base}{code if tome_qualifier(tome) else ''}".lower()


def edition_key(
    series_norm: str, tome: str | None, tome_number: int | None, tome_kind: str | None, title_norm: str
) -> str:
    """One key for the editions of one album: same series, same tome (its printing code left out),
    same title (articles left out). A tome code naming another language stays in the key. (An untitled
    edition joins its tome's titled one in :func:`edition_groups`, which needs the series' rows.)"""
    return f"{series_norm}|{tome_kind or 'oneshot'}|{tome_key(tome)}|{strip_articles(title_norm)}"


def edition_groups(albums: Sequence[tuple[int, str | None, str | None, str]]) -> list[list[int]]:
    """The editions of one series' albums, given as (position, tome kind, tome, title): the groups of
    two or more positions that :func:`edition_key` puts together, and an untitled album ("Tome-1")
    with the one titled album of its tome ("Tome-1a2015-Les-evades-du-passe"), when there is one.

    A pure function of the series' rows: an index kept on disk computes the same groups."""
    by_tome: dict[tuple[str | None, str], list[tuple[int, str]]] = {}
    for position, kind, tome, title in albums:
        by_tome.setdefault((kind, tome_key(tome)), []).append((position, strip_articles(title)))
    groups: list[list[int]] = []
    for same_tome in by_tome.values():
        if len(same_tome) < 2:
            continue
        by_title: dict[str, list[int]] = {}
        for position, title in same_tome:
            by_title.setdefault(title, []).append(position)
        untitled = by_title.pop("", [])
        if untitled and len(by_title) == 1:
            (titled,) = by_title.values()
            titled.extend(untitled)
        elif untitled:
            by_title[""] = untitled
        groups.extend(sorted(members) for members in by_title.values() if len(members) > 1)
    return groups


# ---------------------------------------------------------------------------------------------- the rule


EDITION_POLICIES = ("original", "latest", "ask")


@dataclass(frozen=True)
class EditionFacts:
    """What is known of one edition: its id, dépôt légal ('YYYY-MM'), publisher, ISBN (digits)."""

    album_id: int
    legal_deposit: str | None = None
    publisher: str | None = None
    isbn: str | None = None
    label: str = ""  # as the album page lists it: '06/2015 -1a2016- Soleil Productions'

    @property
    def year(self) -> int | None:
        date = self.legal_deposit or ""
        return int(date[:4]) if date[:4].isdigit() else None


@dataclass(frozen=True)
class EditionChoice:
    """The edition chosen (``album_id``), or none when a person must choose (``ask``); ``rule`` says
    which rule decided (isbn, year, cover, original, latest, ask, only) and ``reason`` why, in words."""

    album_id: int | None
    rule: str
    reason: str

    @property
    def ask(self) -> bool:
        return self.album_id is None


def _digits(isbn: str | None) -> str:
    return re.sub(r"[^0-9Xx]", "", isbn or "").upper()


def _same_isbn(one: str | None, other: str | None) -> bool:
    first, second = _digits(one), _digits(other)
    if not first or not second:
        return False
    return (to_isbn13(first) or first) == (to_isbn13(second) or second)


def _original(editions: list[EditionFacts]) -> EditionFacts:
    """The first edition: the earliest dépôt légal, else the lowest id."""
    return min(editions, key=lambda e: (e.legal_deposit is None, e.legal_deposit or "", e.album_id))


def _latest(editions: list[EditionFacts]) -> EditionFacts:
    return max(editions, key=lambda e: (e.legal_deposit is not None, e.legal_deposit or "", e.album_id))


def choose_edition(
    editions: list[EditionFacts],
    *,
    policy: str = "original",
    isbn: str | None = None,
    year: int | None = None,
    same_cover: frozenset[int] | None = None,
) -> EditionChoice:
    """The edition of one album a file is, by the rule, in this order:

    1. an ISBN/EAN (the file's ComicInfo GTIN, or in its name) that one edition has -> that edition;
    2. a year in the name that one or more editions have as dépôt légal -> the first of that year;
    3. the editions whose cover is the file's (``same_cover``, when covers were compared) -> the
       first of them (the latest with ``latest``), before the policy;
    4. ``policy``: ``original`` (the earliest dépôt légal, else the lowest id), ``latest``, or
       ``ask`` (no choice: a person chooses among the editions).
    """
    if not editions:
        raise ValueError("no edition to choose from")
    if len(editions) == 1:
        return EditionChoice(editions[0].album_id, "only", "the album's only edition")
    if isbn:
        found = [edition for edition in editions if _same_isbn(edition.isbn, isbn)]
        if found:
            return EditionChoice(found[0].album_id, "isbn", f"ISBN {_digits(isbn)} is this edition's")
    if year is not None:
        found = [edition for edition in editions if edition.year == year]
        if found:
            return EditionChoice(_original(found).album_id, "year", f"the edition of {year} (year in the name)")
    if same_cover:
        found = [edition for edition in editions if edition.album_id in same_cover]
        if found and len(found) < len(editions):  # editions alike in cover: the policy among them
            chosen = _latest(found) if policy == "latest" else _original(found)
            return EditionChoice(chosen.album_id, "cover", "the edition whose cover is the file's")
    if policy == "latest":
        return EditionChoice(_latest(editions).album_id, "latest", "the latest edition (matching.edition: latest)")
    if policy == "ask":
        return EditionChoice(None, "ask", f"{len(editions)} editions: a person chooses (matching.edition: ask)")
    first = _original(editions)
    why = "earliest dépôt légal" if first.legal_deposit else "lowest id"
    return EditionChoice(first.album_id, "original", f"the first edition ({why}; matching.edition: original)")


LABEL = re.compile(r"^\s*(?:(?P<month>\d{1,2})/)?(?P<year>\d{4})?\s*(?:-(?P<tome>[^-]*)-)?\s*(?P<publisher>.*?)\s*$")


def facts_from_label(album_id: int, label: str) -> EditionFacts:
    """One option of an album page's edition list, '06/2015 -1a2016- Soleil Productions', as facts."""
    match = LABEL.match(label or "")
    if match is None:
        return EditionFacts(album_id, label=label or "")
    date = None
    if match["year"]:
        date = f"{match['year']}-{int(match['month']):02d}" if match["month"] else match["year"]
    return EditionFacts(album_id, date, match["publisher"] or None, None, label or "")
