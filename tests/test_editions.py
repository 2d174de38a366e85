"""Editions are one album: grouped in the index (never "ambiguous" against each other), the edition
chosen by the documented rule (ISBN/GTIN, year, then matching.edition: original, latest or ask), and
the chosen edition's own publisher, year and ISBN written; the prompt, the web page and `tag --id`
list the editions under their album."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from bdnex_core.bedetheque.catalogue import Catalogue
from bdnex_core.bedetheque.client import BedethequeClient, reset_politeness
from bdnex_core.bedetheque.sitemaps import parse_album_url
from bdnex_core.cli import main
from bdnex_core.config import MatchingSettings, from_mapping
from bdnex_core.db import BDneXDB
from bdnex_core.demo.catalogue_generator import sitemap_xml
from bdnex_core.demo.fakesite import FakeBedetheque, isbn13
from bdnex_core.demo.samplelib import sample_pages, write_cbz
from bdnex_core.matching.editions import EditionFacts, choose_edition, edition_groups, edition_key, facts_from_label
from bdnex_core.matching.evaluation import in_memory_index
from bdnex_core.matching.filename import parse_filename
from bdnex_core.matching.index import CatalogueIndex
from bdnex_core.matching.matcher import Matcher
from bdnex_core.pipeline import TagOptions, collect_items, run_tagging
from bdnex_testing.catalogue import INDEX_KINDS, index_factory
from bdnex_testing.pytest_plugin import database_mapping
from bdnex_testing.review import comicinfo_of, spawn_cli

SITE = "https://www.bedetheque.com/"
# Nains tome 1 in the three editions its real page lists (06/2015 -1-, -1a2016-, 10/2018 -1TL-)
ORIGINAL, REPRINT, LIMITED = 245127, 289144, 383861
EDITIONS = (
    f"{SITE}BD-Nains-Tome-1-Redwin-de-la-Forge-{ORIGINAL}.html",
    f"{SITE}BD-Nains-Tome-1a2016-Redwin-de-la-Forge-{REPRINT}.html",
    f"{SITE}BD-Nains-Tome-1TL-Redwin-de-la-Forge-{LIMITED}.html",
)
NEIGHBOURS = (
    f"{SITE}BD-Nains-Tome-2-Ordo-du-Talion-253769.html",
    f"{SITE}BD-Nains-Tome-3-Aral-du-temple-272757.html",
    f"{SITE}BD-Nains-en-espagnol-Tome-1-Redwin-de-la-Forja-400001.html",
    f"{SITE}BD-Tokyo-tribe-2-Tome-5-259508.html",
    f"{SITE}BD-Tokyo-tribe-2-Tome-5-673784.html",
    f"{SITE}BD-Tokyo-tribe-2-Tome-6-259509.html",
)
NAME = "Nains - T01 - Redwin de la Forge"


def _matcher(urls=EDITIONS + NEIGHBOURS, make_index=in_memory_index) -> Matcher:
    return Matcher(make_index([parse_album_url(url) for url in urls]), MatchingSettings())


# ------------------------------------------------------------------------------------------ the rule, alone


FACTS = [
    EditionFacts(ORIGINAL, "2015-06", "Soleil Productions", "9782302045712"),
    EditionFacts(REPRINT, "2016-06", "Soleil Productions", "9782302052581"),
    EditionFacts(LIMITED, "2018-10", "Soleil Productions", "9782302071117"),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"isbn": "978-2-302-05258-1"}, (REPRINT, "isbn")),
        ({"isbn": "2302071115"}, (LIMITED, "isbn")),  # the ISBN-10 of the same book
        ({"year": 2018}, (LIMITED, "year")),
        ({"year": 2016, "policy": "latest"}, (REPRINT, "year")),  # the name's year before the policy
        ({}, (ORIGINAL, "original")),
        ({"policy": "latest"}, (LIMITED, "latest")),
        ({"policy": "ask"}, (None, "ask")),
        ({"same_cover": frozenset({REPRINT})}, (REPRINT, "cover")),  # where issue 36's evidence goes
        ({"isbn": "9780000000002", "year": 1999}, (ORIGINAL, "original")),  # neither says: the policy
    ],
)
def test_each_rule_picks_its_edition(rule, expected) -> None:
    choice = choose_edition(FACTS, **rule)
    assert (choice.album_id, choice.rule) == expected, choice.reason


def test_the_original_is_the_earliest_deposit_then_the_lowest_id() -> None:
    # a re-edition catalogued before its original: the date decides, not the id
    facts = [EditionFacts(10, "2001-03"), EditionFacts(11, "1987-09"), EditionFacts(12, None)]
    assert choose_edition(facts).album_id == 11
    assert choose_edition(facts, policy="latest").album_id == 10
    same_month = [EditionFacts(ORIGINAL, "2015-06"), EditionFacts(REPRINT, "2015-06")]  # the real page's first two
    assert choose_edition(same_month).album_id == ORIGINAL
    assert choose_edition([EditionFacts(7), EditionFacts(5)]).album_id == 5  # no date at all: the lowest id
    assert choose_edition([EditionFacts(7)], policy="ask").rule == "only"  # one edition: nobody is asked


def test_an_edition_option_of_the_album_page_reads_as_facts() -> None:
    facts = facts_from_label(REPRINT, "06/2015 -1a2016- Soleil Productions")
    assert (facts.legal_deposit, facts.publisher, facts.year) == ("2015-06", "Soleil Productions", 2015)


# ------------------------------------------------------------------------------------------ the index


@pytest.mark.parametrize("kind", INDEX_KINDS)
def test_the_editions_of_one_album_are_one_candidate_never_ambiguous(kind, tmp_path) -> None:
    make_index = index_factory(kind, tmp_path)
    matcher = _matcher(make_index=make_index)
    result = matcher.match(parse_filename(f"{NAME}.cbz"))
    assert (result.decision, result.best.album_id) == ("accept", ORIGINAL), result.best.explain()
    assert set(result.best.editions) == {REPRINT, LIMITED}
    assert [c.album_id for c in result.candidates].count(REPRINT) == 0  # not a second candidate
    # the report's case: same slug, other id
    tokyo = matcher.match(parse_filename("Tokyo tribe 2 - 5.cbz"))
    assert (tokyo.decision, tokyo.best.album_id, tokyo.best.editions) == ("accept", 259508, (673784,))
    # the original absent, a re-edition of the same album stands for it
    reprint = _matcher(EDITIONS[1:] + NEIGHBOURS, make_index).match(parse_filename(f"{NAME}.cbz"))
    assert (reprint.decision, reprint.best.album_id) == ("accept", REPRINT), reprint.best.explain()
    # an untitled edition is its tome's titled one (the real "Nynatak-Nunatak-Tome-1" and "Tome-1a2015-...")
    untitled = _matcher((f"{SITE}BD-Nains-Tome-1-{ORIGINAL}.html", EDITIONS[1], *NEIGHBOURS), make_index)
    assert untitled.match(parse_filename("Nains - T01.cbz")).best.editions == (REPRINT,)


def _key(url: str) -> str:
    entry = parse_album_url(url)
    return edition_key(entry.series_norm, entry.tome, entry.tome_number, entry.tome_kind, entry.title_norm)


def test_an_edition_key_leaves_out_printing_codes_only() -> None:
    key = _key
    assert key(EDITIONS[0]) == key(EDITIONS[1]) == key(EDITIONS[2])
    assert key(NEIGHBOURS[0]) != key(EDITIONS[0])
    assert key(f"{SITE}BD-Tintin-en-langues-etrangeres-Tome-9Grec-X-1.html") != key(
        f"{SITE}BD-Tintin-en-langues-etrangeres-Tome-9Hongrois-X-2.html"
    )


# ------------------------------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fake site serving the three editions (their pages list each other, dated) and neighbours."""
    folder = tmp_path_factory.mktemp("editions-sitemaps")
    sitemap = folder / "albums_240001_250000_map.xml"
    sitemap.write_text(sitemap_xml([parse_album_url(url) for url in EDITIONS + NEIGHBOURS]))
    reset_politeness()
    with FakeBedetheque([sitemap]) as running:
        yield running


