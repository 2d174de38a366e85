"""Properties of the conventions issue 26 found unread (authors around the title, edition words,
"Tome 55 sur 214", tomes in words, prefix tags, run-together names, four-digit tomes, swapped orders,
the folder as the series, "Série-Titre" with one hyphen): over many generated names, each is read, or
matched on a small catalogue, as its tidy form is — not a table of examples."""

from __future__ import annotations

import random

import pytest

from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher
from bdnex_core.matching.noisegen import AUTHORS, CARDINAL_WORDS, ORDINAL_WORDS
from bdnex_core.matching.normalize import normalize

SERIES = (
    "Nains",
    "Les Tuniques Bleues",
    "Largo Winch",
    "Blake et Mortimer",
    "Lanfeust de Troy",
    "L'Épée de feu",
    "Rome II",
    "Aquaman and the Others 2014",
    "Vikings Vol 2",
    "Histoire de France",
)
TITLES = (
    "Redwin de la Forge",
    "Le Jour du soleil noir",
    "Les 300 Spartiates",
    "Puppet blues",
    "La Marque jaune",
    "Alignment Earth Part 1",
    "Vol de nuit",
    "Le Secret de l'espadon",
    "Ordo du Talion",
    "Golden Gate",
)
NOTES = ("(rééd. {year})", "rééd. {year}", "- EO", "(EO)", "édition spéciale", "(N&B)", "N&B", "- édition originale")
MARKERS = ("T{n:02d}", "T{n}", "Tome {n}", "T.{n}")


def _reading(name: str, parent: str | None = None) -> tuple[str, str | None, str]:
    parsed = parse_filename(name, parent)
    return parsed.series_norm, parsed.tome, parsed.title_norm


