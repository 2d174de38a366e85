"""A Bédéthèque-sized catalogue (~300,000 albums), generated, with the neighbours the real site has.

Matching that is right on the 11,536-album slice of the real sitemaps can be wrong on the whole
site: there, an album has re-editions (same slug, other id; ``Tome-1a2016``, ``Tome-1TL``),
editions in other languages (``X en espagnol``, ``X en langues étrangères`` with ``Tome-9Grec``),
collection re-editions (``X La collection Hachette``, ``X Collection Atlas``, ``X Le Soir``…),
spin-offs (``Les mondes de X``, ``X Origines``), reboots (``X 2019``) and intégrales. This module
builds such a catalogue, deterministically from a seed, for tests, benchmarks and the fake site.

Its words come from the real sitemaps when they are given (their albums are kept as they are,
with their ids, and their series get the tomes the slice does not hold), else from a compact
vocabulary of French words written here, so a clone with nothing beside it generates one too.

Use:

- :func:`generate_catalogue` returns a :class:`GeneratedCatalogue`: ``entries`` (``AlbumEntry``,
  by id, as :func:`~bdnex_core.bedetheque.sitemaps.parse_album_url` reads their URLs), ``family``
  (album id -> how it was made: ``base``, ``real``, ``reedition``, ``language``, ``collection``,
  ``spinoff``, ``reboot``, ``integrale``, ``oneshot``) and ``work`` (album id -> the id of the
  album it is an edition of: the truth the evaluation checks matching against);
- :meth:`GeneratedCatalogue.write_sitemaps` writes ``albums_{a}_{b}_map.xml`` files of 10,000 ids
  each (about 5,000-6,500 albums, as the site's), for ``catalogue update --from-files`` and the
  fake site;
- ``python -m bdnex_core.demo.catalogue_generator OUT_DIR [--size N] [--seed S] [--sitemaps ...]``.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from bdnex_core.bedetheque.sitemaps import AlbumEntry, iter_album_entries, parse_album_url
from bdnex_core.matching.normalize import normalize, strip_articles

SITE = "https://www.bedetheque.com"
MOBILE = "https://m.bedetheque.com"
IDS_PER_SITEMAP = 10_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# A compact vocabulary for a clone without the real sitemaps: common words of French album titles
# and series names, and syllables for invented proper names.
FRENCH_WORDS = _words(
    "amour ange animal annee arbre arme armee aventure bataille bete blanc bleu bois bout brume cage "
    "capitaine carnet cendre cercle chant chasse chat chateau chemin cheval chevalier chien ciel cite "
    "coeur colere comte corps couronne crime croix dame dernier destin dieu dragon eau ecole empire "
    "enfant ennemi epee esprit etoile ete exil faucon femme fer feu fille fils fin fleur foret fou "
    "frere frontiere garde gloire grand guerre hiver homme honneur ile jardin jeu jour jeunesse lame "
    "legende lettre liberte lion livre loi loup lune lumiere machine main maison maitre malediction "
    "marche mer mere miroir monde montagne mort mur mystere neige noir nord nuit ombre or orage ordre "
    "oubli pacte paix pays peur pierre piege planete pluie poison porte pouvoir prince princesse "
    "prisonnier promesse quete reine retour reve roi rose rouge route royaume sable sang secret "
    "serment serpent signe silence soleil soeur sorciere souffle tempete temps terre tigre tour "
    "tresor tribu val vallee vent verite vie ville voix voyage"
)
LINKS = ("de", "du", "des", "de-la", "et", "sous", "sans", "contre", "pour", "dans")
ARTICLES = ("Le", "La", "Les", "L")
SYLLABLES = _words(
    "ba ca da fa ga ka la ma na pa ra sa ta va za bo co do go ko lo mo no po ro so to vo zo "
    "bri cra dra fri gra kri pra tra vra nor mar tor vel kan dor lin mir sel zan thal gor rik wen"
)
# Words of the languages Bédéthèque files foreign editions under, for their translated titles.
FOREIGN_WORDS = {
    "espagnol": _words("el la los las de del secreto fuego noche sangre reino viaje sombra tierra camino"),
    "neerlandais": _words("de het van een geheim vuur nacht bloed rijk reis schaduw aarde weg koning"),
    "anglais": _words("the of a secret fire night blood kingdom journey shadow earth road king war"),
    "allemand": _words("der die das von geheimnis feuer nacht blut reich reise schatten erde weg konig"),
    "italien": _words("il la di del segreto fuoco notte sangue regno viaggio ombra terra strada re"),
    "breton": _words("an ar er eus kuzh tan noz gwad rouantelezh beaj skeud douar hent roue"),
}
LANGUAGE_SERIES = (
    "en-espagnol",
    "en-neerlandais",
    "en-anglais",
    "en-allemand",
    "en-italien",
    "en-breton",
    "en-portugais",
    "en-catalan",
)
# "X en langues etrangeres": one series for every other language, the language in the tome ("9Grec")
LANGUAGE_SUFFIXES = ("Grec", "Hongrois", "Serbe", "Suedois", "Danois", "Polonais", "Turc", "Finnois", "Roumain")
COLLECTION_SERIES = (
    "La-collection-Hachette",
    "Collection-Atlas",
    "Le-Soir",
    "France-Loisirs",
    "Edition-luxe",
    "Collection-Atlas-Les-archives",
)
# same-album codes: printings ('a', 'b', 'a2016'), tirage limité, tirage de tête, variant cover
REEDITION_CODES = ("a", "b", "TL", "TT", "VC")
SPIN_OFFS = ("Les-mondes-de-{}", "{}-Origines", "{}-Les-origines", "La-jeunesse-de-{}")


@dataclass(frozen=True)
class Vocabulary:
    """Words to build names from, and the shapes the real catalogue has."""

    series_words: tuple[str, ...]  # capitalised slug words of series names
    title_words: tuple[str, ...]  # slug words of album titles
    series_sizes: tuple[int, ...]  # albums per series, to draw from
    title_lengths: tuple[int, ...]  # words per title, to draw from
    source: str  # what it was derived from, for the reports
    real_entries: tuple[AlbumEntry, ...] = ()  # the real albums, kept in the generated catalogue


def _capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


# slug words that would make a URL read differently (a tome marker inside a name), or that read as a
# tome in a file name ('t60', 'volii'): the real titles that hold them are few, random ones would be many
_MARKER_WORD = re.compile(r"^(?:Tome|INT\w*|HS\w*|J\d+|\d.*|[Tt]\d+\w*|[Vv]ol\w*|[Nn]°?\d+\w*|[A-Za-z]+\d\w*)$")


def builtin_vocabulary() -> Vocabulary:
    """The vocabulary a clone without ``../shared`` generates from."""
    rng = random.Random(2026)
    invented = sorted({"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(600)})
    series_words = tuple(_capitalised(word) for word in (*FRENCH_WORDS, *invented))
    # sizes shaped like the real slice's (most series short, a long tail) once completed to the whole site
    sizes = (
        (1,) * 30 + (2,) * 18 + (3,) * 12 + (4,) * 9 + (5,) * 7 + (6, 7, 8, 9, 10, 12, 14, 16, 20, 24, 30, 40, 55, 80)
    )
    return Vocabulary(
        series_words=series_words,
        title_words=tuple(FRENCH_WORDS) + tuple(invented[:200]),
        series_sizes=sizes,
        title_lengths=(1, 2, 2, 3, 3, 3, 4, 4, 5, 6),
        source="the built-in vocabulary",
    )


def real_vocabulary(sitemaps: Sequence[Path]) -> Vocabulary:
    """The words, series sizes and title lengths of real album sitemaps (their albums kept too)."""
    entries = [entry for path in sorted(sitemaps) for entry in iter_album_entries(str(path))]
    if not entries:
        return builtin_vocabulary()
    series_words: set[str] = set()
    title_words: set[str] = set()
    sizes: dict[str, int] = {}
    lengths: list[int] = []
    for entry in entries:
        if entry.tome is not None:
            sizes[entry.series_slug] = sizes.get(entry.series_slug, 0) + 1
            series_words.update(word for word in entry.series_slug.split("-") if len(word) > 1)
        words = [word for word in entry.title_slug.split("-") if word]
        title_words.update(word.lower() for word in words if len(word) > 1)
        lengths.append(max(1, len(words)))
    # the slice's series sizes (a slice of 20,000 ids favours long series: about the whole site's mean)
    completed = tuple(min(200, size) for size in sizes.values())
    return Vocabulary(
        series_words=tuple(sorted(word for word in series_words if not _MARKER_WORD.match(word))),
        title_words=tuple(sorted(word for word in title_words if not _MARKER_WORD.match(_capitalised(word)))),
        series_sizes=completed or (3,),
        title_lengths=tuple(lengths),
        source=f"the real sitemaps ({len(entries)} albums kept)",
        real_entries=tuple(entries),
    )


def _name_key(slug: str) -> str:
    return strip_articles(normalize(slug))


def _article_for(word: str, rng: random.Random) -> str:
    """An article that fits the word ('L' only before a vowel, as in 'L-Epee')."""
    return "L" if word[:1].lower() in "aeiouh" and rng.random() < 0.6 else rng.choice(ARTICLES[:3])


@dataclass
class _Album:
    series: str  # slug
    tome: str | None  # URL token: '3', '3a2016', '3TL', '9Grec', 'INT2', 'HS1' or None (one-shot)
    title: str  # slug
    family: str
    when: float  # order of creation on the site: ids follow it
    work: int = -1  # index of the album it is an edition of (itself for an original)
    album_id: int = 0
    real: AlbumEntry | None = None  # a real album, kept as it is (its id too)


@dataclass
class GeneratedCatalogue:
    entries: list[AlbumEntry]
    family: dict[int, str]
    work: dict[int, int]
    source: str
    seed: int
    series_of_family: dict[str, set[str]] = field(default_factory=dict)

    def write_sitemaps(
        self, folder: Path, *, ids_per_file: int = IDS_PER_SITEMAP, lastmod: str = "2026-11-01"
    ) -> list[Path]:
        """``albums_{a}_{b}_map.xml`` files in the site's format, one per range of ``ids_per_file`` ids."""
        folder.mkdir(parents=True, exist_ok=True)
        by_range: dict[int, list[AlbumEntry]] = {}
        for entry in self.entries:
            by_range.setdefault((entry.album_id - 1) // ids_per_file, []).append(entry)
        written = []
        for number in sorted(by_range):
            first, last = number * ids_per_file + 1, (number + 1) * ids_per_file
            path = folder / f"albums_{first}_{last}_map.xml"
            path.write_text(sitemap_xml(by_range[number], lastmod=lastmod), encoding="utf-8")
            written.append(path)
        return written


def sitemap_xml(entries: Iterable[AlbumEntry], *, lastmod: str = "2026-11-01") -> str:
    """One album sitemap as the site writes it (``loc``, ``lastmod``, the mobile page as an alternate)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">'
    ]
    for entry in entries:
        path = entry.url.split("/", 3)[-1]
        parts.append(
            f"<url>\n<loc>{escape(SITE + '/' + path)}</loc>\n<lastmod>{entry.lastmod or lastmod}</lastmod>\n"
            "<changefreq>monthly</changefreq>\n<priority>0.8</priority>\n"
            '<xhtml:link rel="alternate" media="only screen and (max-width: 640px)" '
            f'href="{escape(MOBILE + "/" + path)}" />\n</url>'
        )
    parts.append("</urlset>\n")
    return "\n".join(parts)


class _Builder:
    def __init__(self, vocabulary: Vocabulary, rng: random.Random, size: int):
        self.vocabulary = vocabulary
        self.rng = rng
        self.size = size  # ids follow creation: offsets in albums created meanwhile
        self.albums: list[_Album] = []
        # names as matching compares them (case, accents and articles aside): two series never share one
        self.used_series: set[str] = {_name_key(entry.series_slug) for entry in vocabulary.real_entries}
        self.used_series.update(_name_key(entry.title_slug) for entry in vocabulary.real_entries if entry.tome is None)
        self.clock = 0.0

    def later(self, low: float, high: float) -> float:
        """An offset in creation order, as a share of the catalogue (a re-edition comes years later)."""
        return self.rng.uniform(low, high) * self.size

    # -------------------------------------------------------------- names

    def series_name(self) -> str:
        rng, words = self.rng, self.vocabulary.series_words
        while True:
            count = rng.choice((1, 1, 2, 2, 2, 3, 3, 4))
            parts = [rng.choice(words) for _ in range(count)]
            if count >= 2 and rng.random() < 0.3:
                parts.insert(rng.randrange(1, count), rng.choice(LINKS))
            if rng.random() < 0.15:
                parts.insert(0, _article_for(parts[0], rng))
            if rng.random() < 0.08:
                parts.append(str(rng.randint(1965, 2024)))  # 'Batwoman-2011': an edition of the name
            name = "-".join(parts)
            if self.claim(name) and len(name) > 2:
                return name

    def claim(self, name: str) -> bool:
        """Take a series name, unless a series of that name (articles aside) exists already."""
        key = _name_key(name)
        if not key or key in self.used_series:
            return False
        self.used_series.add(key)
        return True

    def title(self, words: Sequence[str] | None = None) -> str:
        rng = self.rng
        pool = words or self.vocabulary.title_words
        length = rng.choice(self.vocabulary.title_lengths)
        parts = [rng.choice(pool) for _ in range(min(length, 8))]
        if rng.random() < 0.35 and not words:
            parts.insert(0, _article_for(parts[0], rng))
        return _capitalised("-".join(parts))

    # -------------------------------------------------------------- albums

    def add(
        self, series: str, tome: str | None, title: str, family: str, *, work: int | None = None, later: float = 0.0
    ) -> int:
        self.clock += 1.0
        album = _Album(series, tome, title, family, self.clock + later)
        album.work = len(self.albums) if work is None else work
        self.albums.append(album)
        return len(self.albums) - 1

    def add_real(self, entry: AlbumEntry) -> int:
        album = _Album(entry.series_slug, entry.tome, entry.title_slug, "real", 0.0, real=entry)
        album.work, album.album_id = len(self.albums), entry.album_id
        self.albums.append(album)
        return album.work

    def series(self, name: str, size: int, *, existing: dict[int, int] | None = None) -> list[int]:
        """A series of ``size`` albums (tomes 1..n, some HS/INT); ``existing``: tome number -> the
        real album of the series (kept; the others are generated). Returns the originals."""
        rng = self.rng
        made: list[int] = []
        spread = self.size * rng.uniform(0.0003, 0.008)  # a series published over years: its ids far apart
        specials = 0
        for number in range(1, size + 1):
            if existing and number in existing:
                made.append(existing[number])
                continue
            tome, title = str(number), self.title()
            if number > 1 and rng.random() < 0.03:  # a hors-série among the tomes
                specials += 1
                tome = f"HS{specials}"
            made.append(self.add(name, tome, title, "base", later=number * spread))
        return made

    def neighbours(self, name: str, originals: list[int]) -> None:
        rng = self.rng
        regular = [i for i in originals if (self.albums[i].tome or "").isdigit()]
        for index in originals:  # re-editions: same slug other id, or a printing/edition code in the tome
            if rng.random() < 0.12:
                album = self.albums[index]
                code = rng.choice(("", "", *REEDITION_CODES)) if (album.tome or "").isdigit() else ""
                if code in ("a", "b") and rng.random() < 0.5:
                    code += str(rng.randint(1990, 2024))  # 'Tome-1a2016': the printing of 2016
                tome = f"{album.tome}{code}" if code else album.tome
                self.add(name, tome, album.title, "reedition", work=index, later=self.later(0.02, 0.4))
        if not regular:
            return
        big = len(regular) >= 3
        if rng.random() < (0.1 if big else 0.02):
            for suffix in rng.sample(LANGUAGE_SERIES, rng.choice((1, 1, 2))):
                self._foreign(f"{name}-{suffix}", regular, suffix.removeprefix("en-"))
        if rng.random() < (0.06 if big else 0.01):
            series = f"{name}-en-langues-etrangeres"
            for index in rng.sample(regular, min(len(regular), rng.randint(1, 4))):
                album = self.albums[index]
                title = album.title if rng.random() < 0.3 else self.title(FOREIGN_WORDS["anglais"])
                self.add(
                    series,
                    f"{album.tome}{rng.choice(LANGUAGE_SUFFIXES)}",
                    title,
                    "language",
                    later=self.later(0.05, 0.3),
                )
            if rng.random() < 0.3:  # a promotional edition, in the language series
                album = self.albums[rng.choice(regular)]
                self.add(series, f"{album.tome}Pub", album.title, "language", later=self.later(0.05, 0.3))
        if rng.random() < (0.08 if big else 0.01):
            collection = rng.choice(COLLECTION_SERIES)
            chosen = regular[: rng.randint(1, len(regular))]
            # the same albums in a collection: same titles, their tomes or the collection's own numbers
            numbers = (
                [self.albums[index].tome for index in chosen]
                if rng.random() < 0.7
                else [str(number) for number in sorted(rng.sample(range(1, 2 * len(chosen) + 100), len(chosen)))]
            )
            for index, tome in zip(chosen, numbers, strict=True):
                self.add(
                    f"{name}-{collection}", tome, self.albums[index].title, "collection", later=self.later(0.1, 0.5)
                )
        if big and rng.random() < 0.04:
            spin = rng.choice(SPIN_OFFS).format(name)
            for number in range(1, rng.randint(2, 6)):
                self.add(spin, str(number), self.title(), "spinoff", later=self.later(0.05, 0.2) + number * 50)
        if big and rng.random() < 0.04:
            reboot = f"{name}-{rng.randint(2005, 2024)}"
            if self.claim(reboot):
                for number in range(1, rng.randint(2, 8)):
                    self.add(reboot, str(number), self.title(), "reboot", later=self.later(0.1, 0.4) + number * 30)
        if len(regular) >= 4 and rng.random() < 0.15:
            for number in range(1, len(regular) // 3 + 1):
                first = 3 * number - 2
                self.add(name, f"INT{number}", f"Tomes-{first}-a-{first + 2}", "integrale", later=self.later(0.05, 0.3))

    def _foreign(self, series: str, regular: list[int], language: str) -> None:
        rng = self.rng
        words = FOREIGN_WORDS.get(language, FOREIGN_WORDS["espagnol"])
        for index in regular:
            if rng.random() < 0.6:
                album = self.albums[index]
                # proper names stay as they are ('Golden-gate'): the same title in another language
                title = album.title if rng.random() < 0.3 else self.title(words)
                self.add(series, album.tome, title, "language", later=self.later(0.02, 0.5))

    def one_shot(self) -> int:
        title = self.title()
        if not self.claim(title):
            return 0
        self.add(title, None, title, "oneshot")
        return 1


def generate_catalogue(
    size: int = 300_000, *, seed: int = 0, sitemaps: Sequence[Path] | None = None, vocabulary: Vocabulary | None = None
) -> GeneratedCatalogue:
    """A catalogue of ``size`` albums (more only when the real albums alone are more), the same for
    the same arguments."""
    rng = random.Random(seed)
    vocabulary = vocabulary or (real_vocabulary(sitemaps) if sitemaps else builtin_vocabulary())
    builder = _Builder(vocabulary, rng, size)
    # the real albums first, kept; their series get the tomes the slice does not hold, and neighbours
    by_series: dict[str, dict[int, int]] = {}
    for entry in vocabulary.real_entries:
        index = builder.add_real(entry)
        if entry.tome_kind == "regular" and entry.tome_number is not None:
            # '2a' is tome 2 reprinted: the number is taken, whatever the printing code
            by_series.setdefault(entry.series_slug, {}).setdefault(entry.tome_number, index)
    for name in sorted(by_series):
        if len(builder.albums) >= size * 0.6:
            break
        known = by_series[name]
        total = min(250, max(known) + rng.choice(vocabulary.series_sizes))
        builder.neighbours(name, builder.series(name, total, existing=known))
    one_shots = 0
    while len(builder.albums) < size:
        if one_shots < 0.15 * len(builder.albums):  # about 15 % of the site's albums are one-shots
            one_shots += builder.one_shot()
            continue
        name = builder.series_name()
        builder.neighbours(name, builder.series(name, rng.choice(vocabulary.series_sizes)))
    real = len(vocabulary.real_entries)
    return _assemble(builder.albums[: max(size, real)], rng, vocabulary.source, seed)


def _slug(album: _Album) -> str:
    if album.tome is None:
        return album.title
    if album.tome.startswith(("INT", "HS")):
        return f"{album.series}-{album.tome}-{album.title}".rstrip("-")
    return f"{album.series}-Tome-{album.tome}-{album.title}".rstrip("-")


def _assemble(albums: list[_Album], rng: random.Random, source: str, seed: int) -> GeneratedCatalogue:
    # ids follow creation order, about 55 % of ids live (as on the site), around the real ids kept
    real_ids = {album.album_id for album in albums if album.real is not None}
    generated = sorted(
        (index for index, album in enumerate(albums) if album.real is None), key=lambda index: albums[index].when
    )
    album_id = 0
    for index in generated:
        album_id += 1 if rng.random() < 0.3 else 2
        while album_id in real_ids:
            album_id += 1
        albums[index].album_id = album_id
    entries: list[AlbumEntry] = []
    family: dict[int, str] = {}
    work: dict[int, int] = {}
    series_of_family: dict[str, set[str]] = {}
    for album in albums:
        if album.real is not None:
            entry = album.real
        else:
            lastmod = f"{2015 + album.album_id % 10}-{1 + album.album_id % 12:02d}-01"
            parsed = parse_album_url(f"{SITE}/BD-{_slug(album)}-{album.album_id}.html", lastmod)
            assert parsed is not None, album
            entry = parsed
        entries.append(entry)
        family[entry.album_id] = album.family
        work[entry.album_id] = albums[album.work].album_id
        series_of_family.setdefault(album.family, set()).add(entry.series_slug)
    entries.sort(key=lambda entry: entry.album_id)
    return GeneratedCatalogue(entries, family, work, source, seed, series_of_family)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a generated catalogue as album sitemaps.")
    parser.add_argument("out", type=Path, help="folder for the albums_*_map.xml files")
    parser.add_argument("--size", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sitemaps", type=Path, nargs="*", help="real album sitemaps to take words and albums from")
    args = parser.parse_args(argv)
    catalogue = generate_catalogue(args.size, seed=args.seed, sitemaps=args.sitemaps or None)
    written = catalogue.write_sitemaps(args.out)
    print(f"{len(catalogue.entries)} albums from {catalogue.source} in {len(written)} sitemaps under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