def env(site, tmp_path, database_location, **matching):
    reset_politeness()
    settings = from_mapping(
        {
            "database": database_mapping(database_location),
            "cache": {"dir": str(tmp_path / "cache")},
            "pipeline": {"logs_dir": str(tmp_path / "logs")},
            "matching": matching,
            **site.settings_mapping(),
        }
    )
    db = BDneXDB(settings=settings)
    client = BedethequeClient(settings)
    Catalogue(db).update_online(client)
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(dict(settings.raw.items())))
    return settings, db, client, config


def tag_one(site, tmp_path, database_location, name, *, gtin=None, **matching):
    settings, db, client, _config = env(site, tmp_path, database_location, **matching)
    extra = ()
    if gtin:
        extra = (("ComicInfo.xml", f"<ComicInfo><Series>Nains</Series><GTIN>{gtin}</GTIN></ComicInfo>".encode()),)
    path = write_cbz(tmp_path / "lib" / name, sample_pages("nains", 2, 1), extra_members=extra)
    site.clear_log()
    options = TagOptions(locations=(str(path.parent),), workers=1)
    summary = run_tagging(settings, db, collect_items(settings, "folder", options.locations), options, client=client)
    db.close()
    (outcome,) = summary.outcomes
    return outcome, path


def test_the_site_lists_three_dated_editions(site) -> None:
    from bdnex_core.bedetheque.parse import parse_album_page

    page = parse_album_page(site.album_page(ORIGINAL), f"{SITE}BD-x-{ORIGINAL}.html")
    # the generated dates (fakesite._edition_year): the reprint of 2016 is the latest, not the highest id
    assert [(e.album_id, e.label.split(" ")[0]) for e in page.editions] == [
        (ORIGINAL, "02/1998"),
        (REPRINT, "05/2016"),
        (LIMITED, "08/2006"),
    ]


