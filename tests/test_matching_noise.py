"""Matching names that carry real-world noise: a title that contradicts the tome caps the decision,
roman tomes, scene releases and bracketed series are matched, and the noisy evaluation on the real
sitemaps meets its targets per convention."""

from __future__ import annotations

from pathlib import Path

import pytest

from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url
from bdnex_core.config import MatchingSettings
from bdnex_core.matching.evaluation import CONTRADICTING, evaluate_noisy
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.matcher import Matcher
from bdnex_testing.catalogue import INDEX_KINDS, index_factory

AQUAMAN = "https://www.bedetheque.com/BD-Aquaman-and-the-Others-2014-Tome-{}-{}.html"
AQUAMAN_ALBUMS = {
    1: "Legacy-of-Gold-Part-I-of-V-249818",
    2: "Legacy-of-Gold-Part-II-of-V-250217",
    5: "Legacy-of-Gold-Conclusion-252832",
    6: "Alignment-Earth-Part-1-252833",
    7: "Alignment-Earth-Part-2-253132",
    10: "Alignment-Earth-Part-5-254245",
}
OTHER_URLS = [
    "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    "https://www.bedetheque.com/BD-Nains-Tome-2-Ordo-du-Talion-253769.html",
    "https://www.bedetheque.com/BD-Katan-Aredit-Tome-5-La-porte-du-temps-246203.html",
    "https://www.bedetheque.com/BD-Katan-Aredit-Tome-6-L-epreuve-du-feu-246202.html",
    "https://www.bedetheque.com/BD-Kamikaze-Kaito-Jeanne-Tome-2-258846.html",
    "https://www.bedetheque.com/BD-Kamikaze-Kaito-Jeanne-Tome-4-242603.html",
    "https://www.bedetheque.com/BD-Batgirl-2011-Tome-23-Batgirl-Wanted-Part-One-241798.html",
    "https://www.bedetheque.com/BD-Capitan-America-Vol-3-Tome-34-Vuelva-el-polvo-al-polvo-254403.html",
]
EXAMPLE = "Aquaman and the Others 2014 - Tome VI - Alignment Earth Part 1.cbz"


def _matcher(kind: str, folder: Path, *, without: tuple[int, ...] = ()) -> Matcher:
    urls = [AQUAMAN.format(tome, rest) for tome, rest in AQUAMAN_ALBUMS.items()] + OTHER_URLS
    entries = [entry for entry in map(parse_album_url, urls) if entry and entry.album_id not in without]
    return Matcher(index_factory(kind, folder)(entries), MatchingSettings())


@pytest.fixture(scope="module", params=INDEX_KINDS)
def index_kind(request) -> str:
    """The index in memory, then the persisted index file: every test must hold on both."""
    return request.param


@pytest.fixture(scope="module")
def matcher(index_kind, tmp_path_factory) -> Matcher:
    return _matcher(index_kind, tmp_path_factory.mktemp("index"))


def test_the_reported_name_is_its_own_album_and_never_tome_1(matcher, index_kind, tmp_path) -> None:
    result = matcher.match(parse_filename(EXAMPLE))
    assert (result.decision, result.best.album_id) == ("accept", 252833), result.best.explain()
    # the album absent from the catalogue (as in the report): tome 1 "Legacy of Gold Part I of V" is never applied
    absent = _matcher(index_kind, tmp_path, without=(252833,)).match(parse_filename(EXAMPLE))
    assert absent.decision != "accept", absent.best.explain()
    for reading in (parse_filename(EXAMPLE), *parse_filename(EXAMPLE).alternatives):
        tome_1 = [
            c for c in _matcher(index_kind, tmp_path, without=(252833,)).candidates(reading) if c.album_id == 249818
        ]
        assert all(candidate.caps for candidate in tome_1)


def test_a_title_that_disagrees_caps_even_when_series_and_tome_agree(matcher) -> None:
    result = matcher.match(parse_filename("Katan Aredit - Tome 5 - L'épreuve du feu.cbz"))
    assert result.decision == "review" and result.best.album_id == 246203
    assert result.best.component("series").similarity == 1.0 and result.best.component("tome").similarity == 1.0
    assert "CAP: title differs: the name says 'l epreuve du feu', the album is 'la porte du temps'" in (
        result.best.explain()
    )
    right = matcher.match(parse_filename("Katan Aredit - Tome 5 - La porte du temps.cbz"))
    assert (right.decision, right.best.album_id) == ("accept", 246203)


