"""Matching file names to albums: caps, decisions, the identify command, and accuracy on the real sitemaps."""

from __future__ import annotations

import json

import pytest

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url
from bdnex_core.cli import main
from bdnex_core.config import MatchingSettings
from bdnex_core.db import BDneXDB
from bdnex_core.matching.evaluation import evaluate
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.matcher import Matcher
from bdnex_testing.catalogue import INDEX_KINDS, index_factory

URLS = [
    "https://www.bedetheque.com/BD-Nains-Tome-1-Redwin-de-la-Forge-245127.html",
    "https://www.bedetheque.com/BD-Nains-Tome-2-Ordo-du-Talion-253769.html",
    "https://www.bedetheque.com/BD-Nains-Tome-3-Aral-du-temple-272757.html",
    "https://www.bedetheque.com/BD-Tuniques-Bleues-Les-Tome-39-But-is-it-art-200039.html",
    "https://www.bedetheque.com/BD-Tuniques-Bleues-Les-Tome-40-Puppet-blues-200040.html",
    "https://www.bedetheque.com/BD-Blake-et-Mortimer-HS2-Le-dernier-Pharaon-200100.html",
    "https://www.bedetheque.com/BD-Largo-Winch-INT2-Integrale-2-200200.html",
    "https://www.bedetheque.com/BD-Quelque-part-entre-les-ombres-200300.html",
    "https://www.bedetheque.com/BD-Batwoman-2011-Tome-1-Hydrologie-200401.html",
    "https://www.bedetheque.com/BD-Batwoman-2017-Tome-1-Les-filles-de-Lune-200402.html",
]


@pytest.fixture(scope="module", params=INDEX_KINDS)
def matcher(request, tmp_path_factory):
    """Over the index in memory, then over the persisted index file: every test must hold on both."""
    entries = [parse_album_url(url) for url in URLS]
    return Matcher(index_factory(request.param, tmp_path_factory.mktemp("index"))(entries), MatchingSettings())


@pytest.mark.parametrize(
    ("name", "decision", "album_id"),
    [
        ("Nains - T01 - Redwin de la Forge.cbz", "accept", 245127),
        ("Nains 2.cbz", "accept", 253769),
        ("Les Tuniques Bleues - 40.cbz", "accept", 200040),  # the article moved ("Tuniques Bleues (Les)")
        ("Tuniques Bleues (Les) T39.cbz", "accept", 200039),
        ("Blake et Mortimer - HS2 - Le dernier Pharaon.cbz", "accept", 200100),
        ("Largo Winch - Intégrale 2.cbz", "accept", 200200),
        ("Quelque part entre les ombres.cbz", "accept", 200300),
    ],
)
def test_well_named_files_are_accepted(matcher, name, decision, album_id):
    result = matcher.match(parse_filename(name))
    assert (result.decision, result.best.album_id) == (decision, album_id), result.best.explain()


def test_tome_absent_from_the_series_is_never_accepted(matcher):
    result = matcher.match(parse_filename("Nains - T40.cbz"))
    assert result.decision != "accept"
    assert any("does not exist" in cap for cap in result.best.caps)
    assert "CAP: tome number differs" in result.best.explain()


def test_tome_number_differs_forbids_accept_even_with_the_right_title(matcher):
    result = matcher.match(parse_filename("Nains - T02 - Redwin de la Forge.cbz"))
    assert result.best.album_id == 253769 or result.decision != "accept"
    if result.best.album_id == 245127:
        assert result.decision != "accept"


def test_two_editions_of_a_series_are_ambiguous_without_more(matcher):
    result = matcher.match(parse_filename("Batwoman - T01.cbz"))
    assert result.decision == "review"
    assert {candidate.album_id for candidate in result.candidates[:2]} == {200401, 200402}
    assert matcher.match(parse_filename("Batwoman 2017 - T01.cbz")).best.album_id == 200402


def test_unknown_series_gives_no_match(matcher):
    assert matcher.match(parse_filename("Une série qui n'existe pas - T03.cbz")).decision == "none"


def test_an_album_title_alone_is_found_but_only_for_review(matcher):
    result = matcher.match(parse_filename("Redwin de la Forge"))
    assert (result.decision, result.best.album_id) == ("review", 245127)
    assert "found by its album title only" in result.best.explain()
    # an article either side, as for series
    assert matcher.match(parse_filename("Dernier Pharaon (Le)")).best.album_id == 200100
    # a series that exists is never set aside for a title
    assert matcher.match(parse_filename("Nains - T02")).best.album_id == 253769


def test_explanations_name_every_component(matcher):
    best = matcher.match(parse_filename("Nains - T01 - Redwin de la Forge.cbz")).best
    text = best.explain()
    assert "series 1.00" in text and "tome 1.00" in text and "title 1.00" in text
    assert 0.99 <= best.confidence <= 1.0


def test_catalogue_import_identify_and_stats(bedetheque_fixtures, tmp_path, capsys, database_location):
    sitemaps = sorted((bedetheque_fixtures / "sitemaps").glob("albums_*_map.xml"))
    db_path = database_location
    assert main(["--db", str(db_path), "catalogue", "update", "--from-files", *map(str, sitemaps), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["albums_in_index"] == 11536
    assert main(["--db", str(db_path), "catalogue", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["albums"] == 11536 and stats["by_kind"]["regular"] > 8000
    assert (
        main(["--db", str(db_path), "identify", "Nains - T01 - Redwin de la Forge.cbz", "Nains - T40.cbz", "--json"])
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["album_id"] == 245127 and lines[0]["decision"] == "accept"
    assert lines[0]["url"].endswith("-245127.html") and lines[0]["candidates"][0]["explain"]
    assert lines[1]["album_id"] is None and lines[1]["decision"] != "accept"
    assert set(lines[0]) == {"name", "album_id", "url", "confidence", "decision", "candidates"}
    # importing again replaces, never duplicates
    Catalogue(BDneXDB(db_path)).import_files(sitemaps)
    assert Catalogue(BDneXDB(db_path)).count() == 11536


def test_identify_without_catalogue_says_what_to_do(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "empty.db"), "identify", "Nains 1.cbz"]) != 0
    assert "bdnex-core catalogue update" in capsys.readouterr().err


def test_slug_parser_splits_every_real_url(bedetheque_fixtures):
    entries = [
        entry for path in sorted((bedetheque_fixtures / "sitemaps").glob("*.xml")) for entry in iter_album_entries(path)
    ]
    assert len(entries) == 11536
    assert all(entry.series_slug for entry in entries)


def test_accuracy_on_the_real_sitemaps(bedetheque_fixtures):
    entries = [
        entry for path in sorted((bedetheque_fixtures / "sitemaps").glob("*.xml")) for entry in iter_album_entries(path)
    ]
    result = evaluate(entries, MatchingSettings(), present=2000, absent=400, seed=11)
    rates = result.rates()
    assert rates["top1"] >= 0.99, result.failures[:10]
    assert rates["wrong_automatic"] <= 0.005, result.failures[:10]
    assert rates["absent_automatic"] <= 0.02, [f for f in result.failures if f[0].startswith("ABSENT")]
    assert rates["accept_rate_present"] >= 0.90
