"""What a BD album carries for Kavita (see the README, "Tomes"): ``Number`` = the tome, no ``Volume``.

The stand-in's parser follows Kavita's: its own test cases (API.Tests/Parsing/ComicParsingTests.cs)
for French names come first, then a series tagged by bdnex-core is read back through the API
the adapter uses: one series, its albums in tome order, whether the files say ``T01`` or not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from kavita_env import make_cbz
from kavita_standin.parser import DEFAULT_CHAPTER, LOOSE_LEAF_VOLUME, min_number, parse_name
from kavita_standin.server import ADMIN_KEY, KavitaStandIn


@pytest.mark.parametrize(
    ("name", "series", "volume", "chapter"),
    [
        # Kavita's own expectations (ComicParsingTests: series, volume and chapter theories)
        (
            "Chevaliers d'Héliopolis T3 - Rubedo, l'oeuvre au rouge (Jodorowsky & Jérémy)",
            "Chevaliers d'Héliopolis",
            "3",
            DEFAULT_CHAPTER,
        ),
        ("Tintin - T22 Vol 714 pour Sydney", "Tintin", "22", DEFAULT_CHAPTER),
        ("Conquistador_-Tome_2", "Conquistador", "2", DEFAULT_CHAPTER),
        ("Max_l_explorateur-_Tome_0", "Max l explorateur", "0", DEFAULT_CHAPTER),
        ("Daredevil - t6 - 10 - (2019)", "Daredevil", "6", "10"),
        ("Babe 01", "Babe", LOOSE_LEAF_VOLUME, "1"),
        ("Scott Pilgrim 01 - Scott Pilgrim's Precious Little Life (2004)", "Scott Pilgrim", LOOSE_LEAF_VOLUME, "1"),
    ],
)
def test_file_names_are_read_as_kavita_reads_them(name: str, series: str, volume: str, chapter: str) -> None:
    assert parse_name(name) == (series, volume, chapter)


def test_numbers_kavita_cannot_read_sort_first() -> None:
    assert [min_number(number) for number in ("1", "10", "2.5", "1-3", "1a", "HS2")] == [1, 10, 2.5, 1, 0, 0]


def _volumes(kavita: KavitaStandIn, series_id: int) -> list[dict]:
    token = requests.post(
        f"{kavita.url}/api/Plugin/authenticate", params={"apiKey": ADMIN_KEY, "pluginName": "t"}, timeout=10
    ).json()["token"]
    return requests.get(
        f"{kavita.url}/api/Series/volumes",
        params={"seriesId": series_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()


def _album(folder: Path, name: str, tome: int) -> None:
    # what bdnex-core writes: Series and Number (the tome), Count, one Web link; no Volume
    make_cbz(
        folder / "Les Nains" / f"{name}.cbz",
        comicinfo={
            "Title": f"Album {tome}",
            "Series": "Nains",
            "Number": tome,
            "Count": 23,
            "Web": f"https://www.bedetheque.com/BD-Nains-Tome-{tome}-Album-{1000 + tome}.html",
        },
    )


@pytest.mark.parametrize("style", ["Nains T{tome:02d} - Album {tome}", "Nains - {tome} - Album {tome}", "Album {tome}"])
def test_a_tagged_series_is_one_series_in_tome_order(tmp_path: Path, kavita: KavitaStandIn, style: str) -> None:
    folder = tmp_path / "bd"
    for tome in (10, 2, 1, 3):
        _album(folder, style.format(tome=tome), tome)
    library = kavita.add_library("BD", folder, "/comics/BD")
    kavita.scan_library(library)
    assert [series.name for series in kavita.series.values()] == ["Nains"], "one series, named by ComicInfo's Series"
    volumes = _volumes(kavita, kavita.series_named("Nains").id)
    chapters = [chapter for volume in volumes for chapter in volume["chapters"]]
    assert [chapter["titleName"] for chapter in chapters] == ["Album 1", "Album 2", "Album 3", "Album 10"]
    assert [chapter["minNumber"] for chapter in chapters] == [1, 2, 3, 10]
    assert not any(chapter["isSpecial"] for chapter in chapters)
    assert all(chapter["totalCount"] == 23 for chapter in chapters)
    assert all("," not in chapter["webLinks"] for chapter in chapters), "one link: Kavita splits on commas"


def test_mixed_names_split_a_series_into_volumes_and_loose_issues(tmp_path: Path, kavita: KavitaStandIn) -> None:
    """Why the README asks for one naming style per series: ``T01`` makes a volume, a bare number an issue,
    and Kavita lists loose issues before volumes."""
    folder = tmp_path / "bd"
    _album(folder, "Nains T01", 1)
    _album(folder, "Nains 02", 2)
    library = kavita.add_library("BD", folder, "/comics/BD")
    kavita.scan_library(library)
    volumes = _volumes(kavita, kavita.series_named("Nains").id)
    assert [(volume["name"], [c["titleName"] for c in volume["chapters"]]) for volume in volumes] == [
        (LOOSE_LEAF_VOLUME, ["Album 2"]),
        ("1", ["Album 1"]),
    ]
