"""realistic_names: varied, deterministic, and readable by parse_filename (on real catalogue entries too)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.namegen import realistic_names
from bdnex_core.matching.normalize import normalize, strip_articles

ALBUMS = [  # (series as a slug gives it, canonical tome, title)
    ("Nains", "1", "Redwin de la Forge"),
    ("Tuniques Bleues Les", "12", "Les Bleus de la marine"),
    ("Epee de Feu L", "2", "L Heritier"),
    ("Lanfeust de Troy", "HS", "Le Bestiaire"),
    ("Lanfeust de Troy", "HS2", "Les Trolls"),
    ("Blueberry", "INT", "La Conquete de l Ouest"),
    ("Blueberry", "INT3", None),
    ("Aquablue", "1a", "Nao"),
    ("Sillage", "0", "Engrenages"),
    ("XIII", "13", "L Enquete"),
    ("Asterix", "40", "L Iris blanc"),
    ("Les 5 Terres", "3", "Un grand roi"),
    ("Justice League United 2014", "10VC", "The Infinitus Saga"),
    ("Quai d Orsay", None, "Quai d Orsay"),
    ("Spirou et Fantasio", "50", "Le Tombeau des Champignac"),
    ("Blake et Mortimer", "1", "Le Secret de l Espadon"),
]
SUPPORTED_EXTENSIONS = (".cbz", ".cbr", ".pdf", ".CBZ")
STANDARD_TOME = re.compile(r"^(\d+[A-Za-z]*|HS\d*|INT\d*)$")


def expected_tome(tome: str | None) -> str | None:
    """What a file name can say of a catalogue tome: edition suffixes ('10VC') are not written."""
    if tome is None:
        return None
    match = re.match(r"^(\d+)([A-Za-z]*)$", tome)
    if match and len(match[2]) != 1:
        return str(int(match[1]))
    return tome.lower()


def recovered(name: str, series: str, tome: str | None) -> bool:
    parsed = parse_filename(name)
    same_series = strip_articles(parsed.series_norm) == strip_articles(normalize(series))
    return same_series and (parsed.tome or "").lower() == (expected_tome(tome) or "")


def recovery_rate(albums: list[tuple[str, str | None, str | None]], seed: int) -> tuple[float, list[str]]:
    rng = random.Random(seed)
    total, misses = 0, []
    for series, tome, title in albums:
        for name in realistic_names(series, tome, title, rng=rng):
            total += 1
            if not recovered(name, series, tome):
                misses.append(name)
    return 1 - len(misses) / total, misses


def test_names_are_deterministic_for_a_seed() -> None:
    first = realistic_names("Nains", "1", "Redwin de la Forge", rng=random.Random(1))
    again = realistic_names("Nains", "1", "Redwin de la Forge", rng=random.Random(1))
    assert first == again and len(first) >= 10


def test_names_are_well_formed() -> None:
    rng = random.Random(2)
    for series, tome, title in ALBUMS:
        names = realistic_names(series, tome, title, rng=rng)
        assert names, series
        for name in names:
            assert name.endswith(SUPPORTED_EXTENSIONS), name
            assert "  " not in name and name == name.strip() and " - - " not in name, name
            assert "Tuniques Bleues Les" not in name  # a slug's moved article comes back to its place


def test_names_cover_the_conventions() -> None:
    rng = random.Random(3)
    names = [name for _ in range(8) for album in ALBUMS for name in realistic_names(*album, rng=rng)]
    joined = "\n".join(names)
    for convention in (
        r" - T01 - ",
        r" - Tome 1 - ",
        r"Nains T1 Redwin",
        r"Nains Tome 1\b",
        r"Nains 01 Redwin",
        r"Asterix - 40\b",
        r"#\d",
        r"\(T\d+\)",
        r"T\.\d",
        r"^Nains/T01",
        r"^Nains/01 - ",
        r"\w\.T?\d",
        r"_T?\d",
        r"-Tome-1-",
        r"HS2\b",
        r"HS 2\b",
        r"Hors-série 2",
        r"Hors Série",
        r"INT3\b",
        r"Intégrale 3",
        r"L'Intégrale T3",
        r"T1a\b",
        r"T00\b",
        r"One shot",
        r"^Les Tuniques Bleues",
        r"Tuniques Bleues \(Les\)",
        r"L'Épée|L'Epee",
        r"\[FR\]",
        r"\(c2c\)",
        r"\(1\)",
        r"\bv2\b",
        r"\bHD\b",
        r"^\[",
        r"\.cbr$",
        r"\.CBZ$",
        r"^nains ",
    ):
        assert re.search(convention, joined, re.MULTILINE), convention


def test_year_and_publisher_appear_only_when_given() -> None:
    rng = random.Random(4)
    plain = [name for _ in range(20) for name in realistic_names("Nains", "1", "Redwin", rng=rng)]
    assert not any(re.search(r"\((19|20)\d\d\)|\(Soleil\)", name) for name in plain)
    known = [
        name
        for _ in range(20)
        for name in realistic_names("Nains", "1", "Redwin", rng=rng, year=2015, publisher="Soleil")
    ]
    parsed = [parse_filename(name) for name in known]
    assert any(p.year == 2015 for p in parsed) and any(p.publisher == "Soleil" for p in parsed)
    assert all(p.year in (None, 2015) and p.publisher in (None, "Soleil") for p in parsed)


def test_parser_recovers_series_and_tome_of_generated_names() -> None:
    rate, misses = recovery_rate(ALBUMS, seed=5)
    assert rate >= 0.99, misses[:20]


def test_parser_recovers_generated_names_of_real_catalogue_entries(bedetheque_fixtures: Path) -> None:
    from bdnex_core.bedetheque.sitemaps import iter_album_entries

    entries = [
        entry
        for path in sorted((bedetheque_fixtures / "sitemaps").glob("albums_*_map.xml"))
        for entry in iter_album_entries(str(path))
    ]
    assert len(entries) > 10_000
    # Tomes a file name can carry: numbers below 1000 with an optional suffix, HS, INT. Bédéthèque
    # also has catalogue numbers such as '31423' or '7MR1733' that nobody writes in a file name.
    usable = [
        entry
        for entry in entries
        if entry.tome is None or (STANDARD_TOME.match(entry.tome) and (entry.tome_number or 0) < 1000)
    ]
    sample = random.Random(6).sample(usable, 1500)
    albums = [
        (entry.series_slug.replace("-", " "), entry.tome, entry.title_slug.replace("-", " ") or None)
        for entry in sample
    ]
    rate, misses = recovery_rate(albums, seed=7)
    assert rate >= 0.98, (rate, misses[:30])
