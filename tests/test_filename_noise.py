"""Properties of parse_filename on the noise of real collections: roman tomes, release tags,
a bracketed series, numbers inside titles — over many generated names, not a table."""

from __future__ import annotations

import random

import pytest

from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.noisegen import roman
from bdnex_core.matching.normalize import normalize

# real series whose names look like roman numerals, tags or markers, beside ordinary ones
SERIES = (
    "XIII",
    "XIII Mystery",
    "Largo Winch",
    "I.R.$.",
    "W.E.S.T",
    "V pour Vendetta",
    "Nains",
    "Les Tuniques Bleues",
    "Blake et Mortimer",
    "Rome II",
    "Vikings Vol 2",
    "Aquaman and the Others 2014",
    "Histoire de France",
    "L'Épée de feu",
)
TITLES = (
    "Redwin de la Forge",
    "Alignment Earth Part 1",
    "Le Jour du soleil noir",
    "1914-1918",
    "Part 3",
    "Les 300 Spartiates",
    "Livre de la jungle",
    "Puppet blues",
    "Vol de nuit",
    "Book II Part IV",
    "",
)
MARKERS = ("Tome {r}", "T {r}", "T.{r}", "Vol {r}", "Vol. {r}", "Volume {r}", "Livre {r}", "#{r}", "n°{r}", "Tome {n}")
# release tags; a team follows the last one ("eBook-NoTag", "(HD) - BDFR"), scene tails end the name
TAGS = (
    "FRENCH",
    "FRENCH CBZ",
    "CBZ",
    "eBook",
    "(scan fr)",
    "[Digital-1920]",
    "(HD)",
    "[Digital]",
    "(Digital-Empire)",
    "(c2c)",
)
LAYOUTS = ("{s} - {m} - {t}", "{s} {m} - {t}", "{s} - {m}", "{s} {m}")


def _reading(name: str) -> tuple[str, str | None, str]:
    parsed = parse_filename(name)
    return parsed.series_norm, parsed.tome, parsed.title_norm


def _expected(series: str, number: int, title: str) -> tuple[str, str, str]:
    return normalize(series), str(number), normalize(title)


def _names(rng: random.Random, count: int):
    for _ in range(count):
        series, title, number = rng.choice(SERIES), rng.choice(TITLES), rng.randint(1, 30)
        marker = rng.choice(MARKERS).format(r=rng.choice((roman(number), roman(number).lower())), n=number)
        layout = rng.choice(LAYOUTS if title else LAYOUTS[2:])
        yield series, number, title if "{t}" in layout else "", layout.format(s=series, m=marker, t=title).strip()


def test_roman_tomes_after_a_marker_are_read_whatever_the_series_and_title() -> None:
    rng = random.Random(21)
    for series, number, title, name in _names(rng, 1500):
        assert _reading(name + ".cbz") == _expected(series, number, title), name


def test_roman_numerals_of_i_to_xxx_and_only_those() -> None:
    for number in range(1, 31):
        assert parse_filename(f"Nains - Tome {roman(number)}.cbz").tome == str(number)
    for written in ("IIII", "VV", "XXXX", "IVI", "XL", "XXXI"):
        assert parse_filename(f"Nains - Tome {written}.cbz").tome is None, written


def test_roman_numerals_without_a_marker_stay_in_the_name() -> None:
    # "XIII", "V pour Vendetta", "Rome II", "Don't I": a numeral that no marker introduces is words
    assert _reading("XIII - T01 - Le Jour du soleil noir.cbz") == ("xiii", "1", "le jour du soleil noir")
    assert _reading("V pour Vendetta - T02.cbz") == ("v pour vendetta", "2", "")
    assert _reading("Rome II - T03.cbz") == ("rome ii", "3", "")
    assert parse_filename("Don't I know - T4.cbz").series == "Don't I know"
    assert parse_filename("Vikings Vol 2 - Tome IV - Le retour.cbz").series == "Vikings Vol 2"