def test_a_number_of_the_title_that_the_album_lacks_caps(matcher) -> None:
    result = matcher.match(parse_filename("Aquaman and the Others 2014 - T07 - Alignment Earth Part 5.cbz"))
    assert result.decision == "review", result.best.explain()
    assert "title differs in its numbers (5)" in result.best.explain()
    # the same numbers written as the album writes them (or left out) are no disagreement
    for name in ("Aquaman and the Others 2014 - T07 - Alignment Earth Part 2.cbz", "Aquaman and the Others 2014 T7"):
        assert matcher.match(parse_filename(name)).decision == "accept", name


def test_numbers_written_as_words_count_too(matcher) -> None:
    # "Part Two" is another album than "Part One" (here absent from the catalogue)
    result = matcher.match(parse_filename("Batgirl 2011 - T23 - Batgirl Wanted Part Two.cbz"))
    assert result.decision == "review" and "title differs in its numbers (2)" in result.best.explain()
    assert matcher.match(parse_filename("Batgirl 2011 - T23 - Batgirl Wanted Part One.cbz")).decision == "accept"


def test_a_mistyped_series_close_to_another_edition_is_not_accepted(matcher) -> None:
    # Vol 1 is absent here; its typo lands on Vol 3, which has the same tome and title
    result = matcher.match(parse_filename("Captan America Vol 1 - Tome 34 - Vuelva el polvo al polvo.cbz"))
    assert result.best.album_id == 254403 and result.decision == "review"
    assert "its numbers differ from 'capitan america vol 3'" in result.best.explain()
    typo = matcher.match(parse_filename("Captan America Vol 3 - Tome 34 - Vuelva el polvo al polvo.cbz"))
    assert (typo.decision, typo.best.album_id) == ("accept", 254403)


@pytest.mark.parametrize(
    ("name", "album_id"),
    [
        ("Nains.T02.Ordo.du.Talion.FRENCH.CBZ.eBook-NoTag.cbz", 253769),
        ("[Nains] T02 - Ordo du Talion (scan fr).cbz", 253769),
        ("[Nains] T01 (c2c).cbr", 245127),
        ("Nains - Tome II - Ordo du Talion [Digital-1920] (HD) - GZR.cbz", 253769),
        ("Aquaman and the Others 2014 - Livre X - Alignment Earth Part 5.cbz", 254245),
        ("Nains Vol. 2 - Ordo du Talion.cbz", 253769),
    ],
)
def test_noisy_names_are_matched_automatically(matcher, name: str, album_id: int) -> None:
    result = matcher.match(parse_filename(name))
    assert (result.decision, result.best.album_id) == ("accept", album_id), result.best.explain()


def test_a_series_found_only_as_a_prefix_needs_a_title_to_be_accepted(matcher) -> None:
    # "Kamikaze" (another series, not in this catalogue) must not become "Kamikaze Kaito Jeanne" unseen
    result = matcher.match(parse_filename("Kamikaze - T02.cbz"))
    assert result.best.album_id == 258846 and result.decision == "review"
    assert "found only as the start of 'kamikaze kaito jeanne'" in result.best.explain()
    assert matcher.match(parse_filename("Kamikaze Kaito Jeanne - T02.cbz")).decision == "accept"


@pytest.mark.shared
def test_noisy_conventions_on_the_real_sitemaps_meet_their_targets(bedetheque_fixtures) -> None:
    entries = [
        entry for path in sorted((bedetheque_fixtures / "sitemaps").glob("*.xml")) for entry in iter_album_entries(path)
    ]
    # a seed the parser was not tuned on (tuning used seed 1; the closing note reports 2021)
    results = evaluate_noisy(entries, MatchingSettings(), present=300, absent=60, seed=99)
    absent = sum(result.absent for name, result in results.items() if name != CONTRADICTING)
    absent_accepted = sum(result.absent_accepted for name, result in results.items() if name != CONTRADICTING)
    for convention, result in results.items():
        if convention == CONTRADICTING:
            assert result.absent >= 150 and result.absent_accepted == 0, result.failures
            continue
        rates = result.rates()
        assert result.present == 300, convention
        assert result.wrong_accepted == 0, (convention, result.failures[:5])
        assert rates["top1"] >= 0.995, (convention, rates, result.failures[:5])
        assert rates["accept_rate_present"] >= 0.95, (convention, rates, result.failures[:5])
    assert absent_accepted <= absent * 0.01, [f for r in results.values() for f in r.failures if f[0][:6] == "ABSENT"]