@pytest.mark.parametrize(
    ("name", "matching", "gtin", "expected"),
    [
        (f"{NAME}.cbz", {}, None, ORIGINAL),  # original, the default: the earliest dépôt légal
        (f"{NAME}.cbz", {"edition": "latest"}, None, REPRINT),  # 2016 is later than 2006
        (f"{NAME} (2006).cbz", {"edition": "latest"}, None, LIMITED),  # a year in the name first
        (f"{NAME}.cbz", {}, isbn13(REPRINT), REPRINT),  # the GTIN of the file's ComicInfo first of all
        (f"{NAME} {isbn13(LIMITED)}.cbz", {}, None, LIMITED),  # an ISBN in the name
    ],
)
def test_each_rule_tags_its_edition_with_that_editions_facts(
    site, tmp_path, database_location, name, matching, gtin, expected
) -> None:
    outcome, path = tag_one(site, tmp_path, database_location, name, gtin=gtin, **matching)
    assert outcome.state == "done" and outcome.album.album_id == expected, (outcome.reason, outcome.edition)
    info = comicinfo_of(path)
    page = site.album_page(expected).decode()
    # the chosen edition's own publisher, year and ISBN, as its page says
    assert info.get("Web").endswith(f"-{expected}.html")
    assert f"<span>{info.get('Publisher')}</span>" in page
    assert f"{info.get('Month').zfill(2)}/{info.get('Year')}" in page
    assert info.get("GTIN") == isbn13(expected).replace("-", "")
    # politeness, series first: one album page names the series, whose page gives every edition's ISBN,
    # date and publisher (the album cache then holds them all: no other edition's page is needed)
    requests = [request.path for request in site.requests()]
    pages = [path for path in requests if not path.startswith("/media/Couvertures/")]
    assert len(pages) == len(set(pages)) == 2, pages
    assert pages[0].startswith("/BD-") and pages[1].startswith("/serie-"), pages
    # matching.cover_check: doubt, and neither ISBN nor year in the name: each edition's cover once, to pick
    # the edition by its cover (the file's first page is none of them here: the policy picks)
    covers = [path for path in requests if path.startswith("/media/Couvertures/")]
    said = gtin or "978" in name or "(2006)" in name
    assert len(covers) == len(set(covers)) == (0 if said else 3), covers


def test_an_edition_the_cache_does_not_date_costs_the_album_pages_list_only(site, tmp_path, database_location) -> None:
    # the album cached as a series page gives it (no editions list), its other editions in no cache:
    # the album's own page dates them all, and no other edition's page is read
    from bdnex_core.bedetheque.editions import EditionFinder
    from bdnex_core.demo.fakesite import generated_album

    _settings, db, client, _config = env(site, tmp_path, database_location)
    entry = site.catalogue.albums[ORIGINAL]
    db.albums.put(generated_album(entry, site.catalogue.editions[ORIGINAL]))
    site.clear_log()
    choice, facts = EditionFinder(client, db).choose([ORIGINAL, REPRINT, LIMITED], first=ORIGINAL, policy="latest")
    db.close()
    assert (choice.album_id, choice.rule) == (REPRINT, "latest"), choice.reason
    assert [(fact.album_id, fact.legal_deposit) for fact in facts] == [
        (ORIGINAL, "1998-02"),
        (REPRINT, "2016-05"),
        (LIMITED, "2006-08"),
    ]
    pages = [request.path for request in site.requests()]
    assert pages and pages[0].endswith(f"-{ORIGINAL}.html"), pages
    assert not any(page.endswith((f"-{REPRINT}.html", f"-{LIMITED}.html")) for page in pages), pages


