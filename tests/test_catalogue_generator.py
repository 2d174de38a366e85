"""The generated Bédéthèque-sized catalogue: deterministic, read back from its own sitemaps as the
catalogue reads the site's, and holding every family of neighbours the real site has."""

from __future__ import annotations

import collections

import pytest

from bdnex_core.bedetheque.sitemaps import iter_album_entries, parse_album_url
from bdnex_core.demo.catalogue_generator import builtin_vocabulary, generate_catalogue, real_vocabulary

FAMILIES = {"base", "reedition", "language", "collection", "spinoff", "reboot", "integrale", "oneshot"}


@pytest.fixture(scope="module")
def catalogue():
    return generate_catalogue(40_000, seed=3)


def test_the_same_seed_gives_the_same_catalogue_and_another_seed_another(catalogue) -> None:
    again = generate_catalogue(40_000, seed=3)
    assert [entry.url for entry in again.entries] == [entry.url for entry in catalogue.entries]
    other = generate_catalogue(40_000, seed=4)
    assert [entry.url for entry in other.entries[:50]] != [entry.url for entry in catalogue.entries[:50]]


def test_size_ids_and_urls_are_those_of_the_site(catalogue) -> None:
    entries = catalogue.entries
    assert len(entries) == 40_000 == len({entry.album_id for entry in entries})
    assert [entry.album_id for entry in entries] == sorted(entry.album_id for entry in entries)
    for entry in entries[::97]:
        assert parse_album_url(entry.url, entry.lastmod) == entry
        assert entry.url.startswith("https://www.bedetheque.com/BD-") and entry.url.endswith(f"-{entry.album_id}.html")


def test_every_neighbour_family_is_there_in_plausible_shares(catalogue) -> None:
    shares = collections.Counter(catalogue.family.values())
    assert set(shares) == FAMILIES
    assert 0.10 <= shares["oneshot"] / 40_000 <= 0.20
    assert shares["base"] > sum(count for family, count in shares.items() if family != "base")
    series = catalogue.series_of_family
    assert any(name.endswith("-en-espagnol") for name in series["language"])
    assert any(name.endswith("-en-langues-etrangeres") for name in series["language"])
    assert any("collection-Hachette" in name or "Collection-Atlas" in name for name in series["collection"])
    assert any(name.startswith("Les-mondes-de-") or name.endswith("Origines") for name in series["spinoff"])
    tomes = [entry.tome or "" for entry in catalogue.entries if catalogue.family[entry.album_id] == "language"]
    assert any(tome.endswith(("Grec", "Hongrois", "Serbe", "Pub")) for tome in tomes)


def test_a_reedition_is_the_same_album_under_another_id(catalogue) -> None:
    by_id = {entry.album_id: entry for entry in catalogue.entries}
    reeditions = [by_id[album_id] for album_id, family in catalogue.family.items() if family == "reedition"]
    assert len(reeditions) > 500
    same_slug = 0
    for entry in reeditions:
        original = by_id[catalogue.work[entry.album_id]]
        assert original.album_id != entry.album_id and catalogue.work[original.album_id] == original.album_id
        assert (original.series_slug, original.title_slug, original.tome_number) == (
            entry.series_slug,
            entry.title_slug,
            entry.tome_number,
        )
        same_slug += original.tome == entry.tome
    assert same_slug > 50  # "Tokyo tribe 2 - 5": both Tokyo-tribe-2-Tome-5


def test_sitemap_files_read_back_as_the_same_entries(catalogue, tmp_path) -> None:
    files = catalogue.write_sitemaps(tmp_path)
    read = [entry for path in files for entry in iter_album_entries(str(path))]
    assert read == catalogue.entries
    # as the site's: one file per 10,000 ids, about 5,000-6,500 albums in each full one
    counts = [sum(1 for _ in iter_album_entries(str(path))) for path in files[:-1]]
    assert all(4_500 <= count <= 7_000 for count in counts), counts
    assert files[0].name == "albums_1_10000_map.xml"


def test_the_builtin_vocabulary_needs_nothing_beside_the_clone() -> None:
    vocabulary = builtin_vocabulary()
    assert vocabulary.real_entries == () and len(vocabulary.series_words) > 500


@pytest.mark.shared
def test_the_real_albums_are_kept_with_their_ids_and_series_completed(bedetheque_fixtures) -> None:
    sitemaps = sorted((bedetheque_fixtures / "sitemaps").glob("albums_*_map.xml"))
    vocabulary = real_vocabulary(sitemaps)
    catalogue = generate_catalogue(120_000, seed=5, vocabulary=vocabulary)
    by_id = {entry.album_id: entry for entry in catalogue.entries}
    assert all(by_id[entry.album_id] == entry for entry in vocabulary.real_entries)
    nains = sorted(entry.tome for entry in catalogue.entries if entry.series_slug == "Nains" and entry.tome)
    assert {"1", "2", "3"} <= set(nains)  # tomes 1 and 2 are real, 3 is generated


def test_catalogue_update_from_the_written_files_then_identify(catalogue, tmp_path, capsys) -> None:
    import json

    from bdnex_core.cli import main

    files = catalogue.write_sitemaps(tmp_path / "sitemaps")
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"database": {"path": str(tmp_path / "bdnex.db")}, "cache": {"dir": str(tmp_path)}}))
    assert main(["--config", str(config), "catalogue", "update", "--json", *map(str, files)]) == 0
    assert json.loads(capsys.readouterr().out)["albums_in_index"] == len(catalogue.entries)
    # a re-edition's name finds its album, one candidate with its editions
    by_id = {entry.album_id: entry for entry in catalogue.entries}
    reedition, original = next(
        (album_id, by_id[catalogue.work[album_id]])
        for album_id, family in sorted(catalogue.family.items())
        if family == "reedition" and (by_id[catalogue.work[album_id]].tome or "").isdigit()
    )
    name = (
        f"{original.series_slug.replace('-', ' ')} - T{original.tome_number} - {original.title_slug.replace('-', ' ')}"
    )
    assert main(["--config", str(config), "identify", "--json", name]) == 0
    found = json.loads(capsys.readouterr().out)
    ids = {found["album_id"], *found["candidates"][0]["editions"]}
    assert found["decision"] == "accept" and {original.album_id, reedition} <= ids, found