def _names(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        series, title, number = rng.choice(SERIES), rng.choice(TITLES), rng.randint(1, 16)
        yield rng, series, number, title, rng.choice(MARKERS).format(n=number)


def test_authors_after_the_title_leave_series_tome_and_title_whole() -> None:
    for rng, series, number, title, marker in _names(31, 800):
        authors = " - ".join(rng.sample(AUTHORS, rng.randint(1, 3)))
        parsed = parse_filename(f"{series} - {marker} - {title} - {authors}.cbz")
        assert (parsed.series_norm, parsed.tome) == (normalize(series), str(number)), authors
        assert parsed.title_segments[0] == normalize(title)


def test_edition_words_are_noise_and_a_reedition_gives_its_year() -> None:
    for rng, series, number, title, marker in _names(32, 800):
        year = rng.randint(1970, 2024)
        note = rng.choice(NOTES).format(year=year)
        name = f"{series} - {marker} - {title} {note}.cbz"
        assert _reading(name) == _reading(f"{series} - {marker} - {title}.cbz"), name
        assert parse_filename(name).year == (year if "rééd" in note else None), name


def test_a_tome_out_of_a_total_is_that_tome() -> None:
    for rng, series, number, title, _marker in _names(33, 800):
        total = number + rng.randint(0, 300)
        tome = rng.choice((f"Tome {number} sur {total}", f"T{number} de {total}", f"T{number:02d} sur {total}"))
        assert _reading(f"{series} - {tome} - {title}.cbz") == (normalize(series), str(number), normalize(title))
        assert _reading(f"{series} {tome}.cbz")[:2] == (normalize(series), str(number))


def test_tomes_written_in_words_are_numbers() -> None:
    for rng, series, _number, title, _marker in _names(34, 800):
        number = rng.randint(1, 12)
        tome = rng.choice(
            (
                f"Tome {CARDINAL_WORDS[number - 1]}",
                f"Livre {CARDINAL_WORDS[number - 1]}",
                f"{ORDINAL_WORDS[number - 1]} tome",
                f"{ORDINAL_WORDS[number - 1].capitalize()} tome",
            )
            + (("Tome premier", "Livre premier") if number == 1 else ())
        )
        assert _reading(f"{series} - {tome} - {title}.cbz") == (normalize(series), str(number), normalize(title)), tome
    # an article is no number: "Un tome de trop" is a title
    assert parse_filename("Nains - T02 - Un tome de trop.cbz").tome == "2"


def test_prefix_tags_never_change_the_reading() -> None:
    for rng, series, _number, title, marker in _names(35, 300):
        tidy = f"{series} - {marker} - {title}"
        tag = rng.choice(("FR - ", "BD - ", "VF - ", "FR BD ", "Comics - "))
        assert _reading(f"{tag}{tidy}.cbz") == _reading(f"{tidy}.cbz"), tag
        dotted = ".".join(part.replace(" ", ".").replace("'", ".") for part in (series, marker, title))
        for prefix in ("BD.FR.", "FR.", "BD_", "VF."):
            assert _reading(f"{prefix}{dotted}.cbz") == _reading(f"{dotted}.cbz"), prefix


def test_four_digit_zero_padded_numbers_between_separators_are_tomes() -> None:
    for _rng, series, number, title, _marker in _names(36, 500):
        assert _reading(f"{series} - {number:04d} - {title}.cbz") == (normalize(series), str(number), normalize(title))
    assert parse_filename("Série - 1984 - Titre.cbz").tome != "1984"  # a year stays a year


def test_a_bracket_holding_series_and_tome_after_the_title() -> None:
    for _rng, series, number, title, _marker in _names(37, 500):
        for bracket in (f"({series}, tome {number})", f"({series}, T{number:02d})", f"[{series}, Tome {number}]"):
            assert _reading(f"{title} {bracket}.cbz") == (normalize(series), str(number), normalize(title)), bracket


# ---------------------------------------------------------------- conventions the catalogue helps to read


def _catalogue() -> tuple[Matcher, dict[tuple[str, int], int]]:
    """Each series with tomes 1..10, each tome its own title; a few authors' names are series too."""
    urls, ids, album_id = [], {}, 500_000
    for series in SERIES:
        slug = normalize(series).replace(" ", "-").title()
        for number in range(1, 11):  # ten titles: each once in a series
            title = TITLES[(number + SERIES.index(series)) % len(TITLES)]
            words = normalize(title).replace(" ", "-")
            urls.append(f"https://www.bedetheque.com/BD-{slug}-Tome-{number}-{words}-{album_id}.html")
            ids[(series, number)] = album_id
            album_id += 1
    for author in AUTHORS[:5]:  # "Goux - Série - Tome 39": the author may name a series of the catalogue too
        urls.append(f"https://www.bedetheque.com/BD-{author}-Tome-1-Carnets-{album_id}.html")
        album_id += 1
    entries = [parse_album_url(url) for url in urls]
    index = CatalogueIndex.build(
        (e.album_id, e.url, e.series_norm, e.tome, e.tome_number, e.tome_kind, e.title_norm) for e in entries
    )
    return Matcher(index, MatchingSettings()), ids


@pytest.fixture(scope="module")
def catalogue():
    return _catalogue()


def _title_of(series: str, number: int) -> str:
    return TITLES[(number + SERIES.index(series)) % len(TITLES)]


def _accepted(matcher: Matcher, name: str, parent: str | None = None) -> int | None:
    result = matcher.match(parse_filename(name, parent))
    return result.best.album_id if result.decision == "accept" and result.best else None


def _each_album(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        series, number = rng.choice(SERIES), rng.randint(1, 10)
        yield rng, series, number, _title_of(series, number)


def test_an_author_in_front_is_not_the_series(catalogue) -> None:
    matcher, ids = catalogue
    for rng, series, number, title in _each_album(41, 300):
        author = rng.choice(AUTHORS)
        name = rng.choice(
            (f"{author} - {series} - Tome {number} - {title}.cbz", f"{author} - {series} - T{number:02d}.cbz")
        )
        assert _accepted(matcher, name) == ids[(series, number)], name


def test_swapped_title_and_series_are_read_either_way(catalogue) -> None:
    matcher, ids = catalogue
    for rng, series, number, title in _each_album(42, 300):
        name = rng.choice(
            (
                f"{title} - {series} T{number:02d}.cbz",
                f"{title} - {series} - T{number}.cbz",
                f"{title} ({series}, tome {number}).cbz",
            )
        )
        assert _accepted(matcher, name) == ids[(series, number)], name


def test_a_title_in_its_series_folder_and_a_series_hyphen_title(catalogue) -> None:
    matcher, ids = catalogue
    for rng, series, number, title in _each_album(43, 300):
        assert _accepted(matcher, f"{series}/{title}.cbz") == ids[(series, number)], (series, title)
        assert _accepted(matcher, f"{title}.cbz", parent=f"/srv/BD/{series}") == ids[(series, number)]
        assert _accepted(matcher, f"{series}-{title}.cbz") == ids[(series, number)], (series, title)
    # BDneX's own example
    assert _accepted(matcher, "Nains-Redwin de la forge.cbz") == ids[("Nains", 10)]


def test_run_together_names_are_split_where_capitals_and_digits_begin(catalogue) -> None:
    matcher, ids = catalogue
    for rng, series, number, title in _each_album(44, 300):
        if series[-1].isdigit():
            continue  # "VikingsVol205": a series ending in a number glued to its tome is unreadable, to us too
        words = [w for w in normalize(title).split()]
        glued = "".join(w if rng.random() < 0.4 else w.capitalize() for w in words)
        name = (
            "".join(w.capitalize() for w in normalize(series).split()) + f"{number:02d}{glued[:1].upper()}{glued[1:]}"
        )
        assert _accepted(matcher, f"{name}.cbz") == ids[(series, number)], name
    assert _accepted(matcher, "Nains10RedwinDeLaForge.cbz") == ids[("Nains", 10)]