def test_ask_queues_the_album_and_the_prompt_lists_its_editions(site, tmp_path, database_location) -> None:
    outcome, path = tag_one(site, tmp_path, database_location, f"{NAME}.cbz", edition="ask")
    assert outcome.state == "waiting" and "3 editions" in outcome.reason, outcome.reason
    assert comicinfo_of(path) is None
    config = tmp_path / "config.yaml"
    child = spawn_cli(config, "review")
    child.expect(r"for help > ")
    shown = child.before
    assert "3 editions:" in shown
    for key, album_id in (("1a", ORIGINAL), ("1b", REPRINT), ("1c", LIMITED)):
        assert re.search(rf"\[{key}\] album {album_id}  \d\d/\d{{4}} ", shown), shown
    child.sendline("1c")
    child.expect(r"\? \[Y/n\]")  # an edition is a choice as any other: shown, then confirmed
    child.sendline("")
    child.expect("1 tagged")
    child.expect(r"\$|$")
    child.close()
    assert comicinfo_of(path).get("Web").endswith(f"-{LIMITED}.html")


def test_the_web_page_lists_the_editions_and_takes_one(site, tmp_path, database_location) -> None:
    from bdnex_core.web.app import create_app

    outcome, path = tag_one(site, tmp_path, database_location, f"{NAME}.cbz", edition="ask")
    settings = from_mapping(json.loads((tmp_path / "config.yaml").read_text()))
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080", follow_redirects=False) as web:
        page = web.get("/review").text
        assert "3 editions of this album" in page
        for album_id in (ORIGINAL, REPRINT, LIMITED):
            assert f'data-edition="{album_id}"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        entry = web.app.state.web.service.entries("waiting")[0]
        preview = f"/review/{entry.id}/preview?album={REPRINT}"
        assert f'action="/review/{entry.id}/preview"' in page and f'name="album" value="{REPRINT}"' in page
        answer = web.post(f"/review/{entry.id}/accept", data={"album_id": REPRINT, "csrf": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == preview  # confirmed first
        assert f"album {REPRINT}" in web.get(preview).text
        answer = web.post(f"/review/{entry.id}/accept", data={"album_id": REPRINT, "csrf": csrf, "confirmed": "1"})
        assert answer.status_code == 303 and answer.headers["location"] == "/review"
    assert comicinfo_of(path).get("Web").endswith(f"-{REPRINT}.html")


def test_tag_id_lists_the_editions_of_the_album(site, tmp_path, database_location, capsys) -> None:
    _settings, db, _client, config = env(site, tmp_path, database_location)
    db.close()
    path = write_cbz(tmp_path / "lib" / "whatever.cbz", sample_pages("nains", 2, 1))
    assert main(["--config", str(config), "tag", str(path), "--id", str(LIMITED)]) == 0
    out = capsys.readouterr().out
    assert "3 editions of this album" in out and f"{LIMITED}  08/2006 -1TL-" in out and "(this one)" in out
    assert comicinfo_of(path).get("Web").endswith(f"-{LIMITED}.html")


def test_the_index_groups_exactly_as_the_pure_edition_groups_do() -> None:
    # a persisted index stores the groups edition_groups gives per series: the in-memory index's
    from bdnex_core.demo.catalogue_generator import generate_catalogue

    entries = generate_catalogue(20_000, seed=8).entries
    index = CatalogueIndex.build(
        (e.album_id, e.url, e.series_norm, e.tome, e.tome_number, e.tome_kind, e.title_norm) for e in entries
    )
    by_series: dict[str, list] = {}
    for e in entries:
        by_series.setdefault(e.series_norm, []).append(e)
    groups = {
        frozenset(members[i].album_id for i in group)
        for members in by_series.values()
        for group in edition_groups([(i, e.tome_kind, e.tome, e.title_norm) for i, e in enumerate(members)])
    }
    found = {frozenset({index.album(p).album_id, *index.album(p).editions}) for p in range(len(index))}
    assert {group for group in found if len(group) > 1} == groups and len(groups) > 500