def test_release_tags_never_change_the_reading() -> None:
    rng = random.Random(22)
    for series, number, title, name in _names(rng, 1000):
        tags = " ".join(rng.sample(TAGS, rng.randint(1, 3)))
        tagged = rng.choice(
            (
                f"{name} {tags}",
                f"{name} {tags} - NoTag",
                f"{name} {tags}-BDFR",
                f"{name} HD {tags}",
                f"{name} {tags} FRENCH.CBZ.eBook-Zmg",
                f"{name} {tags} CBR-GZR",
            )
        )
        assert _reading(tagged + ".cbz") == _expected(series, number, title), tagged


def test_scene_names_read_like_spaced_ones() -> None:
    rng = random.Random(23)
    for _ in range(500):
        series, title, number = rng.choice(SERIES), rng.choice(TITLES), rng.randint(1, 99)
        words = [series.replace(" ", "."), f"T{number:02d}", title.replace(" ", "."), "FRENCH.CBZ.eBook-Team"]
        name = ".".join(word for word in words if word) + ".cbz"
        assert _reading(name) == _expected(series, number, title), name


def test_a_bracketed_first_part_is_the_series_when_nothing_else_is() -> None:
    rng = random.Random(24)
    for _ in range(500):
        series, title, number = rng.choice(SERIES), rng.choice(TITLES), rng.randint(1, 99)
        tail = rng.choice(("(scan fr)", "[Digital]", "", "(c2c)"))
        name = f"[{series}] T{number} - {title} {tail}" if title else f"[{series}] T{number} {tail}"
        assert _reading(name.strip() + ".cbz") == _expected(series, number, title), name


def test_a_bracketed_team_before_a_series_keeps_the_series_and_offers_the_other_reading() -> None:
    parsed = parse_filename("[Team-BD] Nains - T01 - Redwin.cbz")
    assert (parsed.series, parsed.tome, parsed.title) == ("Nains", "1", "Redwin")
    assert any(reading.series == "Team-BD" for reading in parsed.alternatives)
    # a bracket that says something (language, year, publisher) is never a series
    assert not parse_filename("[FR] Nains - T01.cbz").alternatives
    assert parse_filename("[2015] T01.cbz").series is None


@pytest.mark.parametrize(
    "title", ["Alignment Earth Part 1", "1914-1918", "Les 300 Spartiates", "Part 3", "Book II Part IV", "Chapitre 2"]
)
def test_numbers_in_a_title_are_no_tome_beside_a_marker(title: str) -> None:
    for marker, tome in (("Tome VI", "6"), ("T06", "6"), ("Tome 6", "6"), ("#6", "6"), ("Livre VI", "6")):
        parsed = parse_filename(f"Aquaman and the Others 2014 - {marker} - {title}.cbz")
        assert (parsed.series, parsed.tome, parsed.title) == ("Aquaman and the Others 2014", tome, title)
        assert all(reading.tome in (None, "6") for reading in parsed.alternatives), parsed.alternatives


def test_text_between_series_and_tome_is_kept_as_title() -> None:
    parsed = parse_filename("Aquaman and the Others 2014 - Alignment Earth Part 1 - Tome 6.cbz")
    assert (parsed.series, parsed.tome, parsed.title) == ("Aquaman and the Others 2014", "6", "Alignment Earth Part 1")
    assert parse_filename("Thorgal - L'Intégrale 2.cbz").title is None  # the article was the tome's


def test_vol_ending_its_segment_is_the_tome_not_a_number_of_the_title() -> None:
    assert _reading("Ms Marvel 2006 Vol 15 - Ready AIM fire part 1.cbz") == (
        "ms marvel 2006",
        "15",
        "ready aim fire part 1",
    )
    assert _reading("New 52 Futures End 2014 - Vol.07 - Issue 7.cbz") == ("new 52 futures end 2014", "7", "issue 7")
    assert parse_filename("Conan Vol 1 1970 157.cbz").tome == "157"  # a weak marker inside the series name
    assert _reading("Selecciones Marvel Vol1 - Vol.22 - Nova.cbz") == ("selecciones marvel vol1", "22", "nova")
