"""French collector-style file names through the real ComicTagger and the talker, with the README's options."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from comictagger_harness import Runner, comicinfo, make_cbz
from demo_names import RECOMMENDED, measure

from bdnex_core.demo.fakesite import FakeBedetheque
from bdnex_testing.shared import fake_bedetheque


@pytest.fixture(scope="module")
def names_site(
    bedetheque_fixtures: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeBedetheque, Path]]:
    """One site and one talker database for the collector names, as a user's runs share theirs: the
    first ComicTagger run fills the database from the site's sitemaps (10 s of each run otherwise),
    each run still searches it for its own name with its own options and its own ComicTagger settings."""
    with fake_bedetheque() as site:
        yield site, tmp_path_factory.mktemp("talker") / "bdnex.db"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "album_id", "options"),
    [
        # the README's own example: ComicTagger's default parser finds no issue number in it
        ("Nains 01 - Redwin de la Forge.cbz", 245127, ("--filename-parser", "complicated")),
        # a tome word and a ".pdf" the parser leaves in the series and the number
        ("Kamisama Dolls Tome 10.pdf.cbz", 258202, ("--filename-parser", "complicated")),
        ("Kokoro.Button.Tome.2 [FR].pdf.cbz", 258659, ("--filename-parser", "complicated")),
        # a year in the name, the series on Bédéthèque with its edition year
        ("All Star Western 2011 Tome 18 Frozen City.pdf.cbz", 244997, ("--filename-parser", "complicated")),
        # the album's title only, in a folder named after the series, then with that folder as a hint
        ("01 - Redwin de la Forge.cbz", 245127, ("--filename-parser", "comicfn2dict")),
        ("T68 - Numero 68.CBZ", 255460, ("--filename-parser", "comicfn2dict", "-m", "series: 'Nevada Lug'")),
    ],
)
def test_collector_names_with_the_readme_options(
    comictagger: Path, names_site, tmp_path: Path, name: str, album_id: int, options: tuple[str, ...]
) -> None:
    site, database = names_site
    runner = Runner(comictagger, tmp_path, site, database=database)
    path = make_cbz(tmp_path / name, runner.site.cover(album_id), pages=2)
    result = runner.run(*options, "-s", "-o", "-f", "--tags-write", "cr", "-t", "cr", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"-{album_id}.html</Web>" in comicinfo(path), result.stdout


@pytest.mark.slow
def test_share_of_demo_names_tagged(comictagger: Path, tmp_path: Path) -> None:
    """``bdnex-core demo``'s 26 names with the README's passes: 25 tagged right, none wrong (before the
    talker's marker-free queries and aliases: 23; with ComicTagger's default parser: 9)."""
    from bdnex_core.demo.fakesite import FakeBedetheque

    with FakeBedetheque() as site:  # the demo's own site and catalogue
        results = measure(Runner(comictagger, tmp_path, site), tmp_path / "files", RECOMMENDED)
    wrong = [result for result in results if result.tagged_as and not result.right]
    assert wrong == []
    assert sum(result.right for result in results) >= 25, [r.name for r in results if not r.right]
